/**
 * The resource bound: the process's open file descriptors and memory
 * mappings, counted from /proc every second. A descriptor or a mapping left
 * behind by each reopen, checkpoint or session is the classic leak of a long
 * run, and the resident set does not show it. As for memory, the highest
 * count of the warm-up is the baseline; after it a count may not pass the
 * baseline plus half of it, and at least `SLACK`.
 */
import { readdirSync, readFileSync } from 'node:fs';

import type { Violations } from './invariants.js';

export interface ResourceCounts {
  readonly descriptors: number;
  readonly mappings: number;
}

const SLACK: ResourceCounts = { descriptors: 256, mappings: 2048 };

/** This process's counts, read from /proc (Linux, like MMSB itself). */
export function processResources(): ResourceCounts {
  return {
    descriptors: readdirSync('/proc/self/fd').length,
    mappings: readFileSync('/proc/self/maps', 'utf8').split('\n').length - 1,
  };
}

export class ResourceWatch {
  readonly #started: number;
  readonly #warmupMs: number;
  readonly #violations: Violations;
  readonly #read: () => ResourceCounts;
  baseline: ResourceCounts = { descriptors: 0, mappings: 0 };
  bound: ResourceCounts | undefined;
  peak: ResourceCounts = { descriptors: 0, mappings: 0 };
  readonly #exceeded = { descriptors: false, mappings: false };

  constructor(started: number, warmupMs: number, violations: Violations, read: () => ResourceCounts = processResources) {
    this.#started = started;
    this.#warmupMs = warmupMs;
    this.#violations = violations;
    this.#read = read;
  }

  sample(now: number = Date.now()): void {
    const counts = this.#read();
    this.peak = max(this.peak, counts);
    if (now - this.#started < this.#warmupMs) {
      this.baseline = max(this.baseline, counts);
      return;
    }
    const baseline = this.baseline;
    this.bound ??= {
      descriptors: baseline.descriptors + Math.max(SLACK.descriptors, Math.ceil(baseline.descriptors / 2)),
      mappings: baseline.mappings + Math.max(SLACK.mappings, Math.ceil(baseline.mappings / 2)),
    };
    for (const kind of ['descriptors', 'mappings'] as const) {
      // One violation per excursion past the bound, not one a second.
      if (counts[kind] > this.bound[kind] && !this.#exceeded[kind]) {
        this.#violations.record(
          'resources-unbounded',
          'resources',
          `${counts[kind]} open ${kind === 'descriptors' ? 'file descriptors' : 'memory mappings'}, past the bound of ` +
            `${this.bound[kind]} (baseline ${baseline[kind]} after a ${Math.round(this.#warmupMs / 1000)} s warm-up)`,
        );
      }
      this.#exceeded[kind] = counts[kind] > this.bound[kind];
    }
  }
}

function max(a: ResourceCounts, b: ResourceCounts): ResourceCounts {
  return { descriptors: Math.max(a.descriptors, b.descriptors), mappings: Math.max(a.mappings, b.mappings) };
}
