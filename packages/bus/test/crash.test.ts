// Kill -9 at random moments: a child writes under fsync 'always' and reports
// each acknowledgement; after every kill the directory is recovered and must
// hold exactly the operations 0..n for some n that includes every
// acknowledged one (nothing acknowledged is lost, nothing after a gap
// appears), which the state hash of an in-memory oracle decides.
import { describe, expect, it } from 'vitest';

import { Bus } from '../src/index.js';
import { scratchDirectory } from './support.js';
// @ts-expect-error: the loop is plain JavaScript shared with the addon sanitizers' crash workload.
import { matchRecovered, runAndKill } from './crash/kill-loop.mjs';

interface Run {
  submitted: number;
  acknowledged: number;
}
const kill = runAndKill as (options: { directory: string; start: number; seed: number; writers: number; runMs: number }) => Promise<Run>;
const match = matchRecovered as (
  oracle: Bus,
  applied: number,
  run: Run,
  hash: string,
  seed: number,
) => Promise<{ matched: boolean; applied: number }>;

const KILLS = Number(process.env.MMSB_CRASH_KILLS ?? 50);
const WRITERS = 4;

describe('crash consistency', () => {
  it(`recovers every acknowledged operation and nothing past a gap across ${KILLS} kill -9s`, async () => {
    const directory = scratchDirectory('crash');
    const seed = 1 + Math.floor(Math.random() * 1_000_000);
    const oracle = Bus.memory();
    let applied = -1;
    for (let round = 0; round < KILLS; round++) {
      const runMs = 5 + Math.floor(Math.random() * 60);
      const run = await kill({ directory, start: applied + 1, seed, writers: WRITERS, runMs });
      const recovered = await Bus.open(directory);
      const hash = recovered.stateHash();
      await recovered.close();
      const found = await match(oracle, applied, run, hash, seed);
      applied = found.applied;
      const what = `kill ${round} (seed ${seed}): recovered state is not operations 0..n for n ≥ ${run.acknowledged}`;
      expect(found.matched, what).toBe(true);
    }
    expect(applied).toBeGreaterThan(KILLS);
  }, 600_000);
});
