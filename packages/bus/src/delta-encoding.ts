/**
 * The delta batch encoding of docs/formats.md, written in TypeScript so that
 * many deltas cross napi as one buffer. The Rust decoder checks every byte;
 * this side checks the JavaScript types it reads.
 *
 *   batch := "MDB1" | count u32 | delta × count
 *   delta := page_id u64 | kind u8 | source u8 | flags u8 | 0 u8
 *            | expect_epoch u64 (flags bit 0) | body
 *   body  := dense: len u32 | bytes
 *          | sparse: mask_len u32 | mask | packed_len u32 | packed
 *          | ranges: count u32 | (offset u32 | len u32 | bytes) × count
 */
import { ErrorCode, MmsbError } from './errors.js';
import type { Delta, DeltaSource } from './types.js';
import { checkArray, checkBytes, checkInteger, checkObject } from './validate.js';

const KIND_DENSE = 1;
const KIND_SPARSE = 2;
const KIND_RANGES = 3;
const FLAG_EXPECT_EPOCH = 1;
const U32_MAX = 0xffff_ffff;

export const sourceCodes: Readonly<Record<DeltaSource, number>> = { user: 0, propagation: 1, bridge: 2 };

export function sourceCode(source: unknown): number {
  if (source === undefined) return 0;
  const code = typeof source === 'string' ? sourceCodes[source as DeltaSource] : undefined;
  if (code === undefined) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `delta source must be "user", "propagation" or "bridge", got ${String(source)}`);
  }
  return code;
}

function checkLength(bytes: Uint8Array, what: string): void {
  if (bytes.length > U32_MAX) throw new MmsbError(ErrorCode.DELTA_SIZE_MISMATCH, `${what} of ${bytes.length} bytes exceeds 2^32 - 1`);
}

/** Checks a delta's JavaScript shape and returns its encoded size. */
function encodedSize(delta: Delta, index: number): number {
  const what = `delta ${index}`;
  checkObject(delta, what);
  checkInteger(delta.pageId, `${what} pageId`);
  if (delta.expectEpoch !== undefined) checkInteger(delta.expectEpoch, `${what} expectEpoch`);
  sourceCode(delta.source);
  checkObject(delta.payload, `${what} payload`);
  const head = 12 + (delta.expectEpoch === undefined ? 0 : 8);
  const payload = delta.payload;
  switch (payload.kind) {
    case 'dense':
      checkBytes(payload.bytes, `${what} bytes`);
      checkLength(payload.bytes, `${what} bytes`);
      return head + 4 + payload.bytes.length;
    case 'sparse':
      checkBytes(payload.mask, `${what} mask`);
      checkBytes(payload.bytes, `${what} bytes`);
      checkLength(payload.mask, `${what} mask`);
      checkLength(payload.bytes, `${what} bytes`);
      return head + 8 + payload.mask.length + payload.bytes.length;
    case 'ranges': {
      checkArray(payload.ranges, `${what} ranges`);
      let size = head + 4;
      payload.ranges.forEach((range, rangeIndex) => {
        checkObject(range, `${what} range ${rangeIndex}`);
        checkInteger(range.offset, `${what} range ${rangeIndex} offset`);
        checkBytes(range.bytes, `${what} range ${rangeIndex} bytes`);
        if (range.offset > U32_MAX) {
          throw new MmsbError(ErrorCode.RANGE_OUT_OF_BOUNDS, `${what} range ${rangeIndex} offset ${range.offset} exceeds 2^32 - 1`);
        }
        checkLength(range.bytes, `${what} range ${rangeIndex} bytes`);
        size += 8 + range.bytes.length;
      });
      return size;
    }
    default:
      throw new MmsbError(
        ErrorCode.INVALID_ARGUMENT,
        `${what} payload kind must be "dense", "sparse" or "ranges", got ${String((payload as { kind?: unknown }).kind)}`,
      );
  }
}

/** Encodes deltas as one batch buffer. */
export function encodeBatch(deltas: readonly Delta[]): Uint8Array {
  checkArray(deltas, 'deltas');
  let total = 8;
  for (let index = 0; index < deltas.length; index++) total += encodedSize(deltas[index]!, index);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set([0x4d, 0x44, 0x42, 0x31]);
  view.setUint32(4, deltas.length, true);
  let cursor = 8;
  // Two u32 halves: exact for safe integers and far cheaper than BigInt.
  const putU64 = (value: number): void => {
    view.setUint32(cursor, value >>> 0, true);
    view.setUint32(cursor + 4, Math.floor(value / 0x1_0000_0000), true);
  };
  const putBytes = (bytes: Uint8Array): void => {
    view.setUint32(cursor, bytes.length, true);
    out.set(bytes, cursor + 4);
    cursor += 4 + bytes.length;
  };
  for (const delta of deltas) {
    const payload = delta.payload;
    putU64(delta.pageId);
    const kind = payload.kind === 'dense' ? KIND_DENSE : payload.kind === 'sparse' ? KIND_SPARSE : KIND_RANGES;
    out[cursor + 8] = kind;
    out[cursor + 9] = sourceCode(delta.source);
    out[cursor + 10] = delta.expectEpoch === undefined ? 0 : FLAG_EXPECT_EPOCH;
    cursor += 12;
    if (delta.expectEpoch !== undefined) {
      putU64(delta.expectEpoch);
      cursor += 8;
    }
    switch (payload.kind) {
      case 'dense':
        putBytes(payload.bytes);
        break;
      case 'sparse':
        putBytes(payload.mask);
        putBytes(payload.bytes);
        break;
      case 'ranges':
        view.setUint32(cursor, payload.ranges.length, true);
        cursor += 4;
        for (const range of payload.ranges) {
          view.setUint32(cursor, range.offset, true);
          cursor += 4;
          putBytes(range.bytes);
        }
        break;
    }
  }
  return out;
}
