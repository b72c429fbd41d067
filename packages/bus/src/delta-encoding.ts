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
import type { Delta, DeltaSource, RangeWrite } from './types.js';
import { checkArray, checkBytes, checkInteger, checkObject } from './validate.js';

const KIND_DENSE = 1;
const KIND_SPARSE = 2;
const KIND_RANGES = 3;
const FLAG_EXPECT_EPOCH = 1;
const U32_MAX = 0xffff_ffff;
const SHORT_COPY_BYTES = 64;

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

const isOffset = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= U32_MAX;
const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array && value.length <= U32_MAX;

/**
 * Returns a delta's encoded size. The checks here are cheap and build no
 * strings, because batches run them per delta and per range; when one fails,
 * `explainInvalid` runs the full checks to throw the precise error.
 */
function encodedSize(delta: Delta, index: number): number {
  if (typeof delta !== 'object' || delta === null || !isId(delta.pageId)) return explainInvalid(delta, index);
  if (delta.expectEpoch !== undefined && !isId(delta.expectEpoch)) return explainInvalid(delta, index);
  if (delta.source !== undefined && !(typeof delta.source === 'string' && Object.hasOwn(sourceCodes, delta.source))) {
    return explainInvalid(delta, index);
  }
  const payload = delta.payload;
  if (typeof payload !== 'object' || payload === null) return explainInvalid(delta, index);
  const head = 12 + (delta.expectEpoch === undefined ? 0 : 8);
  switch (payload.kind) {
    case 'dense':
      return isBytes(payload.bytes) ? head + 4 + payload.bytes.length : explainInvalid(delta, index);
    case 'sparse':
      return isBytes(payload.mask) && isBytes(payload.bytes)
        ? head + 8 + payload.mask.length + payload.bytes.length
        : explainInvalid(delta, index);
    case 'ranges': {
      const writes = payload.ranges;
      if (!Array.isArray(writes)) return explainInvalid(delta, index);
      let size = head + 4;
      for (let rangeIndex = 0; rangeIndex < writes.length; rangeIndex++) {
        const range = writes[rangeIndex] as RangeWrite | null;
        if (typeof range !== 'object' || range === null || !isOffset(range.offset) || !isBytes(range.bytes)) {
          return explainInvalid(delta, index);
        }
        size += 8 + range.bytes.length;
      }
      return size;
    }
    default:
      return explainInvalid(delta, index);
  }
}

/** Throws the precise error for a delta that failed the cheap checks. */
function explainInvalid(delta: Delta, index: number): never {
  const what = `delta ${index}`;
  checkObject(delta, what);
  checkInteger(delta.pageId, `${what} pageId`);
  if (delta.expectEpoch !== undefined) checkInteger(delta.expectEpoch, `${what} expectEpoch`);
  sourceCode(delta.source);
  checkObject(delta.payload, `${what} payload`);
  const payload = delta.payload;
  switch (payload.kind) {
    case 'dense':
      checkBytes(payload.bytes, `${what} bytes`);
      checkLength(payload.bytes, `${what} bytes`);
      break;
    case 'sparse':
      checkBytes(payload.mask, `${what} mask`);
      checkBytes(payload.bytes, `${what} bytes`);
      checkLength(payload.mask, `${what} mask`);
      checkLength(payload.bytes, `${what} bytes`);
      break;
    case 'ranges':
      checkArray(payload.ranges, `${what} ranges`);
      payload.ranges.forEach((range, rangeIndex) => {
        checkObject(range, `${what} range ${rangeIndex}`);
        checkInteger(range.offset, `${what} range ${rangeIndex} offset`);
        checkBytes(range.bytes, `${what} range ${rangeIndex} bytes`);
        if (range.offset > U32_MAX) {
          throw new MmsbError(ErrorCode.RANGE_OUT_OF_BOUNDS, `${what} range ${rangeIndex} offset ${range.offset} exceeds 2^32 - 1`);
        }
        checkLength(range.bytes, `${what} range ${rangeIndex} bytes`);
      });
      break;
    default:
      throw new MmsbError(
        ErrorCode.INVALID_ARGUMENT,
        `${what} payload kind must be "dense", "sparse" or "ranges", got ${String((payload as { kind?: unknown }).kind)}`,
      );
  }
  throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${what} is malformed`);
}

/** Writes `value` (a safe integer) as u64 in two u32 halves: exact, and far cheaper than BigInt. */
function putU64(view: DataView, cursor: number, value: number): void {
  view.setUint32(cursor, value >>> 0, true);
  view.setUint32(cursor + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** Writes `len u32 | bytes` at `cursor`; returns the cursor after it. */
function putBytes(out: Uint8Array, view: DataView, cursor: number, bytes: Uint8Array): number {
  const length = bytes.length;
  view.setUint32(cursor, length, true);
  cursor += 4;
  // TypedArray#set has a fixed cost that dwarfs a short copy.
  if (length < SHORT_COPY_BYTES) {
    for (let index = 0; index < length; index++) out[cursor + index] = bytes[index]!;
  } else {
    out.set(bytes, cursor);
  }
  return cursor + length;
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
  for (let index = 0; index < deltas.length; index++) {
    const delta = deltas[index]!;
    const payload = delta.payload;
    putU64(view, cursor, delta.pageId);
    out[cursor + 8] = payload.kind === 'dense' ? KIND_DENSE : payload.kind === 'sparse' ? KIND_SPARSE : KIND_RANGES;
    out[cursor + 9] = delta.source === undefined ? 0 : sourceCodes[delta.source];
    out[cursor + 10] = delta.expectEpoch === undefined ? 0 : FLAG_EXPECT_EPOCH;
    cursor += 12;
    if (delta.expectEpoch !== undefined) {
      putU64(view, cursor, delta.expectEpoch);
      cursor += 8;
    }
    if (payload.kind === 'dense') {
      cursor = putBytes(out, view, cursor, payload.bytes);
    } else if (payload.kind === 'sparse') {
      cursor = putBytes(out, view, cursor, payload.mask);
      cursor = putBytes(out, view, cursor, payload.bytes);
    } else {
      const writes = payload.ranges;
      view.setUint32(cursor, writes.length, true);
      cursor += 4;
      for (let rangeIndex = 0; rangeIndex < writes.length; rangeIndex++) {
        const range = writes[rangeIndex]!;
        view.setUint32(cursor, range.offset, true);
        cursor = putBytes(out, view, cursor + 4, range.bytes);
      }
    }
  }
  return out;
}
