// bus.stats(): the core's counters read from its memory, moving as the bus works.
import { describe, expect, it } from 'vitest';

import { Bus, dense, ranges, sparseFromBytes } from '../src/index.js';
import { bytes, scratchDirectory } from './support.js';

describe('bus.stats()', () => {
  it('counts pages, deltas by form, LSNs, log syncs and checkpoints as they happen', async () => {
    const bus = await Bus.open(scratchDirectory('stats'), { fsync: 'always' });
    const before = bus.stats();
    expect(before.pagesLive).toBe(0);
    const page = await bus.createPage({ size: 64 });
    const { lsn } = await bus.apply({ pageId: page, payload: dense(bytes(64, 1)) });
    await bus.applyBatch([
      { pageId: page, payload: sparseFromBytes(64, [[3, 7]]) },
      { pageId: page, payload: ranges([{ offset: 0, bytes: Uint8Array.of(1, 2) }]) },
    ]);
    const stats = bus.stats();
    expect(stats.lsn).toBe(bus.lsn);
    expect(lsn).toBe(2);
    expect(stats).toMatchObject({ pagesLive: 1, pageBytes: 64, deltasDense: 1, deltasSparse: 1, deltasRanges: 1, logAppends: 3 });
    expect(stats.logSyncs).toBeGreaterThanOrEqual(1);
    expect(stats.durableLsn).toBe(bus.lsn);
    await expect(bus.apply({ pageId: page, payload: dense(bytes(3)) })).rejects.toThrow();
    expect(bus.stats().deltasDense, 'a refused delta is not counted').toBe(1);
    const checkpoint = await bus.checkpoint();
    expect(bus.stats()).toMatchObject({ checkpoints: 1, checkpointLastBytes: checkpoint.bytes, lsn: bus.lsn });
    expect(bus.stats().propagation.waves).toBe(0);
    await bus.close();
  });

  it('an in-memory bus counts too', async () => {
    const bus = Bus.memory();
    await bus.createPages(3, { size: 8 });
    expect(bus.stats()).toMatchObject({ pagesLive: 3, pageBytes: 24, lsn: 1, logAppends: 0 });
  });
});
