/**
 * The store's counters, read from the core's own memory: one Float64Array
 * over the cells the core updates as it works (mmsb-core counters.rs), so a
 * mutation's LSN, whether a checkpoint is due and every statistic cost no
 * call into the addon. The names (and so the layout) come from the core:
 * the counters first, then the histograms at the offsets the addon gives.
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
  /** Log segments on disk (0 in memory). */
  readonly logSegments: number;
  /** The bytes of every checkpoint written since open. */
  readonly checkpointBytes: number;
  /** Live pages and their bytes by page memory. */
  readonly pagesHeap: number;
  readonly pagesArena: number;
  readonly pagesMapped: number;
  readonly pagesDevice: number;
  readonly pagesManaged: number;
  readonly pageBytesHeap: number;
  readonly pageBytesArena: number;
  readonly pageBytesMapped: number;
  readonly pageBytesDevice: number;
  readonly pageBytesManaged: number;
  /** The latency and batch-size histograms, by name. */
  readonly histograms: BusHistograms;
}

/** One histogram of the core: fixed buckets, in base units (seconds, records). */
export interface HistogramSnapshot {
  /** The buckets' finite upper bounds, ascending; a last bucket, +Inf, follows. */
  readonly bounds: readonly number[];
  /** Observations per bucket (at most its bound, above the previous one; not cumulative), +Inf last. */
  readonly counts: readonly number[];
  /** Observations in all. */
  readonly count: number;
  /** The sum of the observed values. */
  readonly sum: number;
}

/** The core's histograms (mmsb-core counters.rs `Histogram`). */
export interface BusHistograms {
  /** Seconds per apply call in the core (one delta, or one batch); one call in 16 is timed. */
  readonly applySeconds: HistogramSnapshot;
  /** Seconds per log sync. */
  readonly logSyncSeconds: HistogramSnapshot;
  /** Records made durable per log sync: group commit's batch. */
  readonly logSyncRecords: HistogramSnapshot;
  /** Seconds per checkpoint. */
  readonly checkpointSeconds: HistogramSnapshot;
  /** Seconds per finished propagation wave. */
  readonly waveSeconds: HistogramSnapshot;
}

export type CounterName = Exclude<keyof BusStats, 'histograms'>;
export type HistogramName = keyof BusHistograms;

interface HistogramLayout {
  readonly name: string;
  readonly bounds: readonly number[];
  readonly offset: number;
}

let layout: { readonly counters: readonly string[]; readonly histograms: readonly HistogramLayout[] } | undefined;

/** The counters' names in layout order and the histograms' places, asked of the addon once. */
function cellLayout(): NonNullable<typeof layout> {
  layout ??= call(() => {
    const { counters, histograms } = nativeAddon().names();
    return { counters, histograms };
  });
  return layout;
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
    return cellLayout().counters.indexOf(name);
  }

  get(index: number): number {
    return this.#cells[index]!;
  }

  /** Every counter and histogram by name: a snapshot, though cells may move while it is taken. */
  snapshot(): BusStats {
    const { counters, histograms } = cellLayout();
    const stats: Record<string, unknown> = {};
    counters.forEach((name, index) => (stats[name] = this.#cells[index]!));
    const byName: Record<string, HistogramSnapshot> = {};
    for (const { name, bounds, offset } of histograms) {
      const counts = Array.from(this.#cells.subarray(offset, offset + bounds.length + 1));
      const count = counts.reduce((total, value) => total + value, 0);
      byName[name] = { bounds, counts, count, sum: this.#cells[offset + bounds.length + 1]! };
    }
    stats.histograms = byName;
    return stats as unknown as BusStats;
  }
}
