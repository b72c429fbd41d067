/** What every part of the workload shares, and the rotation of its data directories. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import type { Violations } from './invariants.js';
import type { Plant } from './plant.js';
import type { Random } from './random.js';
import type { Stop } from './stop.js';
import type { Tally } from './tally.js';

export interface RunContext {
  /** Where the parts make their data directories. */
  readonly root: string;
  /** A private directory with a short path, for ipc endpoints and shared-memory files. */
  readonly runtime: string;
  readonly tally: Tally;
  readonly violations: Violations;
  readonly stop: Stop;
  readonly plant: Plant | undefined;
  /** Keeps the directory of a failed generation for inspection (the first few), or removes it. */
  keepFailed(directory: string): void;
}

/**
 * Runs `generation` on fresh data directories, one after another, until the
 * run stops: each removes its directory when it passes, so nothing grows
 * from one to the next; one that fails records its violation and leaves its
 * directory for inspection, and the next starts over.
 */
export async function rotate(
  context: RunContext,
  part: string,
  random: Random,
  generation: (directory: string, random: Random) => Promise<void>,
): Promise<void> {
  for (let index = 0; !context.stop.requested; index++) {
    const directory = join(context.root, part, `g${index}`);
    context.tally.generations++;
    try {
      await generation(directory, random.fork(index));
      rmSync(directory, { recursive: true, force: true });
    } catch (error) {
      context.violations.recordError(part, error);
      context.keepFailed(directory);
      // A fault that recurs at once must not spin: one failed generation a second at most.
      await context.stop.sleep(1000);
    }
  }
}
