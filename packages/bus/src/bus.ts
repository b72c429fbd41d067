/**
 * The Bus: the TypeScript face of one MMSB state, in memory or on a data
 * directory with its transaction log.
 *
 * Mutations take effect when the call returns (reads see them at once) and
 * return a promise that resolves when the change is acknowledged: under
 * `fsync: 'always'` once its log record is synced (group commit), otherwise
 * once it is written. Reads are synchronous.
 */
import { EncodingScratch, encodeDeltas, sourceCode } from './delta-encoding.js';
import { ErrorCode, fromNative, MmsbError } from './errors.js';
import { GroupCommit, type SyncOutcome } from './group-commit.js';
import { checkMetadataKey, encodeMetadataValue } from './metadata.js';
import { call, type DirectCalls, nativeAddon, type NativeState } from './native.js';
import { type BusOptions, resolveOptions, type ResolvedOptions } from './options.js';
import { closedError, StateReader, StateView } from './state-reader.js';
import { type CommitEvent, CommitEvents, type CommitListener } from './events.js';
import { Propagator, type PropagationStats, type Recompute } from './propagation.js';
import { checkName, EDGE_KINDS, LOCATIONS, PAGE_MEMORIES } from './names.js';
import { type DevicePointer, enableCudaFallback, type Residency, warnCudaFallbacks } from './cuda.js';
import { type BusStats, Counters } from './stats.js';
import type {
  AppliedDelta,
  CreatePageOptions,
  Delta,
  DeltaSource,
  EdgeKind,
  Location,
  MetadataValue,
  PageId,
  PageMemory,
} from './types.js';
import { checkBytes, checkCount, checkInteger, checkObject, checkString } from './validate.js';

/** The directory name of a bus that keeps no files. */
export const MEMORY = ':memory:';

/** The metadata arguments of a page created without metadata: shared, never written. */
const NO_KEYS: string[] = [];
const NO_VALUES: Uint8Array[] = [];

function checkLocation(location: unknown): Location {
  return location === undefined ? 'cpu' : checkName(location, LOCATIONS, 'location', ErrorCode.LOCATION_UNKNOWN);
}

/** A page memory name; `undefined` (not given) leaves the choice to the default. */
function checkMemory(memory: unknown): PageMemory | undefined {
  return memory === undefined ? undefined : checkName(memory, PAGE_MEMORIES, 'page memory');
}

/** A written checkpoint. */
export interface CheckpointInfo {
  readonly lsn: number;
  /** 0 for a full checkpoint; else the checkpoint this incremental one extends. */
  readonly baseLsn: number;
  readonly path: string;
  readonly bytes: number;
  readonly pages: number;
  readonly stateHash: string;
}

/** What recovery did when a data directory was opened. */
export interface RecoveryInfo {
  /** The LSN of the checkpoint recovery started from (0: none). */
  readonly checkpointLsn: number;
  readonly recordsReplayed: number;
  /** Bytes of an interrupted write at the log's end that were cut. */
  readonly tornBytesTruncated: number;
  /**
   * The torn tail recovery cut (mode `salvage-tail`), if there was one: bytes
   * after the last valid record of `segment` from `offset` that were not a
   * record (an interrupted write, or damaged last records), kept in `salvageFile`.
   */
  readonly tornTail?: TornTail | undefined;
}

/** A torn tail of the log that recovery cut and kept aside. */
export interface TornTail {
  readonly segment: string;
  readonly offset: number;
  readonly bytes: number;
  readonly salvageFile: string;
}

export class Bus extends StateReader {
  readonly #state: NativeState;
  readonly #direct: DirectCalls;
  /** The buffer batches are encoded into before they cross into the core. */
  readonly #scratch = new EncodingScratch();
  readonly #counters: Counters;
  readonly #options: ResolvedOptions;
  readonly #commits: GroupCommit | undefined;
  readonly #propagator: Propagator;
  readonly #events = new CommitEvents((error) => this.#report(error));
  readonly #timers: NodeJS.Timeout[] = [];
  #checkpointScheduled = false;
  #closed = false;

  /** The data directory, or `':memory:'`. */
  readonly directory: string;

  private constructor(state: NativeState, directory: string, options: ResolvedOptions) {
    super();
    this.#state = state;
    this.#direct = nativeAddon().directCalls(state);
    this.#counters = new Counters(state);
    if (!options.timings) state.setTimings(false);
    this.directory = directory;
    this.#options = options;
    // Waves read views on their hot path: the cache first, the checked call on a miss.
    this.#propagator = new Propagator(state, this.#direct, (id) => this.views.get(id) ?? this.view(id), options.waveLimit);
    // An in-memory bus has no log to sync or checkpoint.
    if (directory === MEMORY) return;
    const sync = options.syncThread === 'main' ? () => Promise.resolve(syncHere(state)) : () => state.syncJob().run();
    this.#commits = new GroupCommit(sync, state.durableLsn());
    if (options.fsync === 'interval') {
      this.#every(options.fsyncIntervalMs, () => this.#commits!.waitFor(this.#lsn));
    }
    if (options.checkpointEveryMs !== undefined) {
      this.#every(options.checkpointEveryMs, () => this.checkpoint());
    }
  }

  /**
   * Opens a bus on a data directory, creating it when missing and otherwise
   * recovering its state (newest valid checkpoint, then the log after it).
   * `':memory:'` gives a bus that keeps no files.
   */
  static async open(directory: string, options: BusOptions = {}): Promise<Bus> {
    checkString(directory, 'directory');
    // The core would open the process's working directory: say so with "." if that is meant.
    if (directory === '') throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'directory must not be empty (":memory:" keeps no files)');
    const resolved = resolveOptions(options);
    const { NativeState } = call(nativeAddon);
    // Before the core opens the directory, so that recovery falls back too.
    if (resolved.cudaFallback === 'cpu') enableCudaFallback();
    if (directory === MEMORY) return new Bus(new NativeState(), MEMORY, resolved);
    const bus = new Bus(
      call(() => NativeState.open(directory, resolved.native)),
      directory,
      resolved,
    );
    if (resolved.cudaFallback === 'cpu') warnCudaFallbacks();
    const torn = bus.recovery?.tornTail;
    if (torn !== undefined) {
      const message =
        `${directory}: recovery cut a torn tail of ${torn.bytes} bytes from log segment ${torn.segment} at offset ` +
        `${torn.offset} (an interrupted write, or damaged last records); the bytes are kept in ${torn.salvageFile}`;
      process.emitWarning(message, { code: 'MMSB_TORN_TAIL' });
    }
    return bus;
  }

  /** A bus that keeps no files, with default options. */
  static memory(): Bus {
    const { NativeState } = call(nativeAddon);
    return new Bus(new NativeState(), MEMORY, resolveOptions({}));
  }

  /**
   * The state, for a call that changes it: refused (changing nothing) inside
   * a recompute, whose wave reads pages that must stay as they are until it ends.
   */
  #changing(): NativeState {
    const state = this.native();
    if (this.#propagator.inCallbacks) {
      throw new MmsbError(
        ErrorCode.INVALID_ARGUMENT,
        "a recompute may not change the bus: it runs inside a wave (nothing was applied); return the page's bytes instead",
      );
    }
    return state;
  }

  /** Warns about pages that wanted CUDA memory and got heap memory (`cudaFallback: 'cpu'`). */
  #noteCudaFallback(location: string, memory: PageMemory | undefined): void {
    // The fallback is process-wide: warn whichever bus's page fell back.
    if (location !== 'cpu' || memory === 'device' || memory === 'managed') warnCudaFallbacks();
  }

  protected native(): NativeState {
    if (this.#closed) throw closedError(this.directory);
    return this.#state;
  }

  /** Runs `task` every `ms` without keeping the process alive; failures go to onBackgroundError. */
  #every(ms: number, task: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      task().catch((error: unknown) => this.#reportBackground(error));
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  /** Reports a failed background task; one that raced `close` is moot. */
  #reportBackground(error: unknown): void {
    if (this.#closed) return;
    this.#report(error instanceof MmsbError ? error : new MmsbError(ErrorCode.IO_ERROR, String(error), { cause: error }));
  }

  /**
   * Hands a failure that no caller awaits to onBackgroundError, or, without
   * one (or when it throws), to a process warning: never swallowed, never
   * thrown into the write that happened to trigger it.
   */
  #report(error: MmsbError): void {
    const handler = this.#options.onBackgroundError;
    if (handler === undefined) {
      process.emitWarning(error);
      return;
    }
    try {
      handler(error);
    } catch (failure) {
      process.emitWarning(failure instanceof Error ? failure : String(failure));
    }
  }

  /** The LSN of the last change, read from the core's counters without a call. */
  get #lsn(): number {
    return this.#counters.get(this.#counters.lsn);
  }

  /**
   * Waits for the acknowledgement the fsync policy asks for; schedules a due
   * checkpoint. Callers on a bus without a data directory skip the call: an
   * awaited async call costs a promise per change, which the hot in-memory
   * loops (create, apply, release) would otherwise pay for nothing. Not an
   * async function: under `fsync: 'always'` the group commit's own promise is
   * the one awaited, without another around it.
   */
  #acknowledge(): Promise<void> | undefined {
    if (this.#commits === undefined) return undefined;
    if (!this.#checkpointScheduled && this.#counters.get(this.#counters.checkpointDue) === 1) {
      this.#checkpointScheduled = true;
      setImmediate(() => {
        this.#checkpointScheduled = false;
        if (!this.#closed) this.checkpoint().catch((error: unknown) => this.#reportBackground(error));
      });
    }
    return this.#options.fsync === 'always' ? this.#commits.waitFor(this.#lsn) : undefined;
  }

  /**
   * Creates a zero-filled page at epoch 0 and returns its id; its bytes live
   * in `options.memory` (default `heap`; an `arena` page above 4096 bytes is
   * refused with MEMORY_UNSUITABLE).
   */
  async createPage(options: CreatePageOptions): Promise<PageId> {
    const state = this.#changing();
    checkObject(options, 'options');
    checkInteger(options.size, 'size');
    const location = checkLocation(options.location);
    const memory = checkMemory(options.memory);
    const keys: string[] = options.metadata === undefined ? NO_KEYS : [];
    const values: Uint8Array[] = options.metadata === undefined ? NO_VALUES : [];
    if (options.metadata !== undefined) {
      checkObject(options.metadata, 'metadata');
      for (const [key, value] of Object.entries(options.metadata)) {
        checkMetadataKey(key);
        keys.push(key);
        values.push(encodeMetadataValue(key, value));
      }
    }
    const id = call(() => state.createPage(options.size, location, keys, values, memory));
    this.#noteCudaFallback(location, memory);
    if (this.#commits !== undefined) await this.#acknowledge();
    return id;
  }

  /**
   * Creates `count` pages of one size in one call; returns their ids in order.
   * Their memory defaults to `arena` up to 4096 bytes, `heap` above.
   */
  async createPages(count: number, options: Omit<CreatePageOptions, 'metadata'>): Promise<PageId[]> {
    const state = this.#changing();
    checkCount(count, 'count');
    checkObject(options, 'options');
    if ((options as CreatePageOptions).metadata !== undefined) {
      throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'createPages takes no metadata: set it per page with setMetadata');
    }
    checkInteger(options.size, 'size');
    const location = checkLocation(options.location);
    const memory = checkMemory(options.memory);
    const first = call(() => state.createPages(count, options.size, location, memory));
    this.#noteCudaFallback(location, memory);
    if (this.#commits !== undefined) await this.#acknowledge();
    return Array.from({ length: count }, (_, index) => first + index);
  }

  /** Releases a page. Its id is never reused; a view of it keeps its last bytes. */
  async releasePage(id: PageId): Promise<void> {
    const state = this.#changing();
    checkInteger(id, 'page id');
    call(() => state.releasePage(id));
    this.views.delete(id);
    this.#propagator.forget(id);
    if (this.#commits !== undefined) await this.#acknowledge();
  }

  /**
   * Moves a page's bytes to another page memory, as a logged change
   * (acknowledged like any other); bytes, epoch and the state hash stay as
   * they are. Resolves to false, logging nothing, when the page is in that
   * memory already. A view of the page taken before keeps the bytes it had
   * and no longer sees deltas: `view(id)` gives the live one again.
   */
  async movePage(id: PageId, memory: PageMemory): Promise<boolean> {
    const state = this.#changing();
    checkInteger(id, 'page id');
    const target = checkMemory(memory);
    if (target === undefined) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `memory must be one of ${PAGE_MEMORIES.join(', ')}`);
    const moved = call(() => state.movePage(id, target));
    if (moved) {
      this.views.delete(id);
      this.#propagator.pageMoved();
    }
    this.#noteCudaFallback('cpu', target);
    if (this.#commits !== undefined) await this.#acknowledge();
    return moved;
  }

  /**
   * Where a page's bytes are now: its memory, CUDA device, which copies of a
   * `device` page are current, and the device memory it holds. Residency is
   * not state: the calls below change it without a log record, and never
   * change bytes, epochs or the state hash.
   */
  residency(id: PageId): Residency {
    const state = this.native();
    checkInteger(id, 'page id');
    const found = call(() => state.residency(id));
    return {
      memory: found.memory as PageMemory,
      device: found.device ?? undefined,
      current: (found.current ?? undefined) as Residency['current'],
      deviceBytes: found.deviceBytes,
    };
  }

  /** Makes a `device` page's device copy current; a `managed` page migrates to its device. */
  prefetch(id: PageId): void {
    const state = this.native();
    checkInteger(id, 'page id');
    call(() => state.prefetchPage(id));
  }

  /** Frees a `device` page's device memory (its pinned host mirror keeps the bytes); a `managed` page migrates to the host. */
  evict(id: PageId): void {
    const state = this.native();
    checkInteger(id, 'page id');
    call(() => state.evictPage(id));
  }

  /** Moves a `device` page to CUDA device `ordinal` (DEVICE_NOT_FOUND if there is none). */
  moveToDevice(id: PageId, ordinal: number): void {
    const state = this.native();
    checkInteger(id, 'page id');
    checkInteger(ordinal, 'device');
    call(() => state.movePageToDevice(id, ordinal));
  }

  /** The CUDA device that new `device` and `managed` pages of this bus go to (default 0). */
  setDevice(ordinal: number): void {
    const state = this.native();
    checkInteger(ordinal, 'device');
    call(() => state.setDevice(ordinal));
  }

  /**
   * The device address of a CUDA page's current bytes (a `device` page is
   * uploaded first if only its host mirror was current). Deltas write in
   * place, so it stays valid until the page is evicted, moved (between
   * memories or devices) or released; @mmsb/gpu pins pages to keep it.
   */
  devicePointer(id: PageId): DevicePointer {
    const state = this.native();
    checkInteger(id, 'page id');
    const found = call(() => state.devicePointer(id));
    return { pointer: BigInt(found.pointer), size: found.size, device: found.device };
  }

  /**
   * A CUDA IPC handle (64 bytes) of a `device` page's current bytes, which
   * another process on this machine opens as a mapping of the same memory
   * (`cuIpcOpenMemHandle`; CuPy's `cupy.cuda.runtime.ipcOpenMemHandle`).
   * The first call moves the page's device copy into an allocation of its
   * own (IPC cannot share pool memory); it is valid, and sees every later
   * delta, until the page is evicted, moved or released: @mmsb/gpu's
   * `exportIpc` pins the page for as long. `managed` and host pages are
   * refused with MEMORY_UNSUITABLE.
   */
  ipcHandle(id: PageId): Uint8Array {
    const state = this.native();
    checkInteger(id, 'page id');
    return new Uint8Array(call(() => state.ipcHandle(id)));
  }

  /** Sets one metadata entry; `undefined` removes it. */
  async setMetadata(id: PageId, key: string, value: MetadataValue | undefined): Promise<void> {
    const state = this.#changing();
    checkInteger(id, 'page id');
    checkString(key, 'metadata key');
    checkMetadataKey(key);
    const encoded = value === undefined ? null : encodeMetadataValue(key, value);
    call(() => state.setMetadata(id, key, encoded));
    if (this.#commits !== undefined) await this.#acknowledge();
  }

  /**
   * Adds the dependency edge `parent → child`. An edge that would close a
   * cycle is refused with GRAPH_CYCLE naming the cycle; a second edge between
   * the same pages with EDGE_EXISTS. Releasing either page removes the edge.
   */
  async addEdge(parent: PageId, child: PageId, kind: EdgeKind = 'data'): Promise<void> {
    const state = this.#changing();
    checkInteger(parent, 'parent');
    checkInteger(child, 'child');
    checkEdgeKind(kind);
    call(() => state.addEdge(parent, child, kind));
    if (this.#commits !== undefined) await this.#acknowledge();
  }

  /** Removes the edge `parent → child` (EDGE_NOT_FOUND when there is none). */
  async removeEdge(parent: PageId, child: PageId): Promise<void> {
    const state = this.#changing();
    checkInteger(parent, 'parent');
    checkInteger(child, 'child');
    call(() => state.removeEdge(parent, child));
    if (this.#commits !== undefined) await this.#acknowledge();
  }

  /** Applies one delta; validated whole first, so a failure changes nothing. */
  async apply(delta: Delta): Promise<AppliedDelta> {
    const state = this.#changing();
    checkObject(delta, 'delta');
    // Each property is read once: a getter cannot send napi other values than were checked.
    const { pageId, payload, source, expectEpoch } = delta;
    checkInteger(pageId, 'pageId');
    if (expectEpoch !== undefined) checkInteger(expectEpoch, 'expectEpoch');
    checkObject(payload, 'payload');
    const code = sourceCode(source);
    const expect = expectEpoch ?? null;
    let epoch: number;
    // Inline try/catch, not call(): a closure per apply is measurable at 4 KiB.
    try {
      switch (payload.kind) {
        case 'dense': {
          const bytes = payload.bytes;
          checkBytes(bytes, 'bytes');
          epoch = this.#direct.applyDense(pageId, bytes, expect, code);
          break;
        }
        case 'sparse': {
          const { mask, bytes } = payload;
          checkBytes(mask, 'mask');
          checkBytes(bytes, 'bytes');
          epoch = this.#direct.applySparse(pageId, mask, bytes, expect, code);
          break;
        }
        default: {
          // Ranges (or an unknown kind, which the encoder names) are copied into the encoding, so the core reads no caller memory.
          epoch = state.applyEncodedOne(encodeDeltas([{ pageId, payload, source, expectEpoch }], false, this.#scratch).bytes);
        }
      }
    } catch (error) {
      throw fromNative(error);
    }
    const lsn = this.#lsn;
    // The common in-memory case skips the wave and acknowledgement calls altogether.
    const waveFailure = this.#propagator.active || this.#events.listening ? this.#afterCommit([pageId], lsn, source ?? 'user') : undefined;
    if (this.#commits !== undefined) await this.#acknowledge();
    if (waveFailure !== undefined) throw waveFailure;
    return { pageId, epoch, lsn };
  }

  /**
   * Applies many deltas in one native call and one log record, in order, all
   * or none: each is validated against the state the ones before it produce.
   * Returns the count; an empty batch writes nothing and returns 0.
   */
  async applyBatch(deltas: readonly Delta[]): Promise<number> {
    const state = this.#changing();
    const announce = this.#propagator.active || this.#events.listening;
    const batch = encodeDeltas(deltas, announce, this.#scratch);
    if (batch.count === 0) return 0;
    const count = call(() => state.applyBatch(batch.bytes));
    const waveFailure = announce ? this.#afterCommit([...new Set(batch.pageIds)], this.#lsn, batch.source) : undefined;
    if (this.#commits !== undefined) await this.#acknowledge();
    if (waveFailure !== undefined) throw waveFailure;
    return count;
  }

  /**
   * Announces a commit and runs the wave it starts. A failed wave is
   * returned, not thrown: the commit stays, and the caller reports the
   * failure after the commit is acknowledged.
   */
  #afterCommit(pageIds: readonly PageId[], lsn: number, source: DeltaSource): MmsbError | undefined {
    if (this.#events.listening) this.#events.emit({ pageIds, firstLsn: lsn, lastLsn: lsn, source });
    if (!this.#propagator.active) return undefined;
    try {
      const changed = this.#propagator.run(pageIds, this.#events.listening);
      if (changed.length > 0 && this.#events.listening) {
        const waveLsn = this.#state.lastLsn();
        this.#events.emit({ pageIds: changed, firstLsn: waveLsn, lastLsn: waveLsn, source: 'propagation' });
      }
      return undefined;
    } catch (error) {
      return error instanceof MmsbError ? error : new MmsbError(ErrorCode.RECOMPUTE_FAILED, String(error), { cause: error });
    }
  }

  /**
   * Registers how a page is recomputed when a parent changes: a JavaScript
   * function given views of its parents, or a built-in run in Rust (`copy`,
   * `concat`, `xor`); `null` removes it. Recomputes are code, not state: they
   * are not logged, and an application registers them again after open (the
   * deltas they produced are in the log, so replay needs none).
   */
  recompute(child: PageId, recompute: Recompute | null): void {
    const state = this.#changing();
    checkInteger(child, 'page id');
    call(() => state.pageInfo(child));
    this.#propagator.register(child, recompute);
  }

  /** Counters of the propagation engine, kept by the core and read in one call. */
  get propagationStats(): Readonly<PropagationStats> {
    this.native();
    return this.#propagator.stats();
  }

  /** Calls `listener` after every commit of deltas and every wave; returns the function that stops it. */
  onCommit(listener: CommitListener): () => void {
    this.native();
    if (typeof listener !== 'function') throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'listener must be a function');
    return this.#events.on(listener);
  }

  /** Commits as an async iterator; a reader more than `bufferSize` events behind gets EVENTS_OVERFLOW. */
  commits(options: { readonly bufferSize?: number } = {}): AsyncIterableIterator<CommitEvent> {
    this.native();
    const bufferSize = options.bufferSize ?? 10_000;
    checkCount(bufferSize, 'bufferSize');
    return this.#events.iterate(bufferSize);
  }

  /**
   * Writes a checkpoint of the current state (after syncing the log), then
   * drops checkpoints and log segments beyond retention. It is incremental —
   * only the pages changed since the last checkpoint, each once however many
   * deltas it took — unless `full` is set, it is the first since open, eight
   * increments are chained already, or half the state's bytes changed. It
   * runs on the JavaScript thread: the state must not change while it is written.
   */
  async checkpoint(options: { readonly full?: boolean } = {}): Promise<CheckpointInfo> {
    const state = this.#changing();
    checkObject(options, 'options');
    const info = call(() => state.checkpoint(options.full === true));
    // The checkpoint's marker record is acknowledged like any change.
    if (this.#commits !== undefined) await this.#acknowledge();
    return info;
  }

  /**
   * A detached, read-only copy of the state as it was right after record
   * `lsn`, from the oldest retained checkpoint (`oldestLsn`) to `lsn`; the
   * live bus is untouched.
   */
  async stateAt(lsn: number): Promise<StateView> {
    const state = this.native();
    checkInteger(lsn, 'lsn');
    return new StateView(
      call(() => state.stateAt(lsn)),
      lsn,
    );
  }

  /** The LSN of the last change (0 before any). */
  get lsn(): number {
    this.native();
    return this.#lsn;
  }

  /** The highest LSN known durable (in memory: the last LSN). */
  get durableLsn(): number {
    return this.native().durableLsn();
  }

  /** The oldest LSN `stateAt` can reach. */
  get oldestLsn(): number {
    return this.native().oldestLsn();
  }

  /** Log syncs completed by this bus (group commit shares each among its waiting writers). */
  get syncs(): number {
    return this.#commits?.syncs ?? 0;
  }

  /**
   * One snapshot of the store's counters (pages by memory, deltas by form,
   * the log's appends, bytes, segments and syncs, checkpoints, recovery) and
   * latency histograms (`histograms`), read from the core's memory without
   * a call, with the propagation engine's counters (one call). Cheap enough
   * to scrape often.
   */
  stats(): BusStats & { readonly propagation: Readonly<PropagationStats> } {
    this.native();
    return { ...this.#counters.snapshot(), propagation: this.propagationStats };
  }

  /** What recovery did on open; `undefined` for an in-memory bus. */
  get recovery(): RecoveryInfo | undefined {
    const recovery = this.native().recovery();
    if (recovery === null || recovery === undefined) return undefined;
    return { ...recovery, tornTail: recovery.tornTail ?? undefined };
  }

  /** Syncs every change so far, whatever the fsync policy; resolves to the durable LSN. */
  async sync(): Promise<number> {
    this.native();
    if (this.#commits === undefined) return this.#lsn;
    const lsn = this.#lsn;
    // Through a real sync even when nothing is new: after a failure it must reject.
    await this.#commits.syncThrough(lsn);
    return lsn;
  }

  /**
   * Syncs what was written, stops background work and releases the data
   * directory; later calls fail with BUS_CLOSED. Closing twice is harmless.
   * It rejects (DURABILITY_UNKNOWN) only when this final sync fails; a log
   * that failed earlier was reported to the calls it failed, and closes quietly.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#changing();
    // From here on every call fails with BUS_CLOSED; acknowledgements in flight still complete.
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    let failure: MmsbError | undefined;
    if (this.#commits !== undefined) {
      await this.#commits.idle();
      if (!this.#state.logFailed()) {
        try {
          call(() => this.#state.sync());
        } catch (error) {
          failure = error as MmsbError;
        }
      }
    }
    this.views.clear();
    this.#state.close();
    if (failure !== undefined) throw failure;
  }
}

function checkEdgeKind(kind: unknown): asserts kind is EdgeKind {
  checkName(kind, EDGE_KINDS, 'edge kind');
}

/** Syncs on this thread, reporting as the worker's sync does. */
function syncHere(state: NativeState): SyncOutcome {
  try {
    return { durableLsn: state.sync() };
  } catch (error) {
    const failure = fromNative(error);
    return { errorCode: failure.code, errorMessage: failure.message };
  }
}
