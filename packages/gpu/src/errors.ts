/**
 * The refusals of the residency manager, each with a stable code. Errors of
 * the bus itself (an unknown page, CUDA_UNAVAILABLE) pass through as the
 * bus's `MmsbError`, except a failed device, which becomes DEVICE_LOST.
 */
export const GpuErrorCode = {
  /** The page cannot be made resident: pinned pages fill the device's budget, or the page alone exceeds it. */
  OVER_BUDGET: 'OVER_BUDGET',
  /** The page is on another device than the one asked for. */
  WRONG_DEVICE: 'WRONG_DEVICE',
  /** A CUDA call on the page's device failed (the bus said DEVICE_FAILED); the error's cause has it. */
  DEVICE_LOST: 'DEVICE_LOST',
  /** The manager manages only pages in `device` memory. */
  NOT_DEVICE_PAGE: 'NOT_DEVICE_PAGE',
  /** The page is not managed by this manager (`track` it first). */
  NOT_TRACKED: 'NOT_TRACKED',
  /** The page is pinned: it may not be evicted or moved until every pin is released. */
  PINNED: 'PINNED',
  /** A budget or device ordinal that is not a non-negative integer. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
} as const;

export type GpuErrorCode = (typeof GpuErrorCode)[keyof typeof GpuErrorCode];

export class GpuError extends Error {
  override readonly name = 'GpuError';
  readonly code: GpuErrorCode;

  constructor(code: GpuErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
