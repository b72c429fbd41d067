/**
 * Commit events: every commit of deltas, and every wave it starts, is
 * announced with the pages it changed, its LSN range and its source —
 * to callbacks, and to async iterators with a bounded buffer.
 */
import { ErrorCode, MmsbError } from './errors.js';
import type { DeltaSource, PageId } from './types.js';
import { describe } from './validate.js';

export interface CommitEvent {
  /** The pages the commit changed. */
  readonly pageIds: readonly PageId[];
  /** The LSN range of the commit's records (one record per commit or wave). */
  readonly firstLsn: number;
  readonly lastLsn: number;
  readonly source: DeltaSource;
}

/**
 * Called after each commit. A throw, or the rejection of a promise it
 * returns, goes to the bus's onBackgroundError, never to the write.
 */
export type CommitListener = (event: CommitEvent) => void;

export class CommitEvents {
  readonly #listeners = new Set<CommitListener>();
  readonly #report: (error: MmsbError) => void;

  /** `report` receives each listener failure as LISTENER_FAILED. */
  constructor(report: (error: MmsbError) => void) {
    this.#report = report;
  }

  /** Calls `listener` for every commit; returns the function that stops it. */
  on(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /**
   * Calls every listener. The commit is already done, and the wave after it
   * still has to run, so a listener's failure is reported, not thrown, and
   * the listeners after it run too.
   */
  emit(event: CommitEvent): void {
    for (const listener of this.#listeners) {
      try {
        const result: unknown = listener(event);
        if (result instanceof Promise) result.catch((error: unknown) => this.#listenerFailed(error));
      } catch (error) {
        this.#listenerFailed(error);
      }
    }
  }

  #listenerFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : describe(error);
    this.#report(new MmsbError(ErrorCode.LISTENER_FAILED, `a commit listener failed: ${message}`, { cause: error }));
  }

  /**
   * Commits as an async iterator. At most `bufferSize` unread events are
   * kept; a reader that falls further behind gets EVENTS_OVERFLOW rather than
   * unbounded memory. `return()` (a `break` out of `for await`) unsubscribes.
   */
  iterate(bufferSize: number): AsyncIterableIterator<CommitEvent> {
    const buffer: CommitEvent[] = [];
    let waiting: ((result: IteratorResult<CommitEvent>) => void) | undefined;
    let overflowed = false;
    const stop = this.on((event) => {
      if (waiting !== undefined) {
        const resolve = waiting;
        waiting = undefined;
        resolve({ value: event, done: false });
      } else if (buffer.length < bufferSize) {
        buffer.push(event);
      } else {
        overflowed = true;
        stop();
      }
    });
    const iterator: AsyncIterableIterator<CommitEvent> = {
      next: async () => {
        const event = buffer.shift();
        if (event !== undefined) return { value: event, done: false };
        if (overflowed) {
          throw new MmsbError(ErrorCode.EVENTS_OVERFLOW, `more than ${bufferSize} commit events went unread; the iterator stopped`);
        }
        return new Promise((resolve) => (waiting = resolve));
      },
      return: async () => {
        stop();
        waiting?.({ value: undefined, done: true });
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
