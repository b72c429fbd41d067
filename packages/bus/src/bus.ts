/**
 * The Bus: the TypeScript face of one MMSB state.
 *
 * Mutations take effect when the call returns (reads see them at once) and
 * return a promise that resolves when the change is acknowledged. In memory
 * that is immediate; once the transaction log exists it is after the log
 * record is durable, so the API does not change shape with durability.
 * Reads are synchronous.
 */
import { encodeBatch, sourceCode } from './delta-encoding.js';
import { ErrorCode, MmsbError } from './errors.js';
import { decodeMetadataValue, encodeMetadataValue } from './metadata.js';
import { call, nativeAddon, type NativeState } from './native.js';
import type { AppliedDelta, CreatePageOptions, Delta, Location, MetadataValue, PageId, PageInfo } from './types.js';
import { checkArray, checkBytes, checkCount, checkInteger, checkObject, checkString } from './validate.js';

/** The directory name of a bus that keeps no files. */
export const MEMORY = ':memory:';

const locations: ReadonlySet<string> = new Set<Location>(['cpu', 'gpu', 'unified']);

function checkLocation(location: unknown): Location {
  if (location === undefined) return 'cpu';
  checkString(location, 'location');
  if (!locations.has(location)) {
    throw new MmsbError(ErrorCode.LOCATION_UNKNOWN, `unknown location ${JSON.stringify(location)}: expected "cpu", "gpu" or "unified"`);
  }
  return location as Location;
}

export class Bus {
  readonly #state: NativeState;
  /** One zero-copy view per page: V8 allows one external buffer per pointer. */
  readonly #views = new Map<PageId, Uint8Array>();
  #closed = false;

  /** The data directory, or `':memory:'`. */
  readonly directory: string;

  private constructor(state: NativeState, directory: string) {
    this.#state = state;
    this.directory = directory;
  }

  /**
   * Opens a bus on a data directory. `':memory:'` gives a bus that keeps no
   * files. Durable directories arrive with the transaction log; until then
   * any other directory is refused with INVALID_ARGUMENT.
   */
  static async open(directory: string): Promise<Bus> {
    checkString(directory, 'directory');
    if (directory !== MEMORY) {
      throw new MmsbError(
        ErrorCode.INVALID_ARGUMENT,
        `durable data directories are not available in this version: ` +
          `open ${JSON.stringify(MEMORY)} instead of ${JSON.stringify(directory)}`,
      );
    }
    return Bus.memory();
  }

  /** A bus that keeps no files. */
  static memory(): Bus {
    const { NativeState } = call(nativeAddon);
    return new Bus(new NativeState(), MEMORY);
  }

  #live(): NativeState {
    if (this.#closed) throw new MmsbError(ErrorCode.BUS_CLOSED, `the bus on ${this.directory} is closed`);
    return this.#state;
  }

  /** Creates a zero-filled page at epoch 0 and returns its id. */
  async createPage(options: CreatePageOptions): Promise<PageId> {
    const state = this.#live();
    checkObject(options, 'options');
    checkInteger(options.size, 'size');
    const location = checkLocation(options.location);
    const keys: string[] = [];
    const values: Uint8Array[] = [];
    if (options.metadata !== undefined) {
      checkObject(options.metadata, 'metadata');
      for (const [key, value] of Object.entries(options.metadata)) {
        keys.push(key);
        values.push(encodeMetadataValue(key, value));
      }
    }
    return call(() => state.createPage(options.size, location, keys, values));
  }

  /** Creates `count` pages of one size in one call; returns their ids in order. */
  async createPages(count: number, options: Omit<CreatePageOptions, 'metadata'>): Promise<PageId[]> {
    const state = this.#live();
    checkCount(count, 'count');
    checkObject(options, 'options');
    checkInteger(options.size, 'size');
    const location = checkLocation(options.location);
    const first = call(() => state.createPages(count, options.size, location));
    return Array.from({ length: count }, (_, index) => first + index);
  }

  /** Releases a page. Its id is never reused; a view of it keeps its last bytes. */
  async releasePage(id: PageId): Promise<void> {
    const state = this.#live();
    checkInteger(id, 'page id');
    call(() => state.releasePage(id));
    this.#views.delete(id);
  }

  page(id: PageId): PageInfo {
    const state = this.#live();
    checkInteger(id, 'page id');
    const info = call(() => state.pageInfo(id));
    return { id, size: info.size, location: info.location as Location, epoch: info.epoch };
  }

  metadata(id: PageId): Record<string, MetadataValue> {
    const state = this.#live();
    checkInteger(id, 'page id');
    const entries = call(() => state.metadata(id));
    return Object.fromEntries(entries.map((entry) => [entry.key, decodeMetadataValue(entry.value)]));
  }

  /** Sets one metadata entry; `undefined` removes it. */
  async setMetadata(id: PageId, key: string, value: MetadataValue | undefined): Promise<void> {
    const state = this.#live();
    checkInteger(id, 'page id');
    checkString(key, 'metadata key');
    const encoded = value === undefined ? null : encodeMetadataValue(key, value);
    call(() => state.setMetadata(id, key, encoded));
  }

  /** Copies a page's bytes, whole or `length` bytes from `offset`. */
  read(id: PageId, range: { readonly offset?: number; readonly length?: number } = {}): Uint8Array {
    const state = this.#live();
    checkInteger(id, 'page id');
    checkObject(range, 'range');
    const offset = range.offset ?? 0;
    checkInteger(offset, 'offset');
    if (range.length !== undefined) checkInteger(range.length, 'length');
    const length = range.length ?? Math.max(0, call(() => state.pageInfo(id)).size - offset);
    return call(() => state.read(id, offset, length));
  }

  /** Copies many whole pages in one native call. */
  readMany(ids: readonly PageId[]): Uint8Array[] {
    const state = this.#live();
    checkArray(ids, 'ids');
    ids.forEach((id, index) => checkInteger(id, `ids[${index}]`));
    return call(() => state.readMany(ids as PageId[]));
  }

  /**
   * A zero-copy, live view of a page's bytes: later deltas show through it.
   * Treat it as read-only; writing into it bypasses the log. After release
   * it keeps the page's last bytes and never aliases another page.
   */
  view(id: PageId): Uint8Array {
    const state = this.#live();
    checkInteger(id, 'page id');
    const cached = this.#views.get(id);
    if (cached !== undefined) return cached;
    const view = call(() => state.view(id));
    this.#views.set(id, view);
    return view;
  }

  /** Applies one delta; validated whole first, so a failure changes nothing. */
  async apply(delta: Delta): Promise<AppliedDelta> {
    const state = this.#live();
    checkObject(delta, 'delta');
    checkInteger(delta.pageId, 'pageId');
    if (delta.expectEpoch !== undefined) checkInteger(delta.expectEpoch, 'expectEpoch');
    const payload = delta.payload;
    checkObject(payload, 'payload');
    const expect = delta.expectEpoch ?? null;
    let epoch: number;
    if (payload.kind === 'dense') {
      checkBytes(payload.bytes, 'bytes');
      const source = sourceCode(delta.source);
      epoch = call(() => state.applyDense(delta.pageId, payload.bytes, expect, source));
    } else if (payload.kind === 'sparse') {
      checkBytes(payload.mask, 'mask');
      checkBytes(payload.bytes, 'bytes');
      const source = sourceCode(delta.source);
      epoch = call(() => state.applySparse(delta.pageId, payload.mask, payload.bytes, expect, source));
    } else {
      const encoded = encodeBatch([delta]);
      epoch = call(() => state.applyEncodedOne(encoded));
    }
    return { pageId: delta.pageId, epoch };
  }

  /**
   * Applies many deltas in one native call, in order, all or none: each is
   * validated against the state the ones before it produce. Returns the count.
   */
  async applyBatch(deltas: readonly Delta[]): Promise<number> {
    const state = this.#live();
    const encoded = encodeBatch(deltas);
    return call(() => state.applyBatch(encoded));
  }

  /** The BLAKE3 state hash (hex) of docs/formats.md: equal states, equal hashes. */
  stateHash(): string {
    return this.#live().stateHash();
  }

  /** The id the next created page will get. */
  get nextPageId(): PageId {
    return this.#live().nextPageId();
  }

  get livePageCount(): number {
    return this.#live().livePageCount();
  }

  /** Closes the bus; later calls fail with BUS_CLOSED. Closing twice is harmless. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#views.clear();
  }
}
