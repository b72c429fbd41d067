// The propagation engine against a naive evaluator on random DAGs, and its
// contract: failures leave no derived delta, replay needs no callbacks,
// events announce commits and waves, a wave limit refuses huge waves.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { Bus, dense, ErrorCode, type CommitEvent, type RecomputeFunction } from '../src/index.js';
import { bytes, expectMmsbError, scratchDirectory } from './support.js';

const SIZE = 8;

/** A pure recompute per child: a byte-wise mix of the parents, with a cutoff-prone floor. */
function mixer(salt: number): RecomputeFunction {
  return (parents) => {
    const out = new Uint8Array(SIZE);
    for (const parent of parents)
      for (let index = 0; index < SIZE; index++) out[index] = (out[index]! + parent[index]! * (salt + 1)) & 0xff;
    // Coarse output: many parent changes map to the same bytes, so cutoff happens.
    for (let index = 0; index < SIZE; index++) out[index] = out[index]! & 0xf0;
    return out;
  };
}

const dag = fc.integer({ min: 3, max: 14 }).chain((pages) =>
  fc.record({
    pages: fc.constant(pages),
    edges: fc.uniqueArray(
      fc.tuple(fc.nat(pages - 1), fc.nat(pages - 1)).filter(([from, to]) => from < to),
      { maxLength: pages * 3, selector: ([from, to]) => `${from}-${to}` },
    ),
    builtin: fc.array(fc.boolean(), { minLength: pages, maxLength: pages }),
    commits: fc.array(fc.tuple(fc.nat(pages - 1), fc.uint8Array({ minLength: SIZE, maxLength: SIZE })), { minLength: 1, maxLength: 8 }),
  }),
);

describe('propagation', () => {
  it('recomputes each affected descendant once, after its changed parents, matching a naive evaluator', async () => {
    await fc.assert(
      fc.asyncProperty(dag, async ({ pages, edges, builtin, commits }) => {
        const bus = Bus.memory();
        const ids = await bus.createPages(pages, { size: SIZE });
        for (const [from, to] of edges) await bus.addEdge(ids[from]!, ids[to]!);
        const parentsOf = (index: number) => edges.filter(([, to]) => to === index).map(([from]) => from);
        const model: Uint8Array[] = ids.map(() => new Uint8Array(SIZE));
        let calls: number[] = [];
        const recompute = (index: number): RecomputeFunction | 'xor' => {
          if (builtin[index] && parentsOf(index).length > 0) return 'xor';
          const mix = mixer(index);
          return (parents, current, child) => {
            calls.push(child);
            return mix(parents, current, child);
          };
        };
        const functions = ids.map((_, index) => recompute(index));
        ids.forEach((id, index) => {
          if (parentsOf(index).length > 0) bus.recompute(id, functions[index]!);
        });
        for (const [root, value] of commits) {
          calls = [];
          await bus.apply({ pageId: ids[root]!, payload: dense(value) });
          // The naive evaluator: every page in index order (a topological order).
          model[root] = Uint8Array.from(value);
          const changed = new Set([root]);
          const expectedCalls: number[] = [];
          for (let index = 0; index < pages; index++) {
            const parents = parentsOf(index);
            if (parents.length === 0 || !parents.some((parent) => changed.has(parent))) continue;
            const recomputeOf = functions[index]!;
            let output: Uint8Array;
            if (recomputeOf === 'xor') {
              output = new Uint8Array(SIZE);
              for (const parent of parents) for (let byte = 0; byte < SIZE; byte++) output[byte] = output[byte]! ^ model[parent]![byte]!;
            } else {
              expectedCalls.push(ids[index]!);
              output = mixer(index)(
                parents.map((parent) => model[parent]!),
                model[index]!,
                ids[index]!,
              );
            }
            if (output.some((byte, position) => byte !== model[index]![position])) {
              model[index] = output;
              changed.add(index);
            }
          }
          expect(calls.slice().sort((a, b) => a - b)).toEqual(expectedCalls.slice().sort((a, b) => a - b));
          expect(new Set(calls).size).toBe(calls.length);
          for (const [position, child] of calls.entries()) {
            const childIndex = ids.indexOf(child);
            for (const parent of parentsOf(childIndex)) {
              const parentCall = calls.indexOf(ids[parent]!);
              if (parentCall !== -1) expect(parentCall).toBeLessThan(position);
            }
          }
          expect(bus.readMany(ids)).toEqual(model);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('built-in copy, concat and xor run in Rust and cut off unchanged outputs', async () => {
    const bus = Bus.memory();
    const [a, b, copy, joined, mixed] = await Promise.all([
      bus.createPage({ size: 2 }),
      bus.createPage({ size: 2 }),
      bus.createPage({ size: 2 }),
      bus.createPage({ size: 4 }),
      bus.createPage({ size: 2 }),
    ]);
    await bus.addEdge(a!, copy!);
    await bus.addEdge(a!, joined!);
    await bus.addEdge(b!, joined!);
    await bus.addEdge(copy!, mixed!);
    await bus.addEdge(b!, mixed!);
    bus.recompute(copy!, 'copy');
    bus.recompute(joined!, 'concat');
    bus.recompute(mixed!, 'xor');
    await bus.apply({ pageId: a!, payload: dense(Uint8Array.of(1, 2)) });
    await bus.apply({ pageId: b!, payload: dense(Uint8Array.of(3, 3)) });
    expect(bus.readMany([copy!, joined!, mixed!])).toEqual([Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3, 3), Uint8Array.of(2, 1)]);
    const before = bus.propagationStats;
    await bus.apply({ pageId: a!, payload: dense(Uint8Array.of(1, 2)) });
    const after = bus.propagationStats;
    expect(after.cutOff - before.cutOff).toBe(2);
    expect(after.changed - before.changed).toBe(0);
    expect(after.maxHeight).toBe(2);
  });

  it('a recompute that throws or returns the wrong size keeps the commit and applies no derived delta', async () => {
    const bus = Bus.memory();
    const [root, first, second] = await bus.createPages(3, { size: 4 });
    await bus.addEdge(root!, first!);
    await bus.addEdge(first!, second!);
    bus.recompute(first!, (parents) => Uint8Array.from(parents[0]!));
    bus.recompute(second!, () => {
      throw new Error('boom');
    });
    const error = await expectMmsbError(() => bus.apply({ pageId: root!, payload: dense(bytes(4, 7)) }), ErrorCode.RECOMPUTE_FAILED);
    expect(error.message).toContain(`page ${second}`);
    expect(bus.read(root!)).toEqual(bytes(4, 7));
    expect(bus.read(first!)).toEqual(bytes(4, 0));
    bus.recompute(second!, () => new Uint8Array(3));
    const wrongSize = await expectMmsbError(() => bus.apply({ pageId: root!, payload: dense(bytes(4, 8)) }), ErrorCode.DELTA_SIZE_MISMATCH);
    expect(wrongSize.message).toContain(`page ${second}`);
    await bus.addEdge(root!, second!);
    bus.recompute(second!, 'concat');
    await expectMmsbError(() => bus.apply({ pageId: root!, payload: dense(bytes(4, 9)) }), ErrorCode.DELTA_SIZE_MISMATCH);
    expect(bus.read(first!)).toEqual(bytes(4, 0));
    expect(bus.propagationStats.failed).toBe(3);
    expect(() => bus.recompute(second!, 'sum' as never)).toThrow(/a recompute is a function/);
    expect(() => bus.recompute(99, 'copy')).toThrow(/page 99/);
  });

  it('replaying a log made with callbacks gives the same state with no callback registered', async () => {
    const directory = scratchDirectory('propagation');
    const bus = await Bus.open(directory);
    const [source, derived] = await bus.createPages(2, { size: 4 });
    await bus.addEdge(source!, derived!);
    bus.recompute(derived!, ([parent]) => parent!.map((byte) => byte * 2));
    const checkpoints: number[] = [];
    for (let value = 1; value < 6; value++) {
      await bus.apply({ pageId: source!, payload: dense(bytes(4, value)) });
      checkpoints.push(bus.lsn);
    }
    expect(bus.read(derived!)).toEqual(bytes(4, 10));
    const hash = bus.stateHash();
    const middle = await bus.stateAt(checkpoints[2]!);
    expect(middle.read(derived!)).toEqual(bytes(4, 6));
    await bus.close();
    const reopened = await Bus.open(directory);
    expect(reopened.stateHash()).toBe(hash);
    await reopened.close();
  });

  it('announces commits and waves to listeners and async iterators, bounded', async () => {
    const bus = Bus.memory();
    const [source, derived] = await bus.createPages(2, { size: 1 });
    await bus.addEdge(source!, derived!);
    bus.recompute(derived!, 'copy');
    const seen: CommitEvent[] = [];
    const stop = bus.onCommit((event) => seen.push(event));
    const iterator = bus.commits({ bufferSize: 2 });
    await bus.apply({ pageId: source!, payload: dense(Uint8Array.of(5)) });
    const waveLsn = bus.lsn;
    expect(seen).toEqual([
      { pageIds: [source], firstLsn: waveLsn - 1, lastLsn: waveLsn - 1, source: 'user' },
      { pageIds: [derived], firstLsn: waveLsn, lastLsn: waveLsn, source: 'propagation' },
    ]);
    expect((await iterator.next()).value).toEqual(seen[0]);
    stop();
    await bus.apply({ pageId: source!, payload: dense(Uint8Array.of(6)) });
    await bus.apply({ pageId: source!, payload: dense(Uint8Array.of(7)) });
    expect(seen).toHaveLength(2);
    await iterator.next();
    await iterator.next();
    await expectMmsbError(() => iterator.next().then(() => iterator.next()), ErrorCode.EVENTS_OVERFLOW);
  });

  it('a wave above the wave limit is refused and recomputes nothing', async () => {
    const bus = await Bus.open(':memory:', { waveLimit: 2 });
    const ids = await bus.createPages(4, { size: 1 });
    for (let index = 1; index < 4; index++) {
      await bus.addEdge(ids[0]!, ids[index]!);
      bus.recompute(ids[index]!, () => Uint8Array.of(1));
    }
    await expectMmsbError(() => bus.apply({ pageId: ids[0]!, payload: dense(Uint8Array.of(1)) }), ErrorCode.WAVE_LIMIT);
    expect(bus.readMany(ids.slice(1))).toEqual([Uint8Array.of(0), Uint8Array.of(0), Uint8Array.of(0)]);
  });

  it('JavaScript recomputes see a parent and a child moved to other page memory', async () => {
    // Found by `mmsb stress`: the bus kept each wave plan's views of the pages, and moving a page to
    // other memory gives it new bytes elsewhere, so after a move the recompute read the parent's old
    // bytes (and compared its output with the child's old bytes): the derived page went stale.
    const bus = Bus.memory();
    const [parent, child] = await bus.createPages(2, { size: 4 });
    await bus.addEdge(parent!, child!);
    bus.recompute(child!, ([bytes]) => bytes!.map((byte) => byte + 1));
    await bus.apply({ pageId: parent!, payload: dense(Uint8Array.of(1, 1, 1, 1)) });
    for (const [moved, memory, fill] of [
      [parent!, 'mapped', 7],
      [child!, 'mapped', 9],
      [parent!, 'heap', 11],
    ] as const) {
      expect(await bus.movePage(moved, memory)).toBe(true);
      await bus.apply({ pageId: parent!, payload: dense(bytes(4, fill)) });
      expect(bus.read(child!)).toEqual(bytes(4, fill + 1));
      expect(bus.page(child!).epoch).toBe(bus.page(parent!).epoch);
    }
  });
});
