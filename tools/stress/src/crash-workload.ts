/**
 * The child writer's workload: operation k is a pure function of the
 * generation's seed and k, so the killed child and the parent's oracle
 * perform the same operations in the same order. Operation 0 creates the
 * pages (one record); each later one is a delta of any form, a batch, a
 * metadata change or a checkpoint.
 */
import type { Bus, DeltaPayload, PageId } from '@mmsb/bus';

import type { LaneModel } from './lane-model.js';
import { randomPayload } from './payloads.js';
import { Random } from './random.js';

export const CRASH_PAGES = 8;

/** The ids the pages of a fresh directory get (ids start at 1 and are never reused). */
export const CRASH_PAGE_IDS: readonly PageId[] = Array.from({ length: CRASH_PAGES }, (_, index) => index + 1);

export type CrashOperation =
  | { readonly kind: 'setup'; readonly size: number }
  | { readonly kind: 'delta'; readonly pageId: PageId; readonly payload: DeltaPayload }
  | { readonly kind: 'batch'; readonly deltas: readonly { readonly pageId: PageId; readonly payload: DeltaPayload }[] }
  | { readonly kind: 'metadata'; readonly pageId: PageId; readonly value: number }
  | { readonly kind: 'checkpoint'; readonly full: boolean };

/** The page size of a generation. */
export function crashPageSize(seed: number): number {
  return Random.stream(seed, 'page size').pick([64, 512, 4096]);
}

export function crashOperation(seed: number, k: number): CrashOperation {
  const size = crashPageSize(seed);
  if (k === 0) return { kind: 'setup', size };
  const random = Random.stream(seed, k);
  switch (random.weighted({ delta: 70, batch: 15, metadata: 10, checkpoint: 5 })) {
    case 'delta':
      return { kind: 'delta', pageId: random.pick(CRASH_PAGE_IDS), payload: randomPayload(random, size) };
    case 'batch':
      return {
        kind: 'batch',
        deltas: Array.from({ length: random.between(2, 6) }, () => ({
          pageId: random.pick(CRASH_PAGE_IDS),
          payload: randomPayload(random, size),
        })),
      };
    case 'metadata':
      return { kind: 'metadata', pageId: random.pick(CRASH_PAGE_IDS), value: random.below(1_000_000) };
    case 'checkpoint':
      return { kind: 'checkpoint', full: random.chance(0.3) };
  }
}

/** Performs `operation` on a bus (the child's side); its effect is in place when this returns, its acknowledgement awaited. */
export function performCrashOperation(bus: Bus, operation: CrashOperation): Promise<unknown> {
  switch (operation.kind) {
    case 'setup':
      return bus.createPages(CRASH_PAGES, { size: operation.size });
    case 'delta':
      return bus.apply({ pageId: operation.pageId, payload: operation.payload });
    case 'batch':
      return bus.applyBatch(operation.deltas);
    case 'metadata':
      return bus.setMetadata(operation.pageId, 'n', operation.value);
    case 'checkpoint':
      return bus.checkpoint({ full: operation.full });
  }
}

/** Applies `operation` to the oracle (the parent's side). */
export function modelCrashOperation(model: LaneModel, operation: CrashOperation): void {
  switch (operation.kind) {
    case 'setup':
      for (const id of CRASH_PAGE_IDS) model.create(id, operation.size);
      return;
    case 'delta':
      model.apply(operation.pageId, operation.payload);
      return;
    case 'batch':
      for (const delta of operation.deltas) model.apply(delta.pageId, delta.payload);
      return;
    case 'metadata':
      model.setValue(operation.pageId, operation.value);
      return;
    case 'checkpoint':
      return;
  }
}
