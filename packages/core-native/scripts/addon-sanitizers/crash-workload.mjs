// The crash test's workload (packages/bus/test/crash/) for valgrind
// (`addon-sanitizers.sh valgrind`): a child with fsync 'always' and four
// concurrent writers is killed with SIGKILL `kills` times; after each kill the
// directory is recovered here and must hold operations 0..n for an n that
// includes every acknowledged one, which an in-memory oracle decides, as in
// packages/bus/test/crash.test.ts. A child that ends otherwise (valgrind ends
// one at its first error) fails the run with the child's output.
//   node crash-workload.mjs [kills] [seed]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Bus } from '../../../bus/dist/index.js';
import { matchRecovered, runAndKill } from '../../../bus/test/crash/kill-loop.mjs';

const kills = Number(process.argv[2] ?? 3);
const seed = Number(process.argv[3] ?? 1 + Math.floor(Math.random() * 1_000_000));
const WRITERS = 4;

const directory = mkdtempSync(join(tmpdir(), 'mmsb-crash-workload-'));
try {
  const oracle = Bus.memory();
  let applied = -1;
  for (let kill = 0; kill < kills; kill++) {
    const runMs = 500 + Math.floor(Math.random() * 1500);
    const run = await runAndKill({ directory, start: applied + 1, seed, writers: WRITERS, runMs, nodeArgs: process.execArgv });
    const recovered = await Bus.open(directory);
    const hash = recovered.stateHash();
    await recovered.close();
    const found = await matchRecovered(oracle, applied, run, hash, seed);
    applied = found.applied;
    const what = `kill ${kill} (seed ${seed}): recovered state is not operations 0..n for n ≥ ${run.acknowledged}`;
    if (!found.matched) throw new Error(what);
    process.stdout.write(`kill ${kill}: ${run.acknowledged + 1} operations acknowledged, recovered through operation ${applied}\n`);
  }
  await oracle.close();
} finally {
  rmSync(directory, { recursive: true, force: true });
}
