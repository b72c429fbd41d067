// One wave engine for every mix of recomputes: JavaScript callbacks and
// built-ins (copy, xor) in one wave equal a naive evaluator (each child once,
// after its changed parents, the same bytes) for commits of one page or many,
// the wave limit holds whatever runs the recomputes, and the counters come
// from the core for every kind of wave.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { Bus, dense, ErrorCode, type Recompute } from '../src/index.js';
import { expectMmsbError } from './support.js';

const SIZE = 8;

type Kind = 'js' | 'copy' | 'xor';
type Mix = 'builtins' | 'js' | 'mixed';

/** The JavaScript recompute of page `index`: a coarse mix of its parents, so cutoff happens. */
function mix(index: number, parents: readonly Uint8Array[], out: Uint8Array): Uint8Array {
  out.fill(0);
  for (const parent of parents) for (let byte = 0; byte < SIZE; byte++) out[byte] = (out[byte]! + parent[byte]! * (index + 1)) & 0xff;
  for (let byte = 0; byte < SIZE; byte++) out[byte] = out[byte]! & 0xf0;
  return out;
}

const kinds: Record<Mix, readonly Kind[]> = { builtins: ['copy', 'xor'], js: ['js'], mixed: ['js', 'copy', 'xor'] };

function dag(mixOf: Mix) {
  return fc.integer({ min: 3, max: 14 }).chain((pages) =>
    fc.record({
      pages: fc.constant(pages),
      edges: fc.uniqueArray(
        fc.tuple(fc.nat(pages - 1), fc.nat(pages - 1)).filter(([from, to]) => from < to),
        { maxLength: pages * 3, selector: ([from, to]) => `${from}-${to}` },
      ),
      kinds: fc.array(fc.constantFrom(...kinds[mixOf]), { minLength: pages, maxLength: pages }),
      // Each commit writes one page or several (applyBatch): a written page may also be recomputed.
      commits: fc.array(
        fc.uniqueArray(fc.tuple(fc.nat(pages - 1), fc.uint8Array({ minLength: SIZE, maxLength: SIZE })), {
          minLength: 1,
          maxLength: 3,
          selector: ([page]) => page,
        }),
        { minLength: 1, maxLength: 6 },
      ),
    }),
  );
}

type Case = { pages: number; edges: [number, number][]; kinds: Kind[]; commits: [number, Uint8Array][][] };

/** A bus holding the case: its pages, edges and recomputes; `calls` collects the JavaScript recomputes run. */
async function build(testCase: Case, options: { waveLimit?: number } = {}) {
  const bus = await Bus.open(':memory:', options);
  const ids = await bus.createPages(testCase.pages, { size: SIZE });
  for (const [from, to] of testCase.edges) await bus.addEdge(ids[from]!, ids[to]!);
  const parentsOf = (index: number) => testCase.edges.filter(([, to]) => to === index).map(([from]) => from);
  const kindOf = (index: number): Kind =>
    testCase.kinds[index] === 'copy' && parentsOf(index).length !== 1 ? 'xor' : testCase.kinds[index]!;
  const calls: number[] = [];
  ids.forEach((id, index) => {
    if (parentsOf(index).length === 0) return;
    const kind = kindOf(index);
    const recompute: Recompute =
      kind === 'js'
        ? (parents, _current, child, out) => {
            calls.push(child);
            return mix(index, parents, out ?? new Uint8Array(SIZE));
          }
        : kind;
    bus.recompute(id, recompute);
  });
  return { bus, ids, calls, parentsOf, kindOf };
}

/** How many pages the wave of `roots` visits. */
function descendants(testCase: Case, roots: number[]): number {
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const page = stack.pop()!;
    for (const [from, to] of testCase.edges) {
      if (from === page && !seen.has(to)) {
        seen.add(to);
        stack.push(to);
      }
    }
  }
  return seen.size;
}

describe('waves', () => {
  it.each<Mix>(['mixed', 'builtins', 'js'])(
    '%s waves equal a naive evaluator: each child once, after its changed parents',
    async (mixOf) => {
      await fc.assert(
        fc.asyncProperty(dag(mixOf), async (testCase) => {
          const { bus, ids, calls, parentsOf, kindOf } = await build(testCase);
          const model = ids.map(() => new Uint8Array(SIZE));
          for (const commit of testCase.commits) {
            calls.length = 0;
            const before = bus.propagationStats;
            await bus.applyBatch(commit.map(([page, bytes]) => ({ pageId: ids[page]!, payload: dense(bytes) })));
            // The naive evaluator: every page in index order (a topological order).
            const changed = new Set<number>();
            for (const [page, bytes] of commit) {
              model[page] = Uint8Array.from(bytes);
              changed.add(page);
            }
            const expectedCalls: number[] = [];
            let recomputed = 0;
            for (let index = 0; index < testCase.pages; index++) {
              const parents = parentsOf(index);
              if (parents.length === 0 || !parents.some((parent) => changed.has(parent))) continue;
              const inputs = parents.map((parent) => model[parent]!);
              const output = new Uint8Array(SIZE);
              if (kindOf(index) === 'js') {
                expectedCalls.push(ids[index]!);
                mix(index, inputs, output);
              } else {
                for (const input of inputs) for (let byte = 0; byte < SIZE; byte++) output[byte] = output[byte]! ^ input[byte]!;
              }
              recomputed++;
              if (output.some((byte, position) => byte !== model[index]![position])) {
                model[index] = output;
                changed.add(index);
              }
            }
            expect([...calls].sort((a, b) => a - b)).toEqual(expectedCalls.sort((a, b) => a - b));
            for (const [position, child] of calls.entries()) {
              for (const parent of parentsOf(ids.indexOf(child))) {
                const parentCall = calls.indexOf(ids[parent]!);
                if (parentCall !== -1) expect(parentCall).toBeLessThan(position);
              }
            }
            expect(bus.readMany(ids)).toEqual(model);
            expect(bus.propagationStats.recomputed - before.recomputed).toBe(recomputed);
          }
          await bus.close();
        }),
        { numRuns: 60 },
      );
    },
  );

  it.each<Mix>(['builtins', 'mixed', 'js'])('the wave limit holds for %s waves: above it nothing is recomputed', async (mixOf) => {
    await fc.assert(
      fc.asyncProperty(dag(mixOf), fc.integer({ min: 1, max: 14 }), async (testCase, waveLimit) => {
        const { bus, ids, calls } = await build(testCase, { waveLimit });
        const commit = testCase.commits[0]!;
        const before = bus.readMany(ids);
        const stats = bus.propagationStats;
        const apply = () => bus.applyBatch(commit.map(([page, bytes]) => ({ pageId: ids[page]!, payload: dense(bytes) })));
        const visits = descendants(
          testCase,
          commit.map(([page]) => page),
        );
        if (visits > waveLimit) {
          const error = await expectMmsbError(apply, ErrorCode.WAVE_LIMIT);
          expect(error.message).toContain(`wave limit of ${waveLimit}`);
          expect(calls).toEqual([]);
          // The commit stays; nothing derived is written.
          const after = bus.readMany(ids);
          for (const [page, bytes] of commit) before[page] = bytes;
          expect(after).toEqual(before);
          expect(bus.propagationStats.failed).toBe(stats.failed + 1);
        } else {
          await apply();
          // Only a bus with some recompute runs waves.
          const active = testCase.edges.length > 0;
          expect(bus.propagationStats.waves).toBe(stats.waves + (active ? 1 : 0));
          expect(bus.propagationStats.largestWave).toBe(Math.max(stats.largestWave, visits));
        }
        await bus.close();
      }),
      { numRuns: 60 },
    );
  });

  it('counts waves of built-ins as it counts the others (largest wave, height, duration)', async () => {
    // Before: a wave of built-ins alone never updated largestWave and ignored waveLimit.
    const bus = await Bus.open(':memory:', { waveLimit: 3 });
    const ids = await bus.createPages(4, { size: 1 });
    for (let index = 1; index < 4; index++) {
      await bus.addEdge(ids[index - 1]!, ids[index]!);
      bus.recompute(ids[index]!, 'copy');
    }
    await bus.apply({ pageId: ids[0]!, payload: dense(Uint8Array.of(4)) });
    expect(bus.readMany(ids)).toEqual([Uint8Array.of(4), Uint8Array.of(4), Uint8Array.of(4), Uint8Array.of(4)]);
    const stats = bus.propagationStats;
    expect(stats).toMatchObject({ waves: 1, recomputed: 3, changed: 3, cutOff: 0, failed: 0, largestWave: 3, maxHeight: 3 });
    expect(stats.lastWaveMs).toBeGreaterThanOrEqual(0);
    await bus.addEdge(ids[0]!, ids[3]!);
    await bus.addEdge(ids[1]!, ids[3]!);
    bus.recompute(ids[3]!, 'xor');
    await bus.apply({ pageId: ids[0]!, payload: dense(Uint8Array.of(5)) });
    expect(bus.read(ids[3]!)).toEqual(Uint8Array.of(5 ^ 5 ^ 5));
    await bus.close();
    const small = await Bus.open(':memory:', { waveLimit: 2 });
    const [root, a, b, c] = await small.createPages(4, { size: 1 });
    for (const child of [a!, b!, c!]) {
      await small.addEdge(root!, child);
      small.recompute(child, 'copy');
    }
    await expectMmsbError(() => small.apply({ pageId: root!, payload: dense(Uint8Array.of(1)) }), ErrorCode.WAVE_LIMIT);
    expect(small.readMany([a!, b!, c!])).toEqual([Uint8Array.of(0), Uint8Array.of(0), Uint8Array.of(0)]);
    expect(small.propagationStats).toMatchObject({ waves: 0, failed: 1, largestWave: 0 });
    await small.close();
  });

  it('a recompute may fill and return `out`; a JavaScript child between built-ins sees their staged outputs', async () => {
    const bus = Bus.memory();
    const [source, copied, doubled, copiedAgain] = await bus.createPages(4, { size: 2 });
    await bus.addEdge(source!, copied!);
    await bus.addEdge(copied!, doubled!);
    await bus.addEdge(doubled!, copiedAgain!);
    bus.recompute(copied!, 'copy');
    bus.recompute(doubled!, ([parent], _current, _child, out) => {
      out!.set(parent!.map((byte) => byte * 2));
      return out!;
    });
    bus.recompute(copiedAgain!, 'copy');
    await bus.apply({ pageId: source!, payload: dense(Uint8Array.of(3, 4)) });
    expect(bus.readMany([copied!, doubled!, copiedAgain!])).toEqual([Uint8Array.of(3, 4), Uint8Array.of(6, 8), Uint8Array.of(6, 8)]);
    expect(bus.propagationStats).toMatchObject({ waves: 1, recomputed: 3, changed: 3 });
    // The same bytes again: every recompute is cut off, nothing is written.
    const lsn = bus.lsn;
    await bus.apply({ pageId: source!, payload: dense(Uint8Array.of(3, 4)) });
    expect(bus.lsn).toBe(lsn + 1);
    expect(bus.propagationStats).toMatchObject({ waves: 2, recomputed: 4, changed: 3, cutOff: 1 });
  });

  it('a wave that needs more memory than the bus holds for waves grows it, and again for a larger one', async () => {
    const bus = Bus.memory();
    const [source, ...children] = await bus.createPages(401, { size: 16 });
    for (const [index, child] of children.entries()) {
      await bus.addEdge(source!, child);
      // Every other child a built-in, so the JavaScript phase reads across the whole staging area.
      bus.recompute(child, index % 2 === 0 ? 'copy' : ([parent]) => parent!.map((byte) => byte + index));
    }
    for (const count of [100, 400]) {
      for (const child of children.slice(count)) bus.recompute(child, null);
      const fill = count / 100;
      await bus.apply({ pageId: source!, payload: dense(new Uint8Array(16).fill(fill)) });
      const expected = children.map((_, index) => new Uint8Array(16).fill(index >= count ? 0 : index % 2 === 0 ? fill : fill + index));
      expect(bus.readMany(children)).toEqual(expected);
      for (const [index, child] of children.entries()) {
        bus.recompute(child, index % 2 === 0 ? 'copy' : ([parent]) => parent!.map((byte) => byte + index));
      }
    }
  });

  it('a recompute that writes to the bus is refused, nothing applied; the wave it runs in completes', async () => {
    const bus = Bus.memory();
    const [source, derived, other] = await bus.createPages(3, { size: 1 });
    await bus.addEdge(source!, derived!);
    await bus.addEdge(other!, derived!);
    let nested: Promise<unknown> | undefined;
    bus.recompute(derived!, ([parent]) => {
      nested ??= bus.apply({ pageId: other!, payload: dense(Uint8Array.of(9)) });
      return Uint8Array.from(parent!);
    });
    await bus.apply({ pageId: source!, payload: dense(Uint8Array.of(7)) });
    await expectMmsbError(() => nested, ErrorCode.INVALID_ARGUMENT);
    expect(bus.readMany([source!, derived!, other!])).toEqual([Uint8Array.of(7), Uint8Array.of(7), Uint8Array.of(0)]);
    expect(bus.page(other!).epoch).toBe(0);
  });
});
