// A bus on a data directory: reopening recovers the exact state, every fsync
// policy keeps what it acknowledged, writers share syncs, checkpoints and
// time travel agree with the live state.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { native } from '@mmsb/core-native';

import { Bus, dense, ErrorCode, ranges, type FsyncPolicy } from '../src/index.js';
import { bytes, expectMmsbError, scratchDirectory } from './support.js';

const scratch = (): string => scratchDirectory('durable');

async function writeSome(bus: Bus): Promise<number> {
  const page = await bus.createPage({ size: 64, metadata: { name: 'p' } });
  const others = await bus.createPages(3, { size: 16 });
  await bus.apply({ pageId: page, payload: dense(bytes(64, 5)) });
  await bus.apply({ pageId: page, payload: ranges([{ offset: 3, bytes: Uint8Array.of(1, 2, 3) }]) });
  await bus.applyBatch(others.map((pageId, index) => ({ pageId, payload: dense(bytes(16, index)) })));
  await bus.releasePage(others[1]!);
  await bus.setMetadata(page, 'unit', 'mV');
  return page;
}

describe('durability', () => {
  it.each<FsyncPolicy>(['always', 'interval', 'never'])('fsync %s: a reopened bus has the same state', async (fsync) => {
    const directory = scratch();
    const bus = await Bus.open(directory, { fsync });
    const page = await writeSome(bus);
    const hash = bus.stateHash();
    const lsn = bus.lsn;
    await bus.close();
    const reopened = await Bus.open(directory);
    expect(reopened.stateHash()).toBe(hash);
    expect(reopened.lsn).toBe(lsn);
    expect(reopened.recovery).toEqual({ checkpointLsn: 0, recordsReplayed: lsn, tornBytesTruncated: 0 });
    expect(reopened.metadata(page)).toEqual({ name: 'p', unit: 'mV' });
    await reopened.close();
  });

  it('one directory opens in one bus at a time', async () => {
    const directory = scratch();
    const first = await Bus.open(directory);
    await expectMmsbError(() => Bus.open(directory), ErrorCode.DIRECTORY_LOCKED);
    await first.close();
    await (await Bus.open(directory)).close();
  });

  it.each(['worker', 'main'] as const)(
    'concurrent writers under fsync always share syncs (group commit, %s thread)',
    async (syncThread) => {
      const bus = await Bus.open(scratch(), { fsync: 'always', syncThread });
      const ids = await bus.createPages(8, { size: 32 });
      const syncsBefore = bus.syncs;
      const results = await Promise.all(ids.map((pageId, index) => bus.apply({ pageId, payload: dense(bytes(32, index)) })));
      expect(results.map((result) => result.lsn)).toEqual(ids.map((_, index) => 3 + index - 1));
      expect(bus.syncs - syncsBefore).toBeLessThanOrEqual(2);
      expect(bus.durableLsn).toBe(bus.lsn);
      await bus.close();
    },
  );

  it('checkpoints keep recovery short and drop old segments; stateAt matches every recorded LSN', async () => {
    const directory = scratch();
    const bus = await Bus.open(directory, { segmentBytes: 4096, checkpointsRetained: 2 });
    const page = await bus.createPage({ size: 256 });
    const hashes = new Map<number, string>();
    for (let round = 0; round < 3; round++) {
      for (let value = 0; value < 40; value++) {
        const { lsn } = await bus.apply({ pageId: page, payload: dense(bytes(256, round * 40 + value)) });
        hashes.set(lsn, bus.stateHash());
      }
      const info = await bus.checkpoint();
      expect(info.stateHash).toBe(bus.stateHash());
    }
    const oldest = bus.oldestLsn;
    expect(oldest).toBeGreaterThan(1);
    for (const [lsn, hash] of hashes) {
      if (lsn < oldest) {
        await expectMmsbError(() => bus.stateAt(lsn), ErrorCode.LSN_OUT_OF_RANGE);
      } else {
        const view = await bus.stateAt(lsn);
        expect(view.stateHash()).toBe(hash);
        expect(view.lsn).toBe(lsn);
      }
    }
    await expectMmsbError(() => bus.stateAt(bus.lsn + 1), ErrorCode.LSN_OUT_OF_RANGE);
    // Two retained, and the full checkpoint before them as a fallback for a damaged one.
    expect(readdirSync(join(directory, 'checkpoints'))).toHaveLength(3);
    const hash = bus.stateHash();
    await bus.close();
    const reopened = await Bus.open(directory);
    expect(reopened.stateHash()).toBe(hash);
    expect(reopened.recovery!.recordsReplayed).toBeLessThanOrEqual(2);
    await reopened.close();
  });

  it('a time-travel view is detached: the live bus moves on, the view does not', async () => {
    const bus = await Bus.open(scratch());
    const page = await bus.createPage({ size: 4 });
    const { lsn } = await bus.apply({ pageId: page, payload: dense(Uint8Array.of(1, 1, 1, 1)) });
    const view = await bus.stateAt(lsn);
    await bus.apply({ pageId: page, payload: dense(Uint8Array.of(2, 2, 2, 2)) });
    expect(view.read(page)).toEqual(Uint8Array.of(1, 1, 1, 1));
    expect(bus.read(page)).toEqual(Uint8Array.of(2, 2, 2, 2));
    expect(view.page(page).epoch).toBe(1);
    await bus.close();
  });

  it('a closed bus refuses calls and reopens with everything acknowledged', async () => {
    const directory = scratch();
    const bus = await Bus.open(directory, { fsync: 'never' });
    await writeSome(bus);
    const hash = bus.stateHash();
    await bus.close();
    await expectMmsbError(() => bus.lsn, ErrorCode.BUS_CLOSED);
    const reopened = await Bus.open(directory, { fsync: 'never' });
    expect(reopened.stateHash()).toBe(hash);
    await reopened.close();
  });

  it('compressed records and run-length coded masks recover to the same state', async () => {
    const directory = scratch();
    const bus = await Bus.open(directory, { compressRecordsAbove: 4096 });
    const page = await bus.createPage({ size: 1 << 16 });
    for (let value = 0; value < 16; value++) await bus.apply({ pageId: page, payload: dense(bytes(1 << 16, value)) });
    const hash = bus.stateHash();
    await bus.close();
    // Records only: the newest segment file also holds preallocated zeros.
    const { segments } = native.inspectDirectory(directory);
    const logBytes = segments.reduce(
      (sum, segment, index) => sum + native.scanSegment(segment.path, segment.lsn, index === segments.length - 1).validEnd,
      0,
    );
    expect(logBytes).toBeLessThan((16 << 16) / 8);
    const reopened = await Bus.open(directory);
    expect(reopened.stateHash()).toBe(hash);
    await reopened.close();
  });

  it('checkpoints after the first are incremental: only the changed pages, each once', async () => {
    const directory = scratch();
    const bus = await Bus.open(directory);
    const pages = await bus.createPages(32, { size: 4096 });
    const full = await bus.checkpoint();
    expect(full.baseLsn).toBe(0);
    // 80 KiB of log against a 128 KiB state: more log than state would make the next checkpoint full.
    for (let value = 0; value < 20; value++) await bus.apply({ pageId: pages[0]!, payload: dense(bytes(4096, value)) });
    const increment = await bus.checkpoint();
    expect(increment.baseLsn).toBe(full.lsn);
    expect(increment.pages).toBe(1);
    expect(increment.stateHash).toBe(bus.stateHash());
    expect((await bus.checkpoint({ full: true })).baseLsn).toBe(0);
    const hash = bus.stateHash();
    await bus.close();
    const reopened = await Bus.open(directory);
    expect(reopened.stateHash()).toBe(hash);
    await reopened.close();
  });

  it('the graph persists: edges, their kinds and parent order survive checkpoints and reopening', async () => {
    const directory = scratch();
    const bus = await Bus.open(directory);
    const [a, b, c, d] = await bus.createPages(4, { size: 8 });
    await bus.addEdge(b!, d!, 'control');
    await bus.checkpoint();
    await bus.addEdge(a!, d!);
    await bus.addEdge(c!, d!, 'gpu_sync');
    await bus.addEdge(a!, b!);
    await expectMmsbError(() => bus.addEdge(d!, a!), ErrorCode.GRAPH_CYCLE);
    const hash = bus.stateHash();
    await bus.close();
    const reopened = await Bus.open(directory);
    expect(reopened.stateHash()).toBe(hash);
    expect(reopened.parents(d!)).toEqual([
      { parent: b, kind: 'control' },
      { parent: a, kind: 'data' },
      { parent: c, kind: 'gpu_sync' },
    ]);
    expect(reopened.children(a!).sort()).toEqual([b, d].sort());
    expect(reopened.edgeCount).toBe(4);
    await reopened.close();
  });
});
