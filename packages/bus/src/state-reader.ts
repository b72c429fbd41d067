/**
 * Reading a state: pages, bytes, views, metadata and the hash. The live
 * `Bus` and the detached `StateView` of time travel share these methods.
 */
import { ErrorCode, MmsbError } from './errors.js';
import { decodeMetadataValue } from './metadata.js';
import { call, type NativeState } from './native.js';
import type { Location, MetadataValue, PageId, PageInfo, ParentEdge } from './types.js';
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
    return { id, size: info.size, location: info.location as Location, epoch: info.epoch };
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
