/**
 * CUDA as the bus sees it: whether the core loaded a driver, the fallback
 * to heap memory where a bus opted in (`BusOptions.cudaFallback: 'cpu'`),
 * and the warning each fallback gives. The core loads CUDA at run time, so
 * none of this needs CUDA to build, install or test.
 */
import { call, nativeAddon } from './native.js';
import type { PageMemory } from './types.js';

/** What this process sees of CUDA. */
export interface CudaInfo {
  readonly available: boolean;
  /** Devices the driver sees (0 without CUDA). */
  readonly devices: number;
  /** Why CUDA is unavailable; `undefined` when it is available. */
  readonly reason: string | undefined;
  /** Pages given heap memory for want of CUDA, in this process. */
  readonly fallbacks: number;
}

/** Loads the CUDA driver if it has not been tried yet, and says what it found. */
export function cudaInfo(): CudaInfo {
  const info = call(() => nativeAddon().cudaInfo());
  return { available: info.available, devices: info.devices, reason: info.reason ?? undefined, fallbacks: info.fallbacks };
}

/** Fallbacks already warned about. */
let warned = 0;

/** Turns the process-wide fallback to heap memory on. */
export function enableCudaFallback(): void {
  call(() => nativeAddon().setCudaFallback(true));
}

/** Emits one process warning (`MMSB_CUDA_FALLBACK`) for fallbacks since the last. */
export function warnCudaFallbacks(): void {
  const info = cudaInfo();
  if (info.fallbacks <= warned) return;
  const count = info.fallbacks - warned;
  warned = info.fallbacks;
  process.emitWarning(
    `${count} page(s) that wanted CUDA memory got heap memory instead (cudaFallback: 'cpu'): ${info.reason ?? 'CUDA unavailable'}`,
    { code: 'MMSB_CUDA_FALLBACK' },
  );
}

/** Where a page's bytes are (`Bus.residency`). */
export interface Residency {
  readonly memory: PageMemory;
  /** The CUDA device of a `device` or `managed` page. */
  readonly device: number | undefined;
  /**
   * For a `device` page, which copies are current: `device` (a delta ran
   * since the last host read), `host` (written on the host, or evicted) or `both`.
   */
  readonly current: 'device' | 'host' | 'both' | undefined;
  /** Device memory the page holds now. */
  readonly deviceBytes: number;
}

/** A CUDA page's device memory (`Bus.devicePointer`). */
export interface DevicePointer {
  readonly pointer: bigint;
  readonly size: number;
  readonly device: number;
}
