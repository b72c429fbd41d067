/** The arguments of `mmsb stress`, checked, and its help text. */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';

import { ErrorCode, MmsbError } from '@mmsb/bus';

import { formatDuration, parseDuration } from './durations.js';

export const STRESS_HELP = `mmsb stress [options]: a seeded mixed workload with its invariants checked as it runs (docs/reliability.md)

  --seed <n>          the seed of every choice, 0 to 4294967295 (default: a random one, printed)
  --duration <d>      how long to run, a number and a unit: 90s, 10m, 1h, 7d (default 60s); it stops by itself
  --data <dir>        where the data directories go: a new or empty directory (default: a temporary one,
                      removed after a run without violations)
  --json              print the summary as JSON on stdout (progress lines go to stderr)
  --report <file>     also write the summary as JSON to <file>, rewritten at every progress line
  --progress <d>      time between progress lines (default: a 60th of the duration, from 5s to 5m)

Exit codes: 0 no invariant violated, 1 a violation (or an MMSB error), 2 a usage error,
130 or 143 stopped by SIGINT or SIGTERM before its duration without a violation (a second signal ends it at once).
The same seed makes the same choices in each part of the workload; when kills and rounds happen
follows the clock, so a rerun repeats the same kinds of work, not the exact interleaving.`;

export const SEED_MAX = 0xffff_ffff;
/** At most 30 days: longer is no different, and time stays far from any timer's range. */
const DURATION_MS_MAX = 30 * 86_400_000;

export interface StressOptions {
  readonly seed: number;
  readonly durationMs: number;
  /** The duration as given (or the default), for the reproduce command. */
  readonly duration: string;
  readonly data: string | undefined;
  readonly json: boolean;
  readonly report: string | undefined;
  readonly progressMs: number;
}

function parseSeed(text: string): number {
  const seed = /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(seed >= 0 && seed <= SEED_MAX)) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `--seed must be a whole number from 0 to ${SEED_MAX} (got ${JSON.stringify(text)})`);
  }
  return seed;
}

/** Parses the arguments after `stress`. */
export function parseStressOptions(argv: readonly string[]): StressOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      seed: { type: 'string' },
      duration: { type: 'string' },
      data: { type: 'string' },
      json: { type: 'boolean' },
      report: { type: 'string' },
      progress: { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `unexpected arguments ${positionals.join(' ')}`);
  const duration = values.duration ?? '60s';
  const durationMs = parseDuration(duration, '--duration', 1000, DURATION_MS_MAX);
  const progressMs =
    values.progress === undefined
      ? Math.min(300_000, Math.max(5000, durationMs / 60))
      : parseDuration(values.progress, '--progress', 1000, DURATION_MS_MAX);
  if (values.data === '' || values.report === '') {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${values.data === '' ? '--data' : '--report'} must not be empty`);
  }
  return {
    seed: values.seed === undefined ? randomInt(SEED_MAX) : parseSeed(values.seed),
    durationMs,
    duration: values.duration ?? formatDuration(durationMs),
    data: values.data,
    json: values.json === true,
    report: values.report,
    progressMs,
  };
}

/** The command that repeats a run: the same seed and duration (the data directory does not change the choices). */
export function reproduceCommand(options: StressOptions, plant: string | undefined): string {
  const environment = plant === undefined ? '' : `MMSB_STRESS_PLANT=${plant} `;
  return `${environment}mmsb stress --seed ${options.seed} --duration ${options.duration}`;
}
