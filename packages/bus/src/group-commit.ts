/**
 * Group commit: writers wait for the LSN of their change to become durable;
 * one sync runs at a time and covers every change written before it started,
 * so all writers waiting at that moment share one sync. A sync starts on the
 * next turn of the event loop rather than at the first waiter, so that the
 * writers a settled sync releases have all written again before the next one.
 *
 * A failed sync rejects its waiters with the core's code (DURABILITY_UNKNOWN:
 * their changes were applied, their durability is unknown), and so does
 * every later sync: the core's log refuses to report success after a failure.
 */
import { ErrorCode, type ErrorCode as Code, MmsbError } from './errors.js';

export interface SyncOutcome {
  durableLsn?: number | null | undefined;
  errorCode?: string | null | undefined;
  errorMessage?: string | null | undefined;
}

interface Waiter {
  readonly lsn: number;
  readonly resolve: () => void;
  readonly reject: (error: MmsbError) => void;
}

export class GroupCommit {
  readonly #sync: () => Promise<SyncOutcome>;
  #waiters: Waiter[] = [];
  #inFlight: Promise<void> | undefined;
  #scheduled = false;
  #durableLsn: number;
  /** Syncs completed so far (benchmarks divide commits by it). */
  syncs = 0;

  constructor(sync: () => Promise<SyncOutcome>, durableLsn: number) {
    this.#sync = sync;
    this.#durableLsn = durableLsn;
  }

  get durableLsn(): number {
    return this.#durableLsn;
  }

  /** Resolves once `lsn` is durable; rejects if the sync covering it fails. */
  waitFor(lsn: number): Promise<void> {
    if (lsn <= this.#durableLsn) return Promise.resolve();
    return this.syncThrough(lsn);
  }

  /**
   * Like `waitFor`, but goes through a sync even when `lsn` is durable
   * already, so that a log that failed since rejects instead of resolving.
   */
  syncThrough(lsn: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ lsn, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves when no sync is running. */
  async idle(): Promise<void> {
    while (this.#inFlight !== undefined || this.#scheduled) {
      await (this.#inFlight ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight !== undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#start();
    });
  }

  #start(): void {
    if (this.#inFlight !== undefined || this.#waiters.length === 0) return;
    this.#inFlight = this.#sync().then(
      (outcome) => this.#settle(outcome),
      (error: unknown) => this.#settle({ errorCode: ErrorCode.IO_ERROR, errorMessage: String(error) }),
    );
  }

  #settle(outcome: SyncOutcome): void {
    this.syncs++;
    this.#inFlight = undefined;
    const waiters = this.#waiters;
    if (typeof outcome.durableLsn === 'number') {
      this.#durableLsn = Math.max(this.#durableLsn, outcome.durableLsn);
      this.#waiters = waiters.filter((waiter) => waiter.lsn > this.#durableLsn);
      for (const waiter of waiters) if (waiter.lsn <= this.#durableLsn) waiter.resolve();
    } else {
      this.#waiters = [];
      const error = new MmsbError((outcome.errorCode ?? ErrorCode.IO_ERROR) as Code, outcome.errorMessage ?? 'sync failed');
      for (const waiter of waiters) waiter.reject(error);
    }
    this.#schedule();
  }
}
