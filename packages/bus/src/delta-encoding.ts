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
import type { Delta, DeltaSource, PageId, RangeWrite } from './types.js';
import { checkArray, checkBytes, checkInteger, checkObject, describe } from './validate.js';

const KIND_DENSE = 1;
const KIND_SPARSE = 2;
const KIND_RANGES = 3;
const FLAG_EXPECT_EPOCH = 1;
const U32_MAX = 0xffff_ffff;
const SHORT_COPY_BYTES = 64;
/** The largest buffer an `EncodingScratch` keeps between batches. */
const SCRATCH_BYTES_MAX = 16 << 20;

export const sourceCodes: Readonly<Record<DeltaSource, number>> = { user: 0, propagation: 1, bridge: 2 };
const sourceNames: readonly DeltaSource[] = ['user', 'propagation', 'bridge'];

/** A source's code; own keys only, so `'toString'` or `'__proto__'` is no source. */
export function sourceCode(source: unknown): number {
  if (source === undefined) return 0;
  if (typeof source === 'string' && Object.hasOwn(sourceCodes, source)) return sourceCodes[source as DeltaSource];
  throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `delta source must be "user", "propagation" or "bridge", got ${describe(source)}`);
}

const isOffset = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= U32_MAX;
const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array && value.length <= U32_MAX;

/**
 * The batch buffer being written. Each caller value is read once, checked,
 * and written, so a getter, or shared memory another thread changes, cannot
 * make what was checked differ from what is written: every length written
 * is the one read with the bytes copied after it.
 */
class Writer {
  out: Uint8Array;
  view: DataView;
  cursor = 8;

  /** A writer into `reuse` when it holds `capacity` bytes, else into a new buffer. */
  constructor(capacity: number, reuse?: Uint8Array) {
    this.out = reuse !== undefined && reuse.length >= capacity ? reuse : new Uint8Array(capacity);
    this.view = new DataView(this.out.buffer, this.out.byteOffset, this.out.byteLength);
  }

  /** Makes room for `length` more bytes; only a size hint that fell short costs a copy. */
  reserve(length: number): void {
    const needed = this.cursor + length;
    if (needed <= this.out.length) return;
    const grown = new Uint8Array(Math.max(needed, this.out.length * 2));
    grown.set(this.out.subarray(0, this.cursor));
    this.out = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  /** Writes a delta's head: `page_id u64 | kind u8 | source u8 | flags u8 | 0 u8 | expect_epoch u64?` (room reserved). */
  head(pageId: number, kind: number, source: number, expectEpoch: number | undefined): void {
    const view = this.view;
    let cursor = this.cursor;
    putU64(view, cursor, pageId);
    view.setUint32(cursor + 8, kind | (source << 8) | ((expectEpoch === undefined ? 0 : FLAG_EXPECT_EPOCH) << 16), true);
    cursor += 12;
    if (expectEpoch !== undefined) {
      putU64(view, cursor, expectEpoch);
      cursor += 8;
    }
    this.cursor = cursor;
  }

  /** Writes `len u32 | bytes` (room reserved), `length` being the length read of `bytes`. */
  bytes(bytes: Uint8Array, length: number): void {
    const { out, view } = this;
    const cursor = this.cursor;
    view.setUint32(cursor, length, true);
    // TypedArray#set has a fixed cost that dwarfs a short copy.
    if (length < SHORT_COPY_BYTES) {
      for (let index = 0; index < length; index++) out[cursor + 4 + index] = bytes[index]!;
    } else {
      copyPrefix(out, cursor + 4, bytes, length);
    }
    this.cursor = cursor + 4 + length;
  }

  /** The bytes written (a view when the size hint was too large). */
  finish(): Uint8Array {
    return this.cursor === this.out.length ? this.out : this.out.subarray(0, this.cursor);
  }
}

/**
 * Copies the first `length` bytes of `bytes`. A shared buffer that another
 * thread grew since `length` was read makes `set` copy more: past the end of
 * `out` it throws, and the prefix alone is copied; short of it, the surplus
 * lies where the next writes (or the end of the batch) go.
 */
function copyPrefix(out: Uint8Array, cursor: number, bytes: Uint8Array, length: number): void {
  try {
    out.set(bytes, cursor);
  } catch {
    out.set(bytes.subarray(0, length), cursor);
  }
}

/** Writes `value` (a safe integer) as u64 in two u32 halves: exact, and far cheaper than BigInt. */
function putU64(view: DataView, cursor: number, value: number): void {
  view.setUint32(cursor, value >>> 0, true);
  view.setUint32(cursor + 4, Math.floor(value / 0x1_0000_0000), true);
}

/**
 * The encoded size, guessed without checks for the buffer's first capacity:
 * deltas are checked as they are written, and a wrong guess (a malformed
 * delta, or a getter that answers differently the second time) costs only a
 * regrow, never a wrong encoding.
 */
function sizeHint(deltas: readonly Delta[], count: number): number {
  let size = 8 + 20 * count;
  for (let index = 0; index < count; index++) {
    const payload = (deltas[index] as Delta | null | undefined)?.payload;
    if (typeof payload !== 'object' || payload === null) continue;
    switch (payload.kind) {
      case 'dense':
        size += 4 + lengthOf(payload.bytes);
        break;
      case 'sparse':
        size += 8 + lengthOf(payload.mask) + lengthOf(payload.bytes);
        break;
      case 'ranges': {
        const writes: unknown = payload.ranges;
        if (!Array.isArray(writes)) break;
        for (let rangeIndex = 0; rangeIndex < writes.length; rangeIndex++) {
          size += 8 + lengthOf((writes[rangeIndex] as RangeWrite | null | undefined)?.bytes);
        }
      }
    }
  }
  return size;
}

const lengthOf = (value: unknown): number => (value instanceof Uint8Array ? value.length : 0);

/**
 * Writes delta `index`. The checks here are cheap and build no strings,
 * because batches run them per delta and per range; when one fails, the
 * `explain` functions run the full checks to throw the precise error.
 * Appends its page to `pageIds` when given; returns its source code.
 */
function writeDelta(delta: Delta, index: number, writer: Writer, pageIds: PageId[] | undefined): number {
  if (typeof delta !== 'object' || delta === null) checkObject(delta, `delta ${index}`);
  const { pageId, expectEpoch, source, payload } = delta;
  const code = source === undefined ? 0 : typeof source === 'string' && Object.hasOwn(sourceCodes, source) ? sourceCodes[source] : -1;
  if (!isId(pageId) || (expectEpoch !== undefined && !isId(expectEpoch)) || code < 0 || typeof payload !== 'object' || payload === null) {
    explainDelta(delta, index);
  }
  pageIds?.push(pageId);
  const kind = payload.kind;
  if (kind === 'dense') {
    const bytes = payload.bytes;
    if (!isBytes(bytes)) explainBytes(bytes, `delta ${index} bytes`);
    const length = bytes.length;
    writer.reserve(24 + length);
    writer.head(pageId, KIND_DENSE, code, expectEpoch);
    writer.bytes(bytes, length);
  } else if (kind === 'sparse') {
    const { mask, bytes } = payload;
    if (!isBytes(mask)) explainBytes(mask, `delta ${index} mask`);
    if (!isBytes(bytes)) explainBytes(bytes, `delta ${index} bytes`);
    const maskLength = mask.length;
    const length = bytes.length;
    writer.reserve(28 + maskLength + length);
    writer.head(pageId, KIND_SPARSE, code, expectEpoch);
    writer.bytes(mask, maskLength);
    writer.bytes(bytes, length);
  } else if (kind === 'ranges') {
    writer.reserve(24);
    writer.head(pageId, KIND_RANGES, code, expectEpoch);
    writeRanges(payload.ranges, index, writer);
  } else {
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `delta ${index} payload kind must be "dense", "sparse" or "ranges", got ${describe(kind)}`,
    );
  }
  return code;
}

function writeRanges(writes: readonly RangeWrite[], index: number, writer: Writer): void {
  if (!Array.isArray(writes)) checkArray(writes, `delta ${index} ranges`);
  const count = writes.length;
  writer.view.setUint32(writer.cursor, count, true);
  writer.cursor += 4;
  for (let rangeIndex = 0; rangeIndex < count; rangeIndex++) {
    const range = writes[rangeIndex] as RangeWrite | null;
    if (typeof range !== 'object' || range === null) checkObject(range, `delta ${index} range ${rangeIndex}`);
    const { offset, bytes } = range;
    if (!isOffset(offset)) explainOffset(offset, `delta ${index} range ${rangeIndex} offset`);
    if (!isBytes(bytes)) explainBytes(bytes, `delta ${index} range ${rangeIndex} bytes`);
    const length = bytes.length;
    writer.reserve(8 + length);
    writer.view.setUint32(writer.cursor, offset, true);
    writer.cursor += 4;
    writer.bytes(bytes, length);
  }
}

/** Throws the precise error for a delta whose fields failed the cheap checks. */
function explainDelta(delta: Delta, index: number): never {
  const what = `delta ${index}`;
  checkObject(delta, what);
  const { pageId, expectEpoch, source, payload } = delta;
  checkInteger(pageId, `${what} pageId`);
  if (expectEpoch !== undefined) checkInteger(expectEpoch, `${what} expectEpoch`);
  sourceCode(source);
  checkObject(payload, `${what} payload`);
  throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${what} is malformed`);
}

function explainBytes(value: unknown, what: string): never {
  checkBytes(value, what);
  throw new MmsbError(ErrorCode.DELTA_SIZE_MISMATCH, `${what} of ${value.length} bytes exceeds 2^32 - 1`);
}

function explainOffset(value: unknown, what: string): never {
  checkInteger(value, what);
  throw new MmsbError(ErrorCode.RANGE_OUT_OF_BOUNDS, `${what} ${value} exceeds 2^32 - 1`);
}

/** A batch encoded from one read of the caller's deltas. */
export interface EncodedBatch {
  readonly bytes: Uint8Array;
  /** How many deltas it holds. */
  readonly count: number;
  /** Each delta's page, in order, when asked for. */
  readonly pageIds: readonly PageId[];
  /** The first delta's source, which the batch's commit event carries. */
  readonly source: DeltaSource;
}

/**
 * A buffer that one owner (a bus) reuses for the batches it encodes and hands
 * to the core at once, so that a batch of large payloads does not allocate,
 * fault in and free a new buffer on every call (a batch of a thousand 4 KiB
 * deltas spent more time in page faults than in its copies). Buffers above
 * 16 MiB are not kept.
 */
export class EncodingScratch {
  buffer: Uint8Array | undefined;
  /** True while an encoding writes into `buffer`: a getter of a delta may start another, which gets its own. */
  busy = false;
}

/**
 * Encodes deltas as one batch buffer; with `withPages`, also lists their
 * pages. With `scratch`, the bytes may lie in its buffer: valid until the next
 * encoding with it, so only for a caller that passes them on at once.
 */
export function encodeDeltas(deltas: readonly Delta[], withPages = false, scratch?: EncodingScratch): EncodedBatch {
  checkArray(deltas, 'deltas');
  const count = deltas.length;
  const owned = scratch !== undefined && !scratch.busy ? scratch : undefined;
  if (owned !== undefined) owned.busy = true;
  try {
    const writer = new Writer(sizeHint(deltas, count), owned?.buffer);
    writer.out.set([0x4d, 0x44, 0x42, 0x31]);
    writer.view.setUint32(4, count, true);
    const pageIds: PageId[] | undefined = withPages ? [] : undefined;
    let source: DeltaSource = 'user';
    for (let index = 0; index < count; index++) {
      const code = writeDelta(deltas[index]!, index, writer, pageIds);
      if (index === 0) source = sourceNames[code]!;
    }
    if (owned !== undefined && writer.out.length <= SCRATCH_BYTES_MAX) owned.buffer = writer.out;
    return { bytes: writer.finish(), count, pageIds: pageIds ?? [], source };
  } finally {
    if (owned !== undefined) owned.busy = false;
  }
}

/** Encodes deltas as one batch buffer. */
export function encodeBatch(deltas: readonly Delta[]): Uint8Array {
  return encodeDeltas(deltas).bytes;
}
