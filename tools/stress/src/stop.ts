/**
 * When the run ends: at its deadline, or earlier when asked (SIGINT,
 * SIGTERM). Parts of the workload poll `requested` between operations and
 * sleep through `sleep`, which a stop cuts short.
 */
export class Stop {
  readonly deadline: number;
  #reason: string | undefined;
  readonly #wakers = new Set<() => void>();

  constructor(durationMs: number) {
    this.deadline = Date.now() + durationMs;
  }

  get requested(): boolean {
    if (this.#reason === undefined && Date.now() >= this.deadline) this.request('the duration elapsed');
    return this.#reason !== undefined;
  }

  /** Why the run stopped (undefined while it runs). */
  get reason(): string | undefined {
    return this.#reason;
  }

  request(reason: string): void {
    this.#reason ??= reason;
    for (const wake of this.#wakers) wake();
    this.#wakers.clear();
  }

  /** Sleeps `ms`, or until the deadline or a stop if sooner. */
  sleep(ms: number): Promise<void> {
    if (this.requested) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, Math.min(ms, this.deadline - Date.now())));
      this.#wakers.add(wake);
    });
  }
}
