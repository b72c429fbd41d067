// Timing helpers shared by the benchmarks: repeated samples, medians, and a
// description of the machine, because these machines are noisy and a number
// means little without the baseline measured beside it.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * Runs `body` (which performs `opsPerCall` operations) until `minMs` have
 * passed, `samples` times; returns the median nanoseconds per operation.
 * @param {() => unknown} body
 * @param {{ opsPerCall?: number, samples?: number, minMs?: number }} [options]
 */
export async function nsPerOp(body, { opsPerCall = 1, samples = 7, minMs = 150 } = {}) {
  for (let warm = 0; warm < 3; warm++) await body();
  const results = [];
  for (let sample = 0; sample < samples; sample++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      await body();
      calls++;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < BigInt(minMs) * 1_000_000n);
    results.push(Number(elapsed) / (calls * opsPerCall));
  }
  return median(results);
}

/** @param {number[]} values */
export function median(values) {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** @param {string} command @param {string[]} args */
function commandOutput(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    rustc: commandOutput('rustc', ['--version']),
    commit: commandOutput('git', ['rev-parse', '--short', 'HEAD']),
  };
}

/** @param {number} bytes @param {number} ns */
export function gbPerSecond(bytes, ns) {
  return bytes / ns;
}
