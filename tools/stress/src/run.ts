/**
 * `mmsb stress`: the parts of the workload run side by side until the
 * duration elapses (or SIGINT/SIGTERM), each on its own data directories
 * and its own stream of choices from the seed: three in-process lanes (one
 * per fsync policy), the crash lane (a child writer killed with SIGKILL and
 * recovered) and the bridge lane (a server and its clients). The memory
 * watch samples every second; a progress line goes out periodically; the
 * summary at the end, as text or JSON. Exit code 0 only without violations.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { ErrorCode, MmsbError } from '@mmsb/bus';

import { BridgeLane } from './bridge-lane.js';
import { parseStressOptions, reproduceCommand, type StressOptions } from './command.js';
import type { RunContext } from './context.js';
import { CrashLane } from './crash-lane.js';
import { formatDuration } from './durations.js';
import { Violations } from './invariants.js';
import { MemoryWatch, warmupMsFor } from './memory.js';
import { type Plant, plantFromEnvironment } from './plant.js';
import { progressLine } from './progress.js';
import { ResourceWatch } from './resources.js';
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
  if (existsSync(root) && !statSync(root).isDirectory()) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `--data ${root} is not a directory`);
  }
  try {
    mkdirSync(root, { recursive: true });
  } catch (error) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `--data ${root} cannot be made: ${(error as Error).message}`, { cause: error });
  }
  if (readdirSync(root).length > 0) {
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `--data ${root} is not empty: give a new or empty directory (the run makes its own inside)`,
    );
  }
  return root;
}

/** Checks that the report can be written where asked, before the run starts. */
function checkReportPath(report: string | undefined): void {
  if (report === undefined) return;
  const directory = dirname(resolve(report));
  if (!existsSync(directory) || !statSync(directory).isDirectory()) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `--report ${report}: ${directory} is not a directory`);
  }
  if (existsSync(report) && statSync(report).isDirectory()) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `--report ${report} is a directory`);
  }
}

/** The exit code of a run stopped by a signal before its duration: as a shell reports that signal. */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Parses the arguments and the planted bug; a usage error is printed and gives exit code 2. */
function optionsOf(argv: readonly string[], print: Print): { options: StressOptions; plant: Plant | undefined } | number {
  try {
    return { options: parseStressOptions(argv), plant: plantFromEnvironment() };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (error instanceof MmsbError || (code ?? '').startsWith('ERR_PARSE_ARGS')) {
      print(`mmsb stress: ${error instanceof MmsbError ? `${error.code}: ` : ''}${message} (mmsb stress --help)`);
      return 2;
    }
    throw error;
  }
}

/** Runs `mmsb stress` with `argv` (the arguments after `stress`); returns the exit code. */
export async function runStress(argv: readonly string[], print: Print): Promise<number> {
  const parsed = optionsOf(argv, (line) => void process.stderr.write(`${line}\n`));
  if (typeof parsed === 'number') return parsed;
  const { options, plant } = parsed;
  // With --json, stdout holds the summary alone.
  const say: Print = options.json ? (line) => void process.stderr.write(`${line}\n`) : print;
  checkReportPath(options.report);
  const root = dataRoot(options);
  const runtime = mkdtempSync(join(tmpdir(), 'mmsb-stress-'));
  const started = Date.now();
  const stop = new Stop(options.durationMs);
  const tally = new Tally();
  const violations = new Violations(started, (violation) =>
    say(`VIOLATION ${formatDuration(violation.atMs)} ${violation.part}: ${violation.invariant}: ${violation.detail}`),
  );
  const warmupMs = warmupMsFor(options.durationMs);
  const memory = new MemoryWatch(started, warmupMs, violations);
  const resources = new ResourceWatch(started, warmupMs, violations);
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
      resources,
      violations,
      dataDirectory: root,
      keptDirectories,
    });
  // Written aside and renamed, so that a reader never sees half a report.
  const writeReport = (): void => {
    if (options.report === undefined) return;
    writeFileSync(`${options.report}.partial`, `${JSON.stringify(report(), null, 2)}\n`);
    renameSync(`${options.report}.partial`, options.report);
  };

  const planted = plant === undefined ? '' : `, planted bug ${plant}`;
  say(`stress: seed ${options.seed}, duration ${formatDuration(options.durationMs)}, data in ${root}${planted}`);
  say(`reproduce: ${reproduce}`);
  // The first signal stops the run cleanly; a second one ends the process at once.
  let signalled: string | undefined;
  const interrupt = (signal: string): void => {
    if (signalled !== undefined) process.exit(SIGNAL_EXIT[signal] ?? 1);
    signalled = signal;
    stop.request(`stopped by ${signal} before its duration`);
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const leaked: number[] = [];
  const sampler = setInterval(() => {
    memory.sample();
    resources.sample();
  }, MEMORY_SAMPLE_MS);
  const leak =
    plant === 'leaked-fd'
      ? setInterval(() => {
          if (Date.now() - started < warmupMs) return;
          for (let index = 0; index < 10; index++) leaked.push(openSync('/dev/null', 'r'));
        }, 20)
      : undefined;
  try {
    memory.sample();
    resources.sample();
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
    clearInterval(leak);
    for (const descriptor of leaked) closeSync(descriptor);
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    rmSync(runtime, { recursive: true, force: true });
  }
  const final = report();
  writeReport();
  if (options.json) print(JSON.stringify(final, null, 2));
  else for (const line of summaryLines(final)) print(line);
  if (options.data === undefined && violations.count === 0) rmSync(root, { recursive: true, force: true });
  if (violations.count > 0) return 1;
  return signalled === undefined ? 0 : (SIGNAL_EXIT[signalled] ?? 1);
}
