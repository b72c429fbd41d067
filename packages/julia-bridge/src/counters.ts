/**
 * The bridge's counters: requests by operation, errors by code, frames
 * dropped by reason, bytes through shared memory. Plain numbers bumped on
 * the request path and read on demand (the `stats` operation, metrics).
 */
import type { BridgeCounts } from '@mmsb/metrics';

import type { SharedMemory } from './shared-memory.js';
import type { Sessions } from './sessions.js';

/** Why a frame got no response. */
export type DropReason = 'unauthenticated' | 'framing' | 'unroutable';

/** The counts metrics export (`@mmsb/metrics`'s `BridgeCounts`), with the totals the `stats` operation adds. */
export interface BridgeSnapshot extends BridgeCounts {
  readonly requests: number;
  readonly errors: number;
  /** Packed messages received (their members are counted in `requests`). */
  readonly packedMessages: number;
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

export class BridgeCounters {
  readonly #requests = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  readonly #dropped = new Map<string, number>();
  readonly #memory: SharedMemory;
  requests = 0;
  errors = 0;
  packedMessages = 0;
  droppedFrames = 0;
  sessionsExpired = 0;

  constructor(memory: SharedMemory) {
    this.#memory = memory;
  }

  request(operation: string): void {
    this.requests += 1;
    bump(this.#requests, operation);
  }

  error(code: string): void {
    this.errors += 1;
    bump(this.#errors, code);
  }

  dropped(reason: DropReason): void {
    this.droppedFrames += 1;
    bump(this.#dropped, reason);
  }

  snapshot(sessions: Sessions): BridgeSnapshot {
    return {
      sessions: sessions.size,
      handles: sessions.handles,
      handlesFreed: sessions.freed,
      sessionsExpired: this.sessionsExpired,
      requests: this.requests,
      errors: this.errors,
      packedMessages: this.packedMessages,
      droppedFrames: this.droppedFrames,
      shmBytesRead: this.#memory.bytesRead,
      shmBytesWritten: this.#memory.bytesWritten,
      requestsByOperation: Object.fromEntries(this.#requests),
      errorsByCode: Object.fromEntries(this.#errors),
      droppedByReason: Object.fromEntries(this.#dropped),
    };
  }
}
