// The kill -9 loop shared by the crash test (packages/bus/test/crash.test.ts)
// and the addon sanitizers' crash workload: a writer child is killed at a
// random moment, then the recovered directory must hold operations 0..n for
// an n that includes every acknowledged one, which an in-memory oracle
// (the same operations applied in order) decides by state hash.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { operation, setup } from './workload.mjs';

const writerScript = fileURLToPath(new URL('./writer.mjs', import.meta.url));

/**
 * Starts the writer at operation `start` with `writers` concurrent writers,
 * kills it with SIGKILL `runMs` after it is ready, and resolves with the
 * highest operations it reported submitted and acknowledged. A writer that
 * ends otherwise rejects with its output.
 * @param {{ directory: string, start: number, seed: number, writers: number, runMs: number, nodeArgs?: string[] }} options
 * @returns {Promise<{ submitted: number, acknowledged: number }>}
 */
export function runAndKill({ directory, start, seed, writers, runMs, nodeArgs = [] }) {
  return new Promise((resolve, reject) => {
    const args = [...nodeArgs, writerScript, directory, String(start), String(seed), String(writers)];
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

/**
 * Advances `oracle` (which holds operations 0..`applied`) until its state
 * hash equals `hash` at an operation no earlier than `run.acknowledged`, or
 * past `run.submitted`. Resolves with whether it matched and the operations
 * the oracle now holds.
 * @param {{ stateHash(): string }} oracle
 * @param {number} applied
 * @param {{ submitted: number, acknowledged: number }} run
 * @param {string} hash
 * @param {number} seed
 * @returns {Promise<{ matched: boolean, applied: number }>}
 */
export async function matchRecovered(oracle, applied, run, hash, seed) {
  let matched = applied !== -1 && oracle.stateHash() === hash && applied >= run.acknowledged;
  while (!matched && applied < run.submitted) {
    applied++;
    await (applied === 0 ? setup(oracle) : operation(applied, seed)(oracle));
    matched = applied >= run.acknowledged && oracle.stateHash() === hash;
  }
  return { matched, applied };
}
