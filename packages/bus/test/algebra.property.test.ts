// Property tests of the delta algebra through the public API: batches equal
// their deltas one by one, the three forms of a change agree, and every
// state is what a plain byte-array model says it is.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { Bus, dense, mergePayloads, ranges, sparseFromBytes, type Delta, type DeltaPayload } from '../src/index.js';

const SIZE_MAX = 90;

/** A change: for each page byte, the new value or nothing. */
type Change = (number | null)[];

const change = (size: number): fc.Arbitrary<Change> =>
  fc.array(fc.option(fc.integer({ min: 0, max: 255 }), { freq: 2 }), { minLength: size, maxLength: size });

function applyModel(page: Uint8Array, written: Change): void {
  written.forEach((byte, index) => {
    if (byte !== null) page[index] = byte;
  });
}

function asPayload(written: Change, form: 'dense' | 'sparse' | 'ranges', current: Uint8Array): DeltaPayload {
  if (form === 'dense') {
    const next = Uint8Array.from(current);
    applyModel(next, written);
    return dense(next);
  }
  if (form === 'sparse') {
    return sparseFromBytes(
      written.length,
      written.flatMap((byte, index) => (byte === null ? [] : [[index, byte] as const])),
    );
  }
  const writes: { offset: number; bytes: number[] }[] = [];
  written.forEach((byte, index) => {
    if (byte === null) return;
    const last = writes.at(-1);
    if (last !== undefined && last.offset + last.bytes.length === index) last.bytes.push(byte);
    else writes.push({ offset: index, bytes: [byte] });
  });
  return ranges(writes.map(({ offset, bytes }) => ({ offset, bytes: Uint8Array.from(bytes) })));
}

const form = fc.constantFrom('dense' as const, 'sparse' as const, 'ranges' as const);

const scenario = fc.integer({ min: 1, max: 4 }).chain((pages) =>
  fc.tuple(
    fc.array(fc.integer({ min: 1, max: SIZE_MAX }), { minLength: pages, maxLength: pages }),
    fc.array(fc.tuple(fc.nat(pages - 1), form, fc.context()), { minLength: 1, maxLength: 12 }),
    fc.array(fc.array(fc.option(fc.integer({ min: 0, max: 255 }), { freq: 2 }), { minLength: SIZE_MAX, maxLength: SIZE_MAX }), {
      minLength: 12,
      maxLength: 12,
    }),
  ),
);

describe('delta algebra', () => {
  it('a batch gives the same state as its deltas applied one by one, and both match the model', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ([sizes, steps, changes]) => {
        const single = Bus.memory();
        const batched = Bus.memory();
        const ids: number[] = [];
        for (const size of sizes) {
          ids.push(await single.createPage({ size }));
          await batched.createPage({ size });
        }
        const model = sizes.map((size) => new Uint8Array(size));
        const deltas: Delta[] = [];
        for (const [stepIndex, [pageIndex, stepForm]] of steps.entries()) {
          const written = changes[stepIndex]!.slice(0, sizes[pageIndex]);
          const payload = asPayload(written, stepForm, model[pageIndex]!);
          applyModel(model[pageIndex]!, written);
          const delta: Delta = { pageId: ids[pageIndex]!, payload };
          deltas.push(delta);
          await single.apply(delta);
        }
        await batched.applyBatch(deltas);
        expect(batched.stateHash()).toBe(single.stateHash());
        expect(single.readMany(ids)).toEqual(model);
      }),
      { numRuns: 150 },
    );
  });

  it('dense, sparse and ranges forms of one change give identical pages and hashes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: SIZE_MAX }).chain((size) => fc.tuple(fc.uint8Array({ minLength: size, maxLength: size }), change(size))),
        async ([base, written]) => {
          const hashes = new Set<string>();
          for (const payloadForm of ['dense', 'sparse', 'ranges'] as const) {
            const bus = Bus.memory();
            const id = await bus.createPage({ size: base.length });
            await bus.apply({ pageId: id, payload: dense(base) });
            await bus.apply({ pageId: id, payload: asPayload(written, payloadForm, base) });
            hashes.add(bus.stateHash());
          }
          expect(hashes.size).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('applying mergePayloads(a, b) equals applying a, then b', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: SIZE_MAX })
          .chain((size) => fc.tuple(fc.uint8Array({ minLength: size, maxLength: size }), change(size), change(size), form, form)),
        async ([base, first, second, firstForm, secondForm]) => {
          const bus = Bus.memory();
          const sequential = await bus.createPage({ size: base.length });
          const merged = await bus.createPage({ size: base.length });
          await bus.applyBatch([sequential, merged].map((pageId) => ({ pageId, payload: dense(base) })));
          const a = asPayload(first, firstForm, base);
          await bus.apply({ pageId: sequential, payload: a });
          const b = asPayload(second, secondForm, bus.read(sequential));
          await bus.apply({ pageId: sequential, payload: b });
          await bus.apply({ pageId: merged, payload: mergePayloads(base.length, a, b) });
          expect(bus.read(merged)).toEqual(bus.read(sequential));
        },
      ),
      { numRuns: 200 },
    );
  });
});
