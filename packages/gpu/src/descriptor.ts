/**
 * A page's device memory as a DLPack-like descriptor: the fields a
 * `DLManagedTensor` carries (data pointer, device, dtype, shape, strides,
 * byte offset) as plain values, and a release callback. The bytes are one
 * contiguous uint8 vector. The core finishes its work on the device before
 * each call returns, so the memory is ready on any stream (`stream: null`).
 * Device pointers are valid in this process only; another process (CuPy,
 * PyTorch) opens the page through an `IpcDescriptor`'s handle instead
 * (docs/gpu.md shows both, and CUDA.jl's `unsafe_wrap` in process).
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

/**
 * A page's device memory for another process on this machine: a CUDA IPC
 * handle that `cuIpcOpenMemHandle` (CuPy: `cupy.cuda.runtime.ipcOpenMemHandle`)
 * maps to the same bytes, with DLPack's fields for the array to wrap over
 * it. The mapping sees every later delta (zero-copy); writes through it
 * bypass the log and are overwritten by the next host write of the page,
 * so peers treat it as read-only. Valid until `release()`, which the peer
 * must not outlive with its mapping open.
 */
export interface IpcDescriptor {
  /** The 64 bytes of `CUipcMemHandle`. */
  readonly handle: Uint8Array;
  /** Where the page starts within the mapped allocation. */
  readonly byteOffset: 0;
  readonly byteLength: number;
  readonly device: DeviceDescriptor['device'];
  readonly dtype: DeviceDescriptor['dtype'];
  readonly shape: readonly [number];
  readonly strides: readonly [1];
  /** Ends the export (unpins the page); later calls do nothing. */
  release(): void;
}

export function describeIpc(handle: Uint8Array, size: number, device: number, unpin: () => void): IpcDescriptor {
  let released = false;
  return {
    handle,
    byteOffset: 0,
    byteLength: size,
    device: { type: 'cuda', dlDeviceType: 2, id: device },
    dtype: { code: 'uint', dlCode: 1, bits: 8, lanes: 1 },
    shape: [size],
    strides: [1],
    release() {
      if (released) return;
      released = true;
      unpin();
    },
  };
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
