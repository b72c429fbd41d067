/**
 * msgpack in plain types only, as protocol v1 requires, both ways and our
 * own. Encoding: ids are always `uint 64` and integers stay integers
 * (msgpackr writes a small BigInt as `int 64` and integers above 2^32 as
 * `float 64`). Decoding (`decode.ts`) refuses what is not plain msgpack.
 */

/** An id written as msgpack `uint 64` whatever its value. */
export class U64 {
  readonly value: bigint;

  constructor(value: bigint | number) {
    this.value = BigInt(value);
    if (this.value < 0n || this.value >= 1n << 64n) throw new RangeError(`${value} is not an unsigned 64-bit integer`);
  }
}

/** What `encode` accepts. */
export type Encodable =
  null | undefined | boolean | number | bigint | string | Uint8Array | U64 | readonly Encodable[] | { readonly [key: string]: Encodable };

const textEncoder = new TextEncoder();

class Writer {
  buffer = new Uint8Array(256);
  view = new DataView(this.buffer.buffer);
  length = 0;

  /** Gives back the memory a large message grew the buffer to. */
  reset(): void {
    this.buffer = new Uint8Array(256);
    this.view = new DataView(this.buffer.buffer);
  }

  reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  head(tag: number, size: number, value: number): void {
    this.reserve(1 + size);
    this.buffer[this.length++] = tag;
    if (size === 1) this.view.setUint8(this.length, value);
    else if (size === 2) this.view.setUint16(this.length, value);
    else this.view.setUint32(this.length, value);
    this.length += size;
  }

  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }
}

function writeUint(out: Writer, value: bigint): void {
  out.reserve(9);
  out.buffer[out.length++] = 0xcf;
  out.view.setBigUint64(out.length, value);
  out.length += 8;
}

function writeInteger(out: Writer, value: number): void {
  if (value >= 0) {
    if (value < 0x80) out.byte(value);
    else if (value < 0x100) out.head(0xcc, 1, value);
    else if (value < 0x10000) out.head(0xcd, 2, value);
    else if (value < 0x100000000) out.head(0xce, 4, value);
    else writeUint(out, BigInt(value));
    return;
  }
  if (value >= -32) out.byte(value & 0xff);
  else if (value >= -0x80) out.head(0xd0, 1, value & 0xff);
  else if (value >= -0x8000) out.head(0xd1, 2, value & 0xffff);
  else if (value >= -0x80000000) out.head(0xd2, 4, value >>> 0);
  else {
    out.reserve(9);
    out.buffer[out.length++] = 0xd3;
    out.view.setBigInt64(out.length, BigInt(value));
    out.length += 8;
  }
}

function writeString(out: Writer, value: string): void {
  // Keys and names are short ASCII: written directly, without an encoder call (undone at the first other character).
  if (value.length < 32) {
    out.reserve(1 + value.length);
    const start = out.length;
    out.buffer[out.length++] = 0xa0 | value.length;
    let index = 0;
    for (; index < value.length; index++) {
      const code = value.charCodeAt(index);
      if (code > 0x7f) break;
      out.buffer[out.length++] = code;
    }
    if (index === value.length) return;
    out.length = start;
  }
  const utf8 = textEncoder.encode(value);
  if (utf8.length < 32) out.byte(0xa0 | utf8.length);
  else if (utf8.length < 0x100) out.head(0xd9, 1, utf8.length);
  else if (utf8.length < 0x10000) out.head(0xda, 2, utf8.length);
  else out.head(0xdb, 4, utf8.length);
  out.bytes(utf8);
}

function writeLength(out: Writer, fix: number, tag16: number, length: number): void {
  if (length < 16) out.byte(fix | length);
  else if (length < 0x10000) out.head(tag16, 2, length);
  else out.head(tag16 + 1, 4, length);
}

function write(out: Writer, value: Encodable): void {
  if (value === null || value === undefined) out.byte(0xc0);
  else if (value === true) out.byte(0xc3);
  else if (value === false) out.byte(0xc2);
  else if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) writeInteger(out, value);
    else {
      out.reserve(9);
      out.buffer[out.length++] = 0xcb;
      out.view.setFloat64(out.length, value);
      out.length += 8;
    }
  } else if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << 64n) throw new RangeError(`${value} is not an unsigned 64-bit integer`);
    writeUint(out, value);
  } else if (typeof value === 'string') writeString(out, value);
  else if (value instanceof U64) writeUint(out, value.value);
  else if (value instanceof Uint8Array) {
    if (value.length < 0x100) out.head(0xc4, 1, value.length);
    else if (value.length < 0x10000) out.head(0xc5, 2, value.length);
    else out.head(0xc6, 4, value.length);
    out.bytes(value);
  } else if (Array.isArray(value)) {
    writeLength(out, 0x90, 0xdc, value.length);
    for (const item of value as readonly Encodable[]) write(out, item);
  } else {
    const object = value as { readonly [key: string]: Encodable };
    const keys = Object.keys(object);
    writeLength(out, 0x80, 0xde, defined(object, keys));
    writeEntries(out, object, keys);
  }
}

/** How many of `keys` have a value in `object` (`undefined` entries are left out). */
function defined(object: { readonly [key: string]: Encodable }, keys: readonly string[]): number {
  let count = 0;
  for (const key of keys) if (object[key] !== undefined) count++;
  return count;
}

function writeEntries(out: Writer, object: { readonly [key: string]: Encodable }, keys: readonly string[]): void {
  for (const key of keys) {
    const item = object[key];
    if (item === undefined) continue;
    writeString(out, key);
    write(out, item);
  }
}

/** An id below 2^53 as `uint 64`, without going through a BigInt. */
function writeId(out: Writer, value: number | bigint): void {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << 64n) throw new RangeError(`${value} is not an unsigned 64-bit integer`);
    return writeUint(out, value);
  }
  out.reserve(9);
  out.buffer[out.length++] = 0xcf;
  out.view.setUint32(out.length, Math.floor(value / 2 ** 32));
  out.view.setUint32(out.length + 4, value >>> 0);
  out.length += 8;
}

/** One writer for every message: its buffer only grows, and each result is copied out of it. */
const scratch = new Writer();

function finish(): Uint8Array {
  const result = scratch.buffer.slice(0, scratch.length);
  if (scratch.buffer.length > 1 << 20) scratch.reset();
  return result;
}

/** Encodes one value in plain msgpack; `undefined` map entries are left out. */
export function encode(value: Encodable): Uint8Array {
  scratch.length = 0;
  write(scratch, value);
  return finish();
}

type Entries = { readonly [key: string]: Encodable };

/**
 * The request envelope `{v, rid, op, ...args, release?}`, the same bytes as
 * `encode` of that object, without building it (one per request). `rid`
 * is an unsigned integer below 2^53 or a BigInt below 2^64.
 */
export function encodeRequest(version: number, rid: number | bigint, op: string, args: Entries, release?: readonly bigint[]): Uint8Array {
  const keys = Object.keys(args);
  scratch.length = 0;
  writeLength(scratch, 0x80, 0xde, 3 + defined(args, keys) + (release === undefined ? 0 : 1));
  writeString(scratch, 'v');
  writeInteger(scratch, version);
  writeString(scratch, 'rid');
  writeId(scratch, rid);
  writeString(scratch, 'op');
  writeString(scratch, op);
  writeEntries(scratch, args, keys);
  if (release !== undefined) {
    writeString(scratch, 'release');
    writeLength(scratch, 0x90, 0xdc, release.length);
    for (const handle of release) writeId(scratch, handle);
  }
  return finish();
}

/** The success envelope `{v, rid, ok: true, ...result}`, the same bytes as `encode` of that object. */
export function encodeSuccess(version: number, rid: number | bigint, result: Entries): Uint8Array {
  const keys = Object.keys(result);
  scratch.length = 0;
  writeLength(scratch, 0x80, 0xde, 3 + defined(result, keys));
  writeString(scratch, 'v');
  writeInteger(scratch, version);
  writeString(scratch, 'rid');
  writeId(scratch, rid);
  writeString(scratch, 'ok');
  scratch.byte(0xc3);
  writeEntries(scratch, result, keys);
  return finish();
}
