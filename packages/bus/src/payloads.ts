/** Builders for the three payload forms, so callers need not spell the masks. */
import { ErrorCode, MmsbError } from './errors.js';
import type { DensePayload, RangesPayload, RangeWrite, SparsePayload } from './types.js';
import { checkArray, checkByteAt, checkCount, checkIndex, describe } from './validate.js';

export function dense(bytes: Uint8Array): DensePayload {
  return { kind: 'dense', bytes };
}

export function sparse(mask: Uint8Array, bytes: Uint8Array): SparsePayload {
  return { kind: 'sparse', mask, bytes };
}

export function ranges(writes: readonly RangeWrite[]): RangesPayload {
  return { kind: 'ranges', ranges: writes };
}

/**
 * A sparse payload from `(offset, byte)` pairs in any order; a later pair for
 * an offset replaces an earlier one. Each byte is an integer 0..255.
 */
export function sparseFromBytes(pageSize: number, writes: Iterable<readonly [offset: number, byte: number]>): SparsePayload {
  checkCount(pageSize, 'pageSize');
  if (typeof (writes as Partial<Iterable<unknown>> | null)?.[Symbol.iterator] !== 'function') {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `writes must be an iterable of [offset, byte] pairs, got ${describe(writes)}`);
  }
  const mask = new Uint8Array(Math.ceil(pageSize / 8));
  const byOffset = new Map<number, number>();
  for (const pair of writes) {
    if (!Array.isArray(pair)) checkArray(pair, 'each write');
    const [offset, byte] = pair;
    checkIndex(offset, pageSize, 'offset');
    checkByteAt(byte, offset);
    mask[offset >> 3]! |= 1 << (offset & 7);
    byOffset.set(offset, byte);
  }
  const offsets = [...byOffset.keys()].sort((left, right) => left - right);
  return sparse(
    mask,
    Uint8Array.from(offsets, (offset) => byOffset.get(offset)!),
  );
}
