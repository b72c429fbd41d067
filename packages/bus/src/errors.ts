/**
 * Every failure a caller can cause has a stable code. The codes from
 * `PAGE_NOT_FOUND` to `DEVICE_FAILED` are the Rust core's own (a test
 * checks the two lists agree); the rest arise in TypeScript only, those
 * from `MALFORMED_REQUEST` on in the bridge (docs/protocol.md).
 *
 * What a failed mutation means: every code but one says the change was NOT
 * applied (nothing changed, nothing was logged). The exception is
 * `DURABILITY_UNKNOWN`: the change was applied and written to the log, but
 * the sync that would make it durable failed, so it may or may not survive
 * a crash; the bus then refuses further writes (`LOG_FAILED`, and
 * `DURABILITY_UNKNOWN` from `sync()`) until it is reopened, which recovers
 * exactly what reached the disk. `DISK_FULL` (ENOSPC) refuses only the write
 * that did not fit: the log stays writable once space is freed. `IO_ERROR`
 * on a write means it was not applied and the log failed.
 */
export const ErrorCode = {
  PAGE_NOT_FOUND: 'PAGE_NOT_FOUND',
  PAGE_RELEASED: 'PAGE_RELEASED',
  PAGE_SIZE_INVALID: 'PAGE_SIZE_INVALID',
  LOCATION_UNKNOWN: 'LOCATION_UNKNOWN',
  CUDA_UNAVAILABLE: 'CUDA_UNAVAILABLE',
  DELTA_SIZE_MISMATCH: 'DELTA_SIZE_MISMATCH',
  RANGE_OUT_OF_BOUNDS: 'RANGE_OUT_OF_BOUNDS',
  RANGE_OVERLAP: 'RANGE_OVERLAP',
  EPOCH_CONFLICT: 'EPOCH_CONFLICT',
  METADATA_INVALID: 'METADATA_INVALID',
  ENCODING_INVALID: 'ENCODING_INVALID',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  IO_ERROR: 'IO_ERROR',
  LOG_CORRUPT: 'LOG_CORRUPT',
  CHECKPOINT_CORRUPT: 'CHECKPOINT_CORRUPT',
  LOG_FAILED: 'LOG_FAILED',
  DIRECTORY_LOCKED: 'DIRECTORY_LOCKED',
  LSN_OUT_OF_RANGE: 'LSN_OUT_OF_RANGE',
  GRAPH_CYCLE: 'GRAPH_CYCLE',
  EDGE_EXISTS: 'EDGE_EXISTS',
  EDGE_NOT_FOUND: 'EDGE_NOT_FOUND',
  DISK_FULL: 'DISK_FULL',
  DURABILITY_UNKNOWN: 'DURABILITY_UNKNOWN',
  MEMORY_UNSUITABLE: 'MEMORY_UNSUITABLE',
  WAVE_LIMIT: 'WAVE_LIMIT',
  DEVICE_NOT_FOUND: 'DEVICE_NOT_FOUND',
  DEVICE_OUT_OF_MEMORY: 'DEVICE_OUT_OF_MEMORY',
  DEVICE_FAILED: 'DEVICE_FAILED',
  NATIVE_UNAVAILABLE: 'NATIVE_UNAVAILABLE',
  BUS_CLOSED: 'BUS_CLOSED',
  RECOMPUTE_FAILED: 'RECOMPUTE_FAILED',
  EVENTS_OVERFLOW: 'EVENTS_OVERFLOW',
  LISTENER_FAILED: 'LISTENER_FAILED',
  INTERNAL: 'INTERNAL',
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  PROTOCOL_VERSION: 'PROTOCOL_VERSION',
  UNKNOWN_OPERATION: 'UNKNOWN_OPERATION',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  SESSION_UNKNOWN: 'SESSION_UNKNOWN',
  HANDLE_UNKNOWN: 'HANDLE_UNKNOWN',
  HANDLE_FOREIGN: 'HANDLE_FOREIGN',
  ID_UNREPRESENTABLE: 'ID_UNREPRESENTABLE',
  SHM_INVALID: 'SHM_INVALID',
  BRIDGE_TIMEOUT: 'BRIDGE_TIMEOUT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const knownCodes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** The one error type of MMSB: `code` is stable, `message` names the object. */
export class MmsbError extends Error {
  override readonly name = 'MmsbError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export function isMmsbError(value: unknown): value is MmsbError {
  return value instanceof MmsbError;
}

/**
 * Converts an error thrown by the addon. Core errors carry a known `code`;
 * anything else (napi refusing an argument the bus should have checked, or
 * a panic) is a bug in MMSB, reported as INTERNAL with the original as
 * `cause`, never passed off as the caller's mistake.
 */
export function fromNative(error: unknown): MmsbError {
  if (error instanceof MmsbError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && knownCodes.has(code)) {
    return new MmsbError(code as ErrorCode, message, { cause: error });
  }
  return new MmsbError(ErrorCode.INTERNAL, `internal error in the native core (please report it): ${message}`, { cause: error });
}
