/** A page id: assigned by the bus from 1 upward, never reused. */
export type PageId = number;

/**
 * Where the page's creator wants its bytes: part of the state (logged,
 * hashed). `gpu` pages default to `device` memory and `unified` pages to
 * `managed` memory, which need CUDA (else CUDA_UNAVAILABLE, or heap memory
 * with a warning under `BusOptions.cudaFallback: 'cpu'`).
 */
export type Location = 'cpu' | 'gpu' | 'unified';

/**
 * Where a page's bytes live; not part of the state (hash, epochs), but logged
 * and checkpointed so that recovery puts every page back. `heap`: one
 * allocation per page. `arena`: small pages (at most 4096 bytes) packed in
 * shared chunks. `mapped`: a file another process can map (`Bus.mappedFile`).
 * `device`: GPU memory with a pinned host mirror; deltas run as kernels on
 * the device. `managed`: CUDA managed memory, which host and device address.
 * By default a `cpu` page made by `createPage` is `heap`, and `cpu` pages
 * made by `createPages` are `arena` up to 4096 bytes, `heap` above; `gpu`
 * pages are `device` and `unified` pages `managed`.
 */
export type PageMemory = 'heap' | 'arena' | 'mapped' | 'device' | 'managed';

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
  /** Defaults as `PageMemory` says: by location, then size. */
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
