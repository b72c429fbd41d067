/**
 * Every failure a caller can cause has a stable code. The codes from
 * `PAGE_NOT_FOUND` to `EDGE_NOT_FOUND` are the Rust core's own (a test
 * checks the two lists agree); the rest arise in TypeScript only.
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
  NATIVE_UNAVAILABLE: 'NATIVE_UNAVAILABLE',
  BUS_CLOSED: 'BUS_CLOSED',
  RECOMPUTE_FAILED: 'RECOMPUTE_FAILED',
  WAVE_LIMIT: 'WAVE_LIMIT',
  EVENTS_OVERFLOW: 'EVENTS_OVERFLOW',
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
 * anything else is an argument napi itself refused, or a bug, and is reported
 * as INVALID_ARGUMENT with the original as `cause`.
 */
export function fromNative(error: unknown): MmsbError {
  if (error instanceof MmsbError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && knownCodes.has(code)) {
    return new MmsbError(code as ErrorCode, message, { cause: error });
  }
  return new MmsbError(ErrorCode.INVALID_ARGUMENT, message, { cause: error });
}
