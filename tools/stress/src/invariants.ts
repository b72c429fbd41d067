/**
 * The invariants the stress daemon checks, and the record of violations.
 * A check that fails throws `InvariantBroken`; the part of the workload that
 * ran it records the violation and starts over on a fresh data directory
 * (its oracle no longer describes the state), so one fault is one violation.
 */

/** Each invariant and what it promises. */
export const INVARIANTS = {
  'acknowledged-write-lost': 'every acknowledged write is in the state recovered after a SIGKILL or a reopen',
  'live-state-differs': 'the live state equals the oracle: bytes, epochs and metadata of every page, derived pages included',
  'replay-differs': 'replaying the log gives the live state: the state at the current LSN, and a reopened bus, hash as the live one',
  'time-travel-differs': 'the state at a past LSN hashes as the live state did at that LSN',
  'memory-unbounded': 'the resident set stays under its bound after warm-up',
  'resources-unbounded': 'open file descriptors and memory mappings stay under their bounds after warm-up',
  'disk-unbounded': 'each data directory stays under its bound (retention deletes what checkpoints cover)',
  'handles-unbalanced': "the bridge's sessions, handles and shared-memory files return to 0 once its clients have left",
  'operation-failed': 'what should succeed succeeds; bad input is refused with its error code and changes nothing',
} as const;

export type Invariant = keyof typeof INVARIANTS;

export interface Violation {
  readonly invariant: Invariant;
  /** The part of the workload that found it (a lane, the child writer, the bridge, the memory watch). */
  readonly part: string;
  readonly detail: string;
  /** Milliseconds since the run started. */
  readonly atMs: number;
}

/** A failed check, thrown to the part that ran it. */
export class InvariantBroken extends Error {
  readonly invariant: Invariant;

  constructor(invariant: Invariant, detail: string) {
    super(detail);
    this.invariant = invariant;
  }
}

/** Throws `InvariantBroken` unless `condition` holds; `detail` is only built on failure. */
export function check(condition: boolean, invariant: Invariant, detail: () => string): asserts condition {
  if (!condition) throw new InvariantBroken(invariant, detail());
}

/** Violations kept in full; beyond them only counted, so a week of failures cannot fill memory. */
const KEPT_MAX = 50;

export class Violations {
  readonly #started: number;
  readonly #announce: (violation: Violation) => void;
  readonly kept: Violation[] = [];
  readonly byInvariant = new Map<Invariant, number>();
  count = 0;

  constructor(started: number, announce: (violation: Violation) => void) {
    this.#started = started;
    this.#announce = announce;
  }

  record(invariant: Invariant, part: string, detail: string): void {
    const violation = { invariant, part, detail, atMs: Date.now() - this.#started };
    this.count++;
    this.byInvariant.set(invariant, (this.byInvariant.get(invariant) ?? 0) + 1);
    if (this.kept.length < KEPT_MAX) this.kept.push(violation);
    this.#announce(violation);
  }

  /** Records what a part of the workload threw: a broken invariant, or any other error as a failed operation. */
  recordError(part: string, error: unknown): void {
    if (error instanceof InvariantBroken) this.record(error.invariant, part, error.message);
    else this.record('operation-failed', part, describeError(error));
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : (error.stack ?? error.message);
  }
  return String(error);
}
