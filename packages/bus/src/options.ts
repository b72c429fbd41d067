/** Options of `Bus.open`, with their defaults and checks. */
import { ErrorCode, MmsbError } from './errors.js';
import { checkCount, checkObject } from './validate.js';

/** What opening does with a torn tail of the log (see `BusOptions.recovery`). */
export type RecoveryMode = 'salvage-tail' | 'strict';

/** When an acknowledged change is on disk, as Redis's appendfsync. */
export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface BusOptions {
  /**
   * `always` (default): a mutation's promise resolves after its log record is
   * synced; concurrent mutations share one sync (group commit). `interval`: the
   * log is synced every `fsyncIntervalMs` and mutations resolve once written.
   * `never`: syncing is left to the operating system (and `close`).
   */
  readonly fsync?: FsyncPolicy;
  /**
   * Where log syncs run: `worker` (default), a libuv worker thread, so the
   * event loop stays free while the disk syncs; or `main`, the JavaScript
   * thread itself, which saves the thread round trip on every sync (higher
   * commit rates) but blocks the event loop for each sync, as Redis does.
   */
  readonly syncThread?: 'worker' | 'main';
  /** The sync period of `interval`, in ms (default 1000). */
  readonly fsyncIntervalMs?: number;
  /** A log segment is sealed past this many bytes (default 64 MiB). */
  readonly segmentBytes?: number;
  /** Checkpoints kept; the oldest bounds time travel (default 2). */
  readonly checkpointsRetained?: number;
  /** A checkpoint is taken once the log grows this much past the last (default 256 MiB). */
  readonly checkpointEveryBytes?: number;
  /**
   * Log records of at least this many bytes are stored zstd-compressed when
   * that saves an eighth or more (default: never; compression costs CPU on
   * every large write, and page data such as float tensors rarely compresses).
   */
  readonly compressRecordsAbove?: number;
  /** A checkpoint is also taken this often, in ms (default: never by time). */
  readonly checkpointEveryMs?: number;
  /** The most descendants one wave may visit; a larger wave is refused with WAVE_LIMIT (default 1,000,000). */
  readonly waveLimit?: number;
  /**
   * What opening does with a torn tail (bytes after the log's last valid
   * record that are not a record: an interrupted write, or damaged last
   * records). `salvage-tail` (default): cut them, keep them in a file under
   * `<dir>/salvage/`, report it in `bus.recovery.tornTail` and as a process
   * warning (code `MMSB_TORN_TAIL`). `strict`: refuse to open with
   * LOG_CORRUPT, leaving every file as it is (RocksDB's absolute consistency).
   */
  readonly recovery?: RecoveryMode;
  /**
   * Receives failures no caller awaits: interval syncs, automatic checkpoints,
   * and commit listeners that threw (LISTENER_FAILED). Without it, each is a
   * process warning (`process.emitWarning`), never silently dropped.
   */
  readonly onBackgroundError?: (error: MmsbError) => void;
  /**
   * Whether the core times apply calls (one in 16) for `bus.stats().histograms.applySeconds`
   * (default true). Off saves those clock reads; every count, and the sync,
   * checkpoint and wave histograms (timed anyway), are kept either way.
   */
  readonly timings?: boolean;
  /**
   * What a `gpu` or `unified` page (or `device`/`managed` memory) gets when
   * CUDA is unavailable: `refuse` (default), CUDA_UNAVAILABLE; `cpu`, heap
   * memory (the location stays, so the state is the same) and a process
   * warning (code `MMSB_CUDA_FALLBACK`). CUDA's presence is process-wide, and
   * so is this choice once a bus makes it `cpu`; recovery follows it too.
   */
  readonly cudaFallback?: 'refuse' | 'cpu';
}

export interface ResolvedOptions {
  readonly fsync: FsyncPolicy;
  readonly fsyncIntervalMs: number;
  readonly syncThread: 'worker' | 'main';
  readonly checkpointEveryMs: number | undefined;
  readonly onBackgroundError: ((error: MmsbError) => void) | undefined;
  readonly waveLimit: number;
  readonly timings: boolean;
  readonly cudaFallback: 'refuse' | 'cpu';
  readonly native: {
    segmentBytes?: number;
    checkpointsRetained?: number;
    checkpointEveryBytes?: number;
    compressBytesMin?: number;
    recoveryMode?: RecoveryMode;
  };
}

/** The longest period a Node timer keeps: 2^31 - 1 ms. */
const TIMER_MS_MAX = 2 ** 31 - 1;

const optionNames: ReadonlySet<string> = new Set([
  'fsync',
  'syncThread',
  'fsyncIntervalMs',
  'segmentBytes',
  'checkpointsRetained',
  'checkpointEveryBytes',
  'compressRecordsAbove',
  'checkpointEveryMs',
  'waveLimit',
  'recovery',
  'onBackgroundError',
  'timings',
  'cudaFallback',
] satisfies (keyof BusOptions)[]);

const policies: ReadonlySet<string> = new Set<FsyncPolicy>(['always', 'interval', 'never']);

export function resolveOptions(options: BusOptions): ResolvedOptions {
  checkObject(options as unknown, 'options');
  const fsync = options.fsync ?? 'always';
  if (!policies.has(fsync)) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `fsync must be "always", "interval" or "never", got ${String(fsync)}`);
  }
  if (options.syncThread !== undefined && options.syncThread !== 'worker' && options.syncThread !== 'main') {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `syncThread must be "worker" or "main", got ${String(options.syncThread)}`);
  }
  const counts = [
    'fsyncIntervalMs',
    'segmentBytes',
    'checkpointsRetained',
    'checkpointEveryBytes',
    'checkpointEveryMs',
    'compressRecordsAbove',
    'waveLimit',
  ] as const;
  for (const key of counts) {
    if (options[key] !== undefined) checkCount(options[key], key);
  }
  for (const key of ['fsyncIntervalMs', 'checkpointEveryMs'] as const) {
    // Node's timers fire at once for longer periods (TimeoutOverflowWarning).
    if (options[key] !== undefined && options[key] > TIMER_MS_MAX) {
      throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${key} must be at most ${TIMER_MS_MAX} ms (about 24.8 days), got ${options[key]}`);
    }
  }
  for (const key of Object.keys(options)) {
    if (!optionNames.has(key)) {
      throw new MmsbError(
        ErrorCode.INVALID_ARGUMENT,
        `unknown option ${JSON.stringify(key)} (the options are ${[...optionNames].join(', ')})`,
      );
    }
  }
  if (options.recovery !== undefined && options.recovery !== 'salvage-tail' && options.recovery !== 'strict') {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `recovery must be "salvage-tail" or "strict", got ${String(options.recovery)}`);
  }
  if (options.onBackgroundError !== undefined && typeof options.onBackgroundError !== 'function') {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'onBackgroundError must be a function');
  }
  if (options.timings !== undefined && typeof options.timings !== 'boolean') {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `timings must be true or false, got ${String(options.timings)}`);
  }
  if (options.cudaFallback !== undefined && options.cudaFallback !== 'refuse' && options.cudaFallback !== 'cpu') {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `cudaFallback must be "refuse" or "cpu", got ${String(options.cudaFallback)}`);
  }
  const native: ResolvedOptions['native'] = {};
  if (options.segmentBytes !== undefined) native.segmentBytes = options.segmentBytes;
  if (options.checkpointsRetained !== undefined) native.checkpointsRetained = options.checkpointsRetained;
  if (options.checkpointEveryBytes !== undefined) native.checkpointEveryBytes = options.checkpointEveryBytes;
  if (options.compressRecordsAbove !== undefined) native.compressBytesMin = options.compressRecordsAbove;
  if (options.recovery !== undefined) native.recoveryMode = options.recovery;
  return {
    fsync: fsync as FsyncPolicy,
    fsyncIntervalMs: options.fsyncIntervalMs ?? 1000,
    syncThread: options.syncThread ?? 'worker',
    checkpointEveryMs: options.checkpointEveryMs,
    onBackgroundError: options.onBackgroundError,
    waveLimit: options.waveLimit ?? 1_000_000,
    timings: options.timings ?? true,
    cudaFallback: options.cudaFallback ?? 'refuse',
    native,
  };
}
