/**
 * Packed messages (docs/protocol.md, "Packed messages"): one ZeroMQ message
 * carrying the bodies of several requests, or of their responses, as a
 * msgpack array of binaries. Packing amortises ZeroMQ's per-message cost
 * over the requests a client issues together; each member is still the
 * exact body it would be alone.
 */
import { ErrorCode, MmsbError } from '@mmsb/bus';

/** Bytes of the array header and one binary header at most: what packing adds to a member beyond its own bytes. */
const ARRAY_HEAD = 5;
const BINARY_HEAD = 5;

/** Whether `body` is a msgpack array, which is a packed message (a plain request is a map). */
export function isPacked(body: Uint8Array): boolean {
  const tag = body[0];
  return tag !== undefined && ((tag >= 0x90 && tag <= 0x9f) || tag === 0xdc || tag === 0xdd);
}

function malformed(message: string): MmsbError {
  return new MmsbError(ErrorCode.MALFORMED_REQUEST, `a packed message must be an array of binaries: ${message}`);
}

/**
 * The members of a packed message: views of `body`, in order. Checks the
 * shape only (1 to `maxMembers` binaries, nothing after them), before
 * anything is allocated for them; each member is decoded on its own later.
 */
export function unpack(body: Uint8Array, maxMembers: number): Uint8Array[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let offset = 1;
  const need = (count: number): void => {
    if (count > body.length - offset) throw malformed(`it ends at byte ${body.length}, inside a header or a member`);
  };
  const tag = body[0]!;
  let count: number;
  if (tag === 0xdc) {
    need(2);
    count = view.getUint16(offset);
    offset += 2;
  } else if (tag === 0xdd) {
    need(4);
    count = view.getUint32(offset);
    offset += 4;
  } else {
    count = tag & 0x0f;
  }
  if (count === 0) throw malformed('this one is empty');
  if (count > maxMembers) {
    throw new MmsbError(ErrorCode.BATCH_TOO_LARGE, `a packed message of ${count} requests; one holds at most ${maxMembers}`);
  }
  const members: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    need(1);
    const head = body[offset++]!;
    let length: number;
    if (head === 0xc4) {
      need(1);
      length = body[offset++]!;
    } else if (head === 0xc5) {
      need(2);
      length = view.getUint16(offset);
      offset += 2;
    } else if (head === 0xc6) {
      need(4);
      length = view.getUint32(offset);
      offset += 4;
    } else {
      throw malformed(`member ${index} is not a binary (byte 0x${head.toString(16)})`);
    }
    need(length);
    members.push(body.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== body.length) throw malformed(`${body.length - offset} bytes follow its last member`);
  return members;
}

/** One packed message of `bodies`. */
export function pack(bodies: readonly Uint8Array[]): Uint8Array {
  let size = ARRAY_HEAD;
  for (const body of bodies) size += BINARY_HEAD + body.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let offset = 0;
  const count = bodies.length;
  if (count < 16) out[offset++] = 0x90 | count;
  else if (count < 0x10000) {
    out[offset++] = 0xdc;
    view.setUint16(offset, count);
    offset += 2;
  } else {
    out[offset++] = 0xdd;
    view.setUint32(offset, count);
    offset += 4;
  }
  for (const body of bodies) {
    if (body.length < 0x100) {
      out[offset++] = 0xc4;
      out[offset++] = body.length;
    } else if (body.length < 0x10000) {
      out[offset++] = 0xc5;
      view.setUint16(offset, body.length);
      offset += 2;
    } else {
      out[offset++] = 0xc6;
      view.setUint32(offset, body.length);
      offset += 4;
    }
    out.set(body, offset);
    offset += body.length;
  }
  return out.subarray(0, offset);
}

/**
 * `bodies` as the messages to send, in order: runs of at most `maxMembers`
 * bodies whose sum stays within `maxBytes` packed together. A run of one
 * body is sent as itself unless `packAlone` (a response to a packed
 * request is always packed).
 */
export function packRuns(bodies: readonly Uint8Array[], maxMembers: number, maxBytes: number, packAlone: boolean): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let start = 0;
  let bytes = ARRAY_HEAD;
  const close = (end: number): void => {
    if (end > start) messages.push(end - start === 1 && !packAlone ? bodies[start]! : pack(bodies.slice(start, end)));
    start = end;
    bytes = ARRAY_HEAD;
  };
  for (let index = 0; index < bodies.length; index++) {
    const size = BINARY_HEAD + bodies[index]!.length;
    if (index - start === maxMembers || (index > start && bytes + size > maxBytes)) close(index);
    bytes += size;
  }
  close(bodies.length);
  return messages;
}
