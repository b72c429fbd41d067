/**
 * Random deltas of every form, and what each does to a page: the oracle
 * applies the same payload to its own copy of the bytes.
 */
import { dense, ranges, sparse, type DeltaPayload, type RangeWrite } from '@mmsb/bus';

import type { Random } from './random.js';

export type PayloadForm = DeltaPayload['kind'];

export const PAYLOAD_FORMS: readonly PayloadForm[] = ['dense', 'sparse', 'ranges'];

/** A sparse payload setting a random subset of the page's bytes (1 to about a quarter of them). */
function randomSparse(random: Random, size: number): DeltaPayload {
  const mask = new Uint8Array(Math.ceil(size / 8));
  const density = random.chance(0.5) ? 0.02 : 0.25;
  let count = 0;
  for (let index = 0; index < size; index++) {
    if (random.chance(density)) {
      mask[index >> 3]! |= 1 << (index & 7);
      count++;
    }
  }
  if (count === 0) {
    mask[0]! |= 1;
    count = 1;
  }
  return sparse(mask, random.bytes(count));
}

/** One to four writes in offset order, apart or touching, never overlapping. */
function randomRanges(random: Random, size: number): DeltaPayload {
  const writes: RangeWrite[] = [];
  let offset = random.below(Math.max(1, size >> 1));
  const count = random.between(1, 4);
  while (writes.length < count && offset < size) {
    const length = random.between(1, Math.min(size - offset, 96));
    writes.push({ offset, bytes: random.bytes(length) });
    offset += length + random.below(64);
  }
  return ranges(writes);
}

export function randomPayload(random: Random, size: number, form: PayloadForm = random.pick(PAYLOAD_FORMS)): DeltaPayload {
  switch (form) {
    case 'dense':
      return dense(random.bytes(size));
    case 'sparse':
      return randomSparse(random, size);
    case 'ranges':
      return randomRanges(random, size);
  }
}

/** Applies `payload` to `bytes` as the core does (the model's side of `state ⊕ delta`). */
export function applyPayload(bytes: Uint8Array, payload: DeltaPayload): void {
  switch (payload.kind) {
    case 'dense':
      bytes.set(payload.bytes);
      return;
    case 'sparse': {
      let next = 0;
      for (let index = 0; index < bytes.length; index++) {
        if ((payload.mask[index >> 3]! >> (index & 7)) & 1) bytes[index] = payload.bytes[next++]!;
      }
      return;
    }
    case 'ranges':
      for (const write of payload.ranges) bytes.set(write.bytes, write.offset);
  }
}

export function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && Buffer.compare(left, right) === 0;
}

/** The first offset where two arrays differ (or the shorter length), for messages. */
export function firstDifference(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) if (left[index] !== right[index]) return index;
  return length;
}
