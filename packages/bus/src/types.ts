/** A page id: assigned by the bus from 1 upward, never reused. */
export type PageId = number;

/** Where a page's bytes live. `gpu` and `unified` need a CUDA device. */
export type Location = 'cpu' | 'gpu' | 'unified';

/**
 * Where a page's bytes live; not part of the state (hash, epochs), but logged
 * and checkpointed so that recovery puts every page back. `heap`: one
 * allocation per page. `arena`: small pages (at most 4096 bytes) packed in
 * shared chunks. `mapped`: a file another process can map (`Bus.mappedFile`).
 * By default a page made by `createPage` is `heap`, and pages made by
 * `createPages` are `arena` up to 4096 bytes, `heap` above.
 */
export type PageMemory = 'heap' | 'arena' | 'mapped';

/** Who produced a delta; logged with it. */
export type DeltaSource = 'user' | 'propagation' | 'bridge';

/** A metadata value: anything msgpack encodes (numbers, strings, bytes, arrays, maps, null). */
export type MetadataValue = unknown;

/** Replaces every byte of the page; `bytes.length` must equal the page size. */
export interface DensePayload {
  readonly kind: 'dense';
  readonly bytes: Uint8Array;
}

/**
 * Writes the bytes whose mask bit is set: bit `i % 8` of `mask[i >> 3]`
 * (least significant first) covers page byte `i`. `mask.length` is
 * `ceil(size / 8)`; `bytes` holds one byte per set bit, in page order.
 */
export interface SparsePayload {
  readonly kind: 'sparse';
  readonly mask: Uint8Array;
  readonly bytes: Uint8Array;
}

/** One write of a ranges payload. */
export interface RangeWrite {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** Writes at offsets: in offset order, not overlapping, inside the page. */
export interface RangesPayload {
  readonly kind: 'ranges';
  readonly ranges: readonly RangeWrite[];
}

export type DeltaPayload = DensePayload | SparsePayload | RangesPayload;

/** A masked write to one page. */
export interface Delta {
  readonly pageId: PageId;
  readonly payload: DeltaPayload;
  /** Defaults to `user`. */
  readonly source?: DeltaSource | undefined;
  /** When set, the delta applies only if the page is at this epoch (else EPOCH_CONFLICT). */
  readonly expectEpoch?: number | undefined;
}

export interface CreatePageOptions {
  /** Bytes, 1 to 2^32 - 1. */
  readonly size: number;
  /** Defaults to `cpu`. */
  readonly location?: Location;
  /** Defaults to `heap` for one page, `arena` for pages of at most 4096 bytes made by `createPages`. */
  readonly memory?: PageMemory;
  readonly metadata?: Readonly<Record<string, MetadataValue>>;
}

export interface PageInfo {
  readonly id: PageId;
  readonly size: number;
  readonly location: Location;
  readonly memory: PageMemory;
  /** 0 at creation, +1 for every applied delta. */
  readonly epoch: number;
}

/** What `apply` reports. */
export interface AppliedDelta {
  readonly pageId: PageId;
  /** The page's epoch after the delta. */
  readonly epoch: number;
  /** The LSN of the delta's log record. */
  readonly lsn: number;
}

/** What a dependency edge means to the application; propagation treats all alike. */
export type EdgeKind = 'data' | 'control' | 'gpu_sync' | 'compiler';

/** An edge seen from its child. */
export interface ParentEdge {
  readonly parent: PageId;
  readonly kind: EdgeKind;
}
