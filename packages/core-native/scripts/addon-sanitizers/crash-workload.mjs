// The crash test's workload (packages/bus/test/crash/) for valgrind
// (`addon-sanitizers.sh valgrind`): a child with fsync 'always' and four
// concurrent writers is killed with SIGKILL `kills` times; after each kill the
// directory is recovered here and must hold operations 0..n for an n that
// includes every acknowledged one, which an in-memory oracle decides, as in
// packages/bus/test/crash.test.ts. A child that ends otherwise (valgrind ends
// one at its first error) fails the run with the child's output.
//   node crash-workload.mjs [kills] [seed]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Bus } from '../../../bus/dist/index.js';
import { operation, setup } from '../../../bus/test/crash/workload.mjs';

const kills = Number(process.argv[2] ?? 3);
const seed = Number(process.argv[3] ?? 1 + Math.floor(Math.random() * 1_000_000));
const WRITERS = 4;
const writerScript = fileURLToPath(new URL('../../../bus/test/crash/writer.mjs', import.meta.url));

/** Starts the child at operation `start`, kills it `runMs` after it is ready, and reports what it printed. */
function runAndKill(directory, start, runMs) {
  return new Promise((resolve, reject) => {
    const args = [...process.execArgv, writerScript, directory, String(start), String(seed), String(WRITERS)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const run = { submitted: start - 1, acknowledged: start - 1 };
    let pending = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), runMs);
        const [tag, number] = line.split(' ');
        if (tag === 's') run.submitted = Math.max(run.submitted, Number(number));
        if (tag === 'a') run.acknowledged = Math.max(run.acknowledged, Number(number));
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(run);
      else reject(new Error(`the writer exited with ${code}:\n${stderr}`));
    });
  });
}

const directory = mkdtempSync(join(tmpdir(), 'mmsb-crash-workload-'));
try {
  const oracle = Bus.memory();
  let applied = -1;
  for (let kill = 0; kill < kills; kill++) {
    const run = await runAndKill(directory, applied + 1, 500 + Math.floor(Math.random() * 1500));
    const recovered = await Bus.open(directory);
    const hash = recovered.stateHash();
    await recovered.close();
    let matched = applied === -1 ? false : oracle.stateHash() === hash && applied >= run.acknowledged;
    while (!matched && applied < run.submitted) {
      applied++;
      await (applied === 0 ? setup(oracle) : operation(applied, seed)(oracle));
      matched = applied >= run.acknowledged && oracle.stateHash() === hash;
    }
    if (!matched) throw new Error(`kill ${kill} (seed ${seed}): recovered state is not operations 0..n for n ≥ ${run.acknowledged}`);
    process.stdout.write(`kill ${kill}: ${run.acknowledged + 1} operations acknowledged, recovered through operation ${applied}\n`);
  }
  await oracle.close();
} finally {
  rmSync(directory, { recursive: true, force: true });
}
