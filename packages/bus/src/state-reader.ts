/**
 * Reading a state: pages, bytes, views, metadata and the hash. The live
 * `Bus` and the detached `StateView` of time travel share these methods.
 */
import { ErrorCode, MmsbError } from './errors.js';
import { decodeMetadataValue } from './metadata.js';
import { call, type NativeState } from './native.js';
import type { Location, MetadataValue, PageId, PageInfo, PageMemory, ParentEdge } from './types.js';
import { checkArray, checkInteger, checkObject } from './validate.js';

export abstract class StateReader {
  /** One zero-copy view per page: V8 allows one external buffer per pointer. */
  protected readonly views = new Map<PageId, Uint8Array>();

  /** The native state, or BUS_CLOSED. */
  protected abstract native(): NativeState;

  page(id: PageId): PageInfo {
    const state = this.native();
    checkInteger(id, 'page id');
    const info = call(() => state.pageInfo(id));
    return { id, size: info.size, location: info.location as Location, memory: info.memory as PageMemory, epoch: info.epoch };
  }

  /**
   * The file behind a `mapped` page (`undefined` for a page in other memory),
   * for another process to map (read-only by contract, like a view). The file
   * holds the page's live bytes: a delta is in it when its call returns, with
   * no synchronisation with readers (compare the page's epoch before and after
   * reading). Mode 0600, in `<dir>/pages/` (a private temp directory for an
   * in-memory bus or a past state); never synced, so not durable: the log is.
   * It is removed when the page is released or moved to other memory and when
   * the bus closes (a process that mapped it keeps the last bytes); files a
   * crash left are removed on open, and the pages are mapped anew.
   */
  mappedFile(id: PageId): string | undefined {
    const state = this.native();
    checkInteger(id, 'page id');
    return call(() => state.mappedPath(id)) ?? undefined;
  }

  metadata(id: PageId): Record<string, MetadataValue> {
    const state = this.native();
    checkInteger(id, 'page id');
    const entries = call(() => state.metadata(id));
    return Object.fromEntries(entries.map((entry) => [entry.key, decodeMetadataValue(entry.value)]));
  }

  /** Copies a page's bytes, whole or `length` bytes from `offset`. */
  read(id: PageId, range: { readonly offset?: number; readonly length?: number } = {}): Uint8Array {
    const state = this.native();
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
    const state = this.native();
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
    const state = this.native();
    checkInteger(id, 'page id');
    const cached = this.views.get(id);
    if (cached !== undefined) return cached;
    const view = call(() => state.view(id));
    this.views.set(id, view);
    return view;
  }

  /** A page's parents in the graph, in the order their edges were added. */
  parents(id: PageId): ParentEdge[] {
    const state = this.native();
    checkInteger(id, 'page id');
    return call(() => state.parents(id)) as ParentEdge[];
  }

  /** A page's children in the graph. */
  children(id: PageId): PageId[] {
    const state = this.native();
    checkInteger(id, 'page id');
    return call(() => state.children(id));
  }

  /** Edges in the graph. */
  get edgeCount(): number {
    return this.native().edgeCount();
  }

  /** The BLAKE3 state hash (hex) of docs/formats.md: equal states, equal hashes. */
  stateHash(): string {
    return this.native().stateHash();
  }

  /** The id the next created page will get. */
  get nextPageId(): PageId {
    return this.native().nextPageId();
  }

  get livePageCount(): number {
    return this.native().livePageCount();
  }
}

/** A detached, read-only state as it was after one LSN (`Bus.stateAt`). */
export class StateView extends StateReader {
  readonly #state: NativeState;

  /** The LSN whose state this is. */
  readonly lsn: number;

  constructor(state: NativeState, lsn: number) {
    super();
    this.#state = state;
    this.lsn = lsn;
  }

  protected native(): NativeState {
    return this.#state;
  }
}

export function closedError(directory: string): MmsbError {
  return new MmsbError(ErrorCode.BUS_CLOSED, `the bus on ${directory} is closed`);
}
