// Kill -9 at random moments: a child writes under fsync 'always' and reports
// each acknowledgement; after every kill the directory is recovered and must
// hold exactly the operations 0..n for some n that includes every
// acknowledged one (nothing acknowledged is lost, nothing after a gap
// appears), which the state hash of an in-memory oracle decides.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { Bus } from '../src/index.js';
import { scratchDirectory } from './support.js';
// @ts-expect-error: the workload is plain JavaScript shared with the child process.
import { operation, setup } from './crash/workload.mjs';

type Perform = (bus: Bus) => Promise<unknown>;
const operationOf = operation as (k: number, seed: number) => Perform;
const setupOf = setup as (bus: Bus) => Promise<unknown>;

const KILLS = Number(process.env.MMSB_CRASH_KILLS ?? 50);
const WRITERS = 4;
const writerScript = fileURLToPath(new URL('./crash/writer.mjs', import.meta.url));

interface Run {
  submitted: number;
  acknowledged: number;
}

/** Starts the child at operation `start`, kills it after `runMs` of work, and reports what it printed. */
function runAndKill(directory: string, start: number, seed: number, runMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writerScript, directory, String(start), String(seed), String(WRITERS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = { submitted: start - 1, acknowledged: start - 1 };
    let pending = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), runMs);
        const [tag, number] = line.split(' ');
        if (tag === 's') run.submitted = Math.max(run.submitted, Number(number));
        if (tag === 'a') run.acknowledged = Math.max(run.acknowledged, Number(number));
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(run);
      else reject(new Error(`the writer exited with ${code}: ${stderr}`));
    });
  });
}

describe('crash consistency', () => {
  it(`recovers every acknowledged operation and nothing past a gap across ${KILLS} kill -9s`, async () => {
    const directory = scratchDirectory('crash');
    const seed = 1 + Math.floor(Math.random() * 1_000_000);
    const oracle = Bus.memory();
    let applied = -1;
    for (let kill = 0; kill < KILLS; kill++) {
      const run = await runAndKill(directory, applied + 1, seed, 5 + Math.floor(Math.random() * 60));
      const recovered = await Bus.open(directory);
      const hash = recovered.stateHash();
      await recovered.close();
      let matched = applied === -1 ? false : oracle.stateHash() === hash && applied >= run.acknowledged;
      while (!matched && applied < run.submitted) {
        applied++;
        await (applied === 0 ? setupOf(oracle) : operationOf(applied, seed)(oracle));
        matched = applied >= run.acknowledged && oracle.stateHash() === hash;
      }
      expect(matched, `kill ${kill} (seed ${seed}): recovered state is not operations 0..n for n ≥ ${run.acknowledged}`).toBe(true);
    }
    expect(applied).toBeGreaterThan(KILLS);
  }, 600_000);
});
