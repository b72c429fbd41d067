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

describe('bus.stats().histograms', () => {
  it('time one apply call in 16, count one sync per log sync; pages are counted by memory', async () => {
    const bus = await Bus.open(scratchDirectory('histograms'), { fsync: 'always' });
    const page = await bus.createPage({ size: 64 });
    await bus.createPage({ size: 32, memory: 'mapped' });
    for (let value = 0; value < 4; value++) await bus.apply({ pageId: page, payload: dense(bytes(64, value)) });
    await bus.applyBatch([{ pageId: page, payload: dense(bytes(64, 9)) }]);
    const { histograms, ...stats } = bus.stats();
    expect(histograms.applySeconds.count, 'one apply call in 16 is timed, the first included').toBe(1);
    expect(histograms.applySeconds.counts).toHaveLength(histograms.applySeconds.bounds.length + 1);
    expect(histograms.applySeconds.sum).toBeGreaterThan(0);
    expect(histograms.logSyncSeconds.count).toBe(stats.logSyncs);
    expect(histograms.logSyncRecords.sum, 'every record was made durable by a sync').toBe(stats.durableLsn);
    expect(stats).toMatchObject({ pagesHeap: 1, pageBytesHeap: 64, pagesMapped: 1, pageBytesMapped: 32, logSegments: 1 });
    await bus.checkpoint();
    expect(bus.stats().histograms.checkpointSeconds.count).toBe(1);
    expect(bus.stats().checkpointBytes).toBe(bus.stats().checkpointLastBytes);
    await bus.close();
  });

  it('with timings off, applies are counted but not timed', async () => {
    const bus = await Bus.open(':memory:', { timings: false });
    const page = await bus.createPage({ size: 8 });
    await bus.apply({ pageId: page, payload: dense(bytes(8, 1)) });
    expect(bus.stats()).toMatchObject({ deltasDense: 1, histograms: { applySeconds: { count: 0 } } });
    await expect(Bus.open(':memory:', { timings: 'yes' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('times each finished wave', async () => {
    const bus = Bus.memory();
    const [parent, child] = [await bus.createPage({ size: 8 }), await bus.createPage({ size: 8 })];
    await bus.addEdge(parent, child);
    bus.recompute(child, 'copy');
    await bus.apply({ pageId: parent, payload: dense(bytes(8, 3)) });
    expect(bus.stats().histograms.waveSeconds.count).toBe(bus.stats().propagation.waves);
    expect(bus.stats().propagation.waves).toBe(1);
  });
});
