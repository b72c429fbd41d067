/**
 * `mmsb stress`: the parts of the workload run side by side until the
 * duration elapses (or SIGINT/SIGTERM), each on its own data directories
 * and its own stream of choices from the seed: three in-process lanes (one
 * per fsync policy), the crash lane (a child writer killed with SIGKILL and
 * recovered) and the bridge lane (a server and its clients). The memory
 * watch samples every second; a progress line goes out periodically; the
 * summary at the end, as text or JSON. Exit code 0 only without violations.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { ErrorCode, MmsbError } from '@mmsb/bus';

import { BridgeLane } from './bridge-lane.js';
import { parseStressOptions, reproduceCommand, type StressOptions } from './command.js';
import type { RunContext } from './context.js';
import { CrashLane } from './crash-lane.js';
import { formatDuration } from './durations.js';
import { Violations } from './invariants.js';
import { MemoryWatch, warmupMsFor } from './memory.js';
import { plantFromEnvironment } from './plant.js';
import { progressLine } from './progress.js';
import { Random } from './random.js';
import { buildReport, summaryLines, type StressReport } from './report.js';
import { Stop } from './stop.js';
import { Tally } from './tally.js';
import { BusLane } from './workload.js';

/** Writes one line of output. */
export type Print = (line: string) => void;

/** Failed generations whose directories are kept; later ones are removed. */
const KEPT_DIRECTORIES_MAX = 3;
const MEMORY_SAMPLE_MS = 1000;

/** The data root: `--data` (new or empty), or a temporary directory. */
function dataRoot(options: StressOptions): string {
  if (options.data === undefined) return mkdtempSync(join(tmpdir(), 'mmsb-stress-data-'));
  const root = resolve(options.data);
  mkdirSync(root, { recursive: true });
  if (readdirSync(root).length > 0) {
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `--data ${root} is not empty: give a new or empty directory (the run makes its own inside)`,
    );
  }
  return root;
}

/** Runs `mmsb stress` with `argv` (the arguments after `stress`); returns the exit code. */
export async function runStress(argv: readonly string[], print: Print): Promise<number> {
  const options = parseStressOptions(argv);
  const plant = plantFromEnvironment();
  // With --json, stdout holds the summary alone.
  const say: Print = options.json ? (line) => void process.stderr.write(`${line}\n`) : print;
  const root = dataRoot(options);
  const runtime = mkdtempSync(join(tmpdir(), 'mmsb-stress-'));
  const started = Date.now();
  const stop = new Stop(options.durationMs);
  const tally = new Tally();
  const violations = new Violations(started, (violation) =>
    say(`VIOLATION ${formatDuration(violation.atMs)} ${violation.part}: ${violation.invariant}: ${violation.detail}`),
  );
  const memory = new MemoryWatch(started, warmupMsFor(options.durationMs), violations);
  const keptDirectories: string[] = [];
  const context: RunContext = {
    root,
    runtime,
    tally,
    violations,
    stop,
    plant,
    keepFailed(directory) {
      if (keptDirectories.length < KEPT_DIRECTORIES_MAX) keptDirectories.push(directory);
      else rmSync(directory, { recursive: true, force: true });
    },
  };
  const reproduce = reproduceCommand(options, plant);
  const report = (): StressReport =>
    buildReport({
      ...options,
      running: stop.reason === undefined,
      stoppedBy: stop.reason,
      started,
      reproduce,
      plant,
      tally,
      memory,
      violations,
      dataDirectory: root,
      keptDirectories,
    });
  const writeReport = (): void => {
    if (options.report !== undefined) writeFileSync(options.report, `${JSON.stringify(report(), null, 2)}\n`);
  };

  const planted = plant === undefined ? '' : `, planted bug ${plant}`;
  say(`stress: seed ${options.seed}, duration ${formatDuration(options.durationMs)}, data in ${root}${planted}`);
  say(`reproduce: ${reproduce}`);
  const interrupt = (signal: string): void => stop.request(`stopped by ${signal}`);
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const sampler = setInterval(() => memory.sample(), MEMORY_SAMPLE_MS);
  try {
    memory.sample();
    const parts = [
      ...(['always', 'interval', 'never'] as const).map(
        (policy) => new BusLane(context, policy, Random.stream(options.seed, 'lane', policy)),
      ),
      new CrashLane(context, Random.stream(options.seed, 'child writer')),
      new BridgeLane(context, Random.stream(options.seed, 'bridge')),
    ];
    const running = Promise.all(parts.map((part) => part.run().catch((error: unknown) => violations.recordError('run', error))));
    while (!stop.requested) {
      await stop.sleep(options.progressMs);
      say(progressLine(Date.now() - started, tally, memory, violations.count));
      writeReport();
    }
    await running;
    memory.sample();
  } finally {
    clearInterval(sampler);
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    rmSync(runtime, { recursive: true, force: true });
  }
  const final = report();
  writeReport();
  if (options.json) print(JSON.stringify(final, null, 2));
  else for (const line of summaryLines(final)) print(line);
  if (options.data === undefined && violations.count === 0) rmSync(root, { recursive: true, force: true });
  return violations.count === 0 ? 0 : 1;
}
