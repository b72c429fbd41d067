/**
 * @mmsb/bus: the MMSB TypeScript API.
 *
 * ```ts
 * import { Bus, dense } from '@mmsb/bus';
 * const bus = await Bus.open(':memory:');
 * const id = await bus.createPage({ size: 4096 });
 * await bus.apply({ pageId: id, payload: dense(new Uint8Array(4096).fill(7)) });
 * ```
 */
export { Bus, MEMORY, type CheckpointInfo, type RecoveryInfo, type TornTail } from './bus.js';
export { cudaInfo, type CudaInfo, type DevicePointer, type Residency } from './cuda.js';
export { encodeBatch } from './delta-encoding.js';
export { ErrorCode, isMmsbError, MmsbError } from './errors.js';
export type { CommitEvent, CommitListener } from './events.js';
export { mergePayloads } from './merge.js';
export type { BuiltinTransform, PropagationStats, Recompute, RecomputeFunction } from './propagation.js';
export type { BusOptions, FsyncPolicy, RecoveryMode } from './options.js';
export { StateView } from './state-reader.js';
export { dense, ranges, sparse, sparseFromBytes } from './payloads.js';
export type {
  AppliedDelta,
  CreatePageOptions,
  Delta,
  DeltaPayload,
  DeltaSource,
  DensePayload,
  EdgeKind,
  Location,
  MetadataValue,
  PageId,
  PageInfo,
  PageMemory,
  ParentEdge,
  RangesPayload,
  RangeWrite,
  SparsePayload,
} from './types.js';
export { VERSION } from './version.js';
export type { BusHistograms, BusStats, HistogramName, HistogramSnapshot } from './stats.js';
