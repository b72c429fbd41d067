/** Builders for the three payload forms, so callers need not spell the masks. */
import { checkCount, checkIndex } from './validate.js';
import type { DensePayload, RangesPayload, RangeWrite, SparsePayload } from './types.js';

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
 * an offset replaces an earlier one.
 */
export function sparseFromBytes(pageSize: number, writes: Iterable<readonly [offset: number, byte: number]>): SparsePayload {
  checkCount(pageSize, 'pageSize');
  const mask = new Uint8Array(Math.ceil(pageSize / 8));
  const byOffset = new Map<number, number>();
  for (const [offset, byte] of writes) {
    checkIndex(offset, pageSize, 'offset');
    mask[offset >> 3]! |= 1 << (offset & 7);
    byOffset.set(offset, byte);
  }
  const offsets = [...byOffset.keys()].sort((left, right) => left - right);
  return sparse(
    mask,
    Uint8Array.from(offsets, (offset) => byOffset.get(offset)!),
  );
}
