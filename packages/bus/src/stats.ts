/**
 * The store's counters, read from the core's own memory: one Float64Array
 * over the cells the core updates as it works (mmsb-core counters.rs), so a
 * mutation's LSN, whether a checkpoint is due and every statistic cost no
 * call into the addon. The names (and so the layout) come from the core.
 */
import { call, nativeAddon, type NativeState } from './native.js';

/** What `bus.stats()` reports: every core counter, by name. */
export interface BusStats {
  /** The LSN of the last change. */
  readonly lsn: number;
  /** 1 when the log has grown past `checkpointEveryBytes` since the last checkpoint. */
  readonly checkpointDue: number;
  /** The highest LSN known durable. */
  readonly durableLsn: number;
  readonly pagesLive: number;
  readonly pageBytes: number;
  /** Deltas applied, by payload form (batches and waves count each delta). */
  readonly deltasDense: number;
  readonly deltasSparse: number;
  readonly deltasRanges: number;
  /** Log records appended and their bytes. */
  readonly logAppends: number;
  readonly logBytes: number;
  /** Log syncs completed and their total time (group commit shares each among its writers). */
  readonly logSyncs: number;
  readonly logSyncNanos: number;
  readonly checkpoints: number;
  readonly checkpointLastBytes: number;
  readonly checkpointNanos: number;
  /** Records recovery replayed on open, and the time it took. */
  readonly recoveryRecords: number;
  readonly recoveryNanos: number;
}

export type CounterName = keyof BusStats;

let names: readonly string[] | undefined;

/** The counters' names in layout order, asked of the addon once. */
function counterNames(): readonly string[] {
  names ??= call(() => nativeAddon().names().counters);
  return names;
}

/** A state's counters, read in place. */
export class Counters {
  readonly #cells: Float64Array;
  /** Cell indexes of the counters the bus reads on its hot paths. */
  readonly lsn: number;
  readonly checkpointDue: number;

  constructor(state: NativeState) {
    const bytes = call(() => state.counters());
    this.#cells = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
    this.lsn = this.#index('lsn');
    this.checkpointDue = this.#index('checkpointDue');
  }

  #index(name: CounterName): number {
    return counterNames().indexOf(name);
  }

  get(index: number): number {
    return this.#cells[index]!;
  }

  /** Every counter by name: a snapshot, though cells may move while it is taken. */
  snapshot(): BusStats {
    const stats: Record<string, number> = {};
    counterNames().forEach((name, index) => (stats[name] = this.#cells[index]!));
    return stats as unknown as BusStats;
  }
}
