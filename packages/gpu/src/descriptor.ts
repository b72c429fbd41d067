/**
 * A page's device memory as a DLPack-like descriptor: the fields a
 * `DLManagedTensor` carries (data pointer, device, dtype, shape, strides,
 * byte offset) as plain values, and a release callback. The bytes are one
 * contiguous uint8 vector. The core finishes its work on the device before
 * each call returns, so the memory is ready on any stream (`stream: null`).
 * Device pointers are valid in this process only; docs/gpu.md shows the use
 * from CUDA.jl (`unsafe_wrap`) and what CuPy and PyTorch need.
 */
import type { DevicePointer } from '@mmsb/bus';

export interface DeviceDescriptor {
  /** The device address of the first byte (DLTensor.data). */
  readonly data: bigint;
  readonly byteOffset: 0;
  readonly byteLength: number;
  /** DLDevice: kDLCUDA (2) and the ordinal. */
  readonly device: { readonly type: 'cuda'; readonly dlDeviceType: 2; readonly id: number };
  /** DLDataType: kDLUInt, 8 bits, 1 lane. */
  readonly dtype: { readonly code: 'uint'; readonly dlCode: 1; readonly bits: 8; readonly lanes: 1 };
  readonly shape: readonly [number];
  readonly strides: readonly [1];
  /** No stream to wait on: the core synchronises its own before returning. */
  readonly stream: null;
  /** Ends the export (unpins the page); later calls do nothing. */
  release(): void;
}

export function describe(pointer: DevicePointer, unpin: () => void): DeviceDescriptor {
  let released = false;
  return {
    data: pointer.pointer,
    byteOffset: 0,
    byteLength: pointer.size,
    device: { type: 'cuda', dlDeviceType: 2, id: pointer.device },
    dtype: { code: 'uint', dlCode: 1, bits: 8, lanes: 1 },
    shape: [pointer.size],
    strides: [1],
    stream: null,
    release() {
      if (released) return;
      released = true;
      unpin();
    },
  };
}
