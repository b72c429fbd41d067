/**
 * Spacing of operations: the stress daemon is about variety and invariants,
 * not throughput, and shares its machine, so each part runs at most a set
 * number of operations a second, shared by its concurrent writers.
 */
import { setTimeout as delay } from 'node:timers/promises';

export class Pacer {
  readonly #intervalMs: number;
  #next = 0;

  constructor(perSecond: number) {
    this.#intervalMs = 1000 / perSecond;
  }

  /** Resolves at this caller's turn: one turn per interval across every caller. */
  async turn(): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.#next);
    this.#next = at + this.#intervalMs;
    if (at - now >= 1) await delay(at - now);
    else await new Promise((resolve) => setImmediate(resolve));
  }
}
