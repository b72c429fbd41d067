// `mmsb stress` through the real command line (node packages/bus/bin/mmsb.js,
// so the built @mmsb/bus and @mmsb/stress): a minute of the whole mixed
// workload finds no violation; each planted bug is reported as a violation
// with exit code 1; bad arguments are usage errors; SIGINT stops a run cleanly.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { PLANTS, type Plant, type StressReport } from '../src/index.js';

const CLI = fileURLToPath(new URL('../../../packages/bus/bin/mmsb.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'mmsb-stress-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function stress(args: readonly string[], environment: NodeJS.ProcessEnv = {}, started?: (child: ChildProcess) => void): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'stress', ...args], {
      env: { ...process.env, MMSB_STRESS_PLANT: '', ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function readReport(path: string): StressReport {
  return JSON.parse(readFileSync(path, 'utf8')) as StressReport;
}

describe('mmsb stress', () => {
  // Seven node processes one after another: on a loaded 2-core machine they outlast vitest's default 5 s.
  it('refuses a bad seed, duration, planted bug, --data or --report as a usage error (exit 2) before it starts', async () => {
    const seed = await stress(['--seed', '12x', '--duration', '5s']);
    expect(seed.code).toBe(2);
    expect(seed.stderr).toMatch(/^mmsb stress: INVALID_ARGUMENT: --seed must be a whole number from 0 to 4294967295 \(got "12x"\)/);
    const duration = await stress(['--seed', '1', '--duration', '60']);
    expect(duration.code).toBe(2);
    expect(duration.stderr).toMatch(/^mmsb stress: INVALID_ARGUMENT: --duration must be a number and a unit/);
    const plant = await stress(['--duration', '5s'], { MMSB_STRESS_PLANT: 'typo' });
    expect(plant.code).toBe(2);
    expect(plant.stderr).toMatch(/^mmsb stress: INVALID_ARGUMENT: MMSB_STRESS_PLANT must be one of/);
    expect((await stress(['--frobnicate'])).code).toBe(2);
    expect((await stress(['--seed', '-1'])).code).toBe(2);
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    const data = await stress(['--duration', '5s', '--data', file]);
    expect(data.code).toBe(1);
    expect(data.stderr).toContain(`INVALID_ARGUMENT: --data ${file} is not a directory`);
    const report = await stress(['--duration', '5s', '--report', join(scratch, 'missing', 'r.json')]);
    expect(report.code).toBe(1);
    expect(report.stderr).toContain('INVALID_ARGUMENT: --report');
    expect(readdirSync(scratch)).toEqual(['a-file']);
  }, 60_000);

  it('stops cleanly at SIGINT before its duration, with its summary and exit code 130', async () => {
    const data = join(scratch, 'interrupted');
    const child = stress(['--seed', '3', '--duration', '60s', '--data', data], {}, (process) => {
      setTimeout(() => process.kill('SIGINT'), 4000);
    });
    const run = await child;
    expect(run.code, run.stdout).toBe(130);
    expect(run.stdout).toContain('stopped by SIGINT before its duration');
    expect(run.stdout).toMatch(/violations +0/);
  }, 60_000);

  it('--help describes the command', async () => {
    const help = await stress(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--duration <d>');
  }, 30_000);

  it('runs a minute of every part of the workload with its invariants checked and none violated', async () => {
    const report = join(scratch, 'minute.json');
    const run = await stress(['--seed', '1', '--duration', '60s', '--report', report]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('reproduce: mmsb stress --seed 1 --duration 60s');
    const { counts, violations, memory, seed } = readReport(report);
    expect(seed).toBe(1);
    expect(violations).toBe(0);
    expect(counts.operations).toBeGreaterThan(1000);
    expect(counts.kills).toBeGreaterThanOrEqual(1);
    expect(counts.recoveries).toBe(counts.kills);
    for (const figure of ['deltas', 'batches', 'checkpoints', 'waves', 'timeTravelReads', 'replayChecks', 'reopens', 'refusals'] as const) {
      expect(counts[figure], figure).toBeGreaterThan(0);
    }
    expect(counts.bridgeSessions).toBeGreaterThan(0);
    expect(counts.handleChecks).toBeGreaterThan(0);
    expect(memory.boundRssBytes).toBeGreaterThan(memory.baselineRssBytes);
    expect(memory.peakRssBytes).toBeLessThanOrEqual(memory.boundRssBytes!);
  }, 180_000);

  it('reports every planted bug as a violation of its invariant and exits 1', async () => {
    const expected: Record<Plant, string> = {
      'stray-write': 'live-state-differs',
      'lost-write': 'acknowledged-write-lost',
      'held-handle': 'handles-unbalanced',
      'leaked-fd': 'resources-unbounded',
    };
    const plants = Object.keys(PLANTS) as Plant[];
    // Side by side: each is found within seconds, and the run waits for the slowest (an expiry timeout).
    const runs = await Promise.all(
      plants.map(async (plant) => {
        const report = join(scratch, `${plant}.json`);
        // The resource bound applies after the warm-up (10 s at least); the others get as long, since the run waits for
        // the slowest anyway: four runs side by side on a loaded 2-core machine can go 8 s without a kill that finds a lost write.
        const duration = '14s';
        const data = join(scratch, `${plant}-data`);
        const run = await stress(['--seed', '1', '--duration', duration, '--report', report, '--data', data], { MMSB_STRESS_PLANT: plant });
        return { plant, run, duration, report: readReport(report) };
      }),
    );
    for (const { plant, run, duration, report } of runs) {
      expect(run.code, `${plant}: ${run.stdout}`).toBe(1);
      expect(run.stdout).toContain(`VIOLATION`);
      expect(run.stdout).toContain(`reproduce: MMSB_STRESS_PLANT=${plant} mmsb stress --seed 1 --duration ${duration}`);
      expect(report.violationsByInvariant, plant).toHaveProperty(expected[plant]);
    }
  }, 120_000);
});
