// The parts of the stress daemon that decide without running a workload:
// seeded choices, durations and options, the memory bound, the oracle's wave.
import { describe, expect, it } from 'vitest';

import { Bus, dense, MmsbError } from '@mmsb/bus';

import { parseStressOptions, reproduceCommand } from '../src/command.js';
import { crashOperation } from '../src/crash-workload.js';
import { formatDuration, parseDuration } from '../src/durations.js';
import { Violations, type Violation } from '../src/invariants.js';
import { LaneModel, mix } from '../src/lane-model.js';
import { MemoryWatch } from '../src/memory.js';
import { Random } from '../src/random.js';

const MIB = 1024 * 1024;

describe('stress choices', () => {
  it('a seed makes the same choices every time, and another seed or stream others', () => {
    const draws = (random: Random) => Array.from({ length: 64 }, () => random.bits());
    expect(draws(Random.stream(7, 'lane', 'always'))).toEqual(draws(Random.stream(7, 'lane', 'always')));
    expect(draws(Random.stream(7, 'lane', 'always'))).not.toEqual(draws(Random.stream(8, 'lane', 'always')));
    expect(draws(Random.stream(7, 'lane', 'always'))).not.toEqual(draws(Random.stream(7, 'lane', 'never')));
    expect(draws(Random.stream(7).fork('a'))).toEqual(draws(Random.stream(7).fork('a')));
    for (const k of [0, 1, 2, 500]) expect(crashOperation(99, k)).toEqual(crashOperation(99, k));
    expect(crashOperation(99, 3)).not.toEqual(crashOperation(100, 3));
  });

  it('durations take a number and a unit within bounds, and print back', () => {
    expect(parseDuration('60s', 'd', 1000, 1e12)).toBe(60_000);
    expect(parseDuration('1.5h', 'd', 1000, 1e12)).toBe(5_400_000);
    expect(parseDuration('7d', 'd', 1000, 1e12)).toBe(604_800_000);
    for (const bad of ['60', 's', '-1s', '1 s', '0s', '2y', '']) {
      expect(() => parseDuration(bad, '--duration', 1000, 1e12), bad).toThrow(MmsbError);
    }
    expect(formatDuration(3_723_000)).toBe('1h2m3s');
    expect(formatDuration(604_800_000)).toBe('7d');
  });

  it('options: seeds from 0 to 2^32 - 1, the reproduce command, a 7-day run', () => {
    const week = parseStressOptions(['--seed', '4294967295', '--duration', '7d']);
    expect(week).toMatchObject({ seed: 4294967295, durationMs: 604_800_000, progressMs: 300_000 });
    expect(reproduceCommand(week, undefined)).toBe('mmsb stress --seed 4294967295 --duration 7d');
    expect(parseStressOptions([]).durationMs).toBe(60_000);
    for (const seed of ['4294967296', '-1', '1e3', '0x10']) {
      expect(() => parseStressOptions([`--seed=${seed}`]), seed).toThrow(/--seed must be a whole number/);
    }
    expect(() => parseStressOptions(['--duration', '31d'])).toThrow(/from 1s to 30d/);
  });

  it('the memory watch reports a resident set past its bound after warm-up, once per excursion', () => {
    const found: Violation[] = [];
    let rss = 100 * MIB;
    const watch = new MemoryWatch(0, 10_000, new Violations(0, (violation) => found.push(violation)), () => rss);
    watch.sample(5000);
    rss = 150 * MIB;
    watch.sample(9000);
    watch.sample(20_000);
    expect(watch.boundBytes).toBe(150 * MIB + 128 * MIB);
    expect(found).toEqual([]);
    rss = 300 * MIB;
    watch.sample(21_000);
    watch.sample(22_000);
    expect(found.map((violation) => violation.invariant)).toEqual(['memory-unbounded']);
    rss = 200 * MIB;
    watch.sample(23_000);
    rss = 400 * MIB;
    watch.sample(24_000);
    expect(found).toHaveLength(2);
  });

  it("the oracle's wave matches the bus's: heights, cutoff, built-ins and a JavaScript recompute", async () => {
    const bus = Bus.memory();
    const model = new LaneModel();
    const [a, b, copy, xor, mixed] = await bus.createPages(5, { size: 16 });
    for (const id of [a, b, copy, xor, mixed]) model.create(id!, 16);
    const wire = async (child: number, transform: 'copy' | 'xor' | 'mix', parents: number[]) => {
      for (const parent of parents) await bus.addEdge(parent, child);
      bus.recompute(child, transform === 'mix' ? (inputs, _current, _child, out) => mix(inputs, 16, out) : transform);
      model.derive(child, transform, parents);
    };
    await wire(copy!, 'copy', [a!]);
    await wire(xor!, 'xor', [copy!, b!]);
    await wire(mixed!, 'mix', [xor!, a!]);
    const random = Random.stream(3, 'wave');
    for (let step = 0; step < 200; step++) {
      const page = random.pick([a!, b!]);
      // Half the writes repeat the bytes the page has, so outputs repeat and cutoff happens.
      const bytes = random.chance(0.5) ? model.bytes(page).slice() : random.bytes(16);
      await bus.apply({ pageId: page, payload: dense(bytes) });
      model.apply(page, dense(bytes));
      model.wave([page]);
      expect(model.differences(bus), `step ${step}`).toBeUndefined();
    }
  });
});
