/**
 * The memory bound: the process's resident set, sampled every second. The
 * highest sample of the warm-up (the first quarter of the run, between 10 s
 * and 10 min) is the baseline; after it the resident set may not pass the
 * baseline plus half of it, and at least 128 MiB, the slack a garbage-
 * collected heap needs. A leak of a few bytes per operation passes that in
 * hours; a week's run would show a slower one.
 */
import type { Violations } from './invariants.js';

const MIB = 1024 * 1024;
const SLACK_BYTES_MIN = 128 * MIB;

export function warmupMsFor(durationMs: number): number {
  return Math.min(10 * 60_000, Math.max(10_000, durationMs / 4));
}

export class MemoryWatch {
  readonly warmupMs: number;
  readonly #started: number;
  readonly #violations: Violations;
  readonly #read: () => number;
  /** The highest sample of the warm-up. */
  baselineBytes = 0;
  /** The bound after warm-up (undefined during it). */
  boundBytes: number | undefined;
  peakBytes = 0;
  currentBytes = 0;
  #exceeded = false;

  constructor(started: number, warmupMs: number, violations: Violations, read: () => number = () => process.memoryUsage.rss()) {
    this.#started = started;
    this.warmupMs = warmupMs;
    this.#violations = violations;
    this.#read = read;
  }

  sample(now: number = Date.now()): void {
    const bytes = this.#read();
    this.currentBytes = bytes;
    this.peakBytes = Math.max(this.peakBytes, bytes);
    if (now - this.#started < this.warmupMs) {
      this.baselineBytes = Math.max(this.baselineBytes, bytes);
      return;
    }
    this.boundBytes ??= this.baselineBytes + Math.max(SLACK_BYTES_MIN, this.baselineBytes / 2);
    // One violation per excursion past the bound, not one a second.
    if (bytes > this.boundBytes && !this.#exceeded) {
      this.#violations.record(
        'memory-unbounded',
        'memory',
        `the resident set is ${Math.round(bytes / MIB)} MiB, past its bound of ${Math.round(this.boundBytes / MIB)} MiB ` +
          `(baseline ${Math.round(this.baselineBytes / MIB)} MiB after a ${Math.round(this.warmupMs / 1000)} s warm-up)`,
      );
    }
    this.#exceeded = bytes > this.boundBytes;
  }
}
