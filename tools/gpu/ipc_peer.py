"""The other process of tools/gpu/ipc.mjs: opens an MMSB device page from its
CUDA IPC handle once, wraps the mapping as a CuPy array (when CuPy is
installed) and as a PyTorch tensor over the same memory, and answers each
`check <sha256>` line with whether both read exactly those bytes, in place.

Usage: ipc_peer.py <handle hex> <bytes> <device>
"""

import ctypes
import hashlib
import json
import sys

import torch

IPC_LAZY_ENABLE_PEER_ACCESS = 1


class IpcHandle(ctypes.Structure):
    _fields_ = [("reserved", ctypes.c_char * 64)]


class DeviceArray:
    """A device range in the CUDA array interface, which torch.as_tensor wraps without a copy."""

    def __init__(self, pointer, size):
        self.__cuda_array_interface__ = {
            "shape": (size,),
            "typestr": "|u1",
            "data": (pointer, False),
            "strides": None,
            "version": 3,
        }


def open_with_cupy(handle, size, device):
    import cupy

    cupy.cuda.Device(device).use()
    pointer = cupy.cuda.runtime.ipcOpenMemHandle(handle, IPC_LAZY_ENABLE_PEER_ACCESS)
    memory = cupy.cuda.UnownedMemory(pointer, size, None, device)
    array = cupy.ndarray((size,), dtype=cupy.uint8, memptr=cupy.cuda.MemoryPointer(memory, 0))
    tensor = torch.from_dlpack(array)
    return pointer, array, tensor, lambda: cupy.cuda.runtime.ipcCloseMemHandle(pointer)


def open_with_driver(handle, size, device):
    torch.zeros(1, device=f"cuda:{device}")  # makes the device's primary context current
    cuda = ctypes.CDLL("libcuda.so.1")
    opener = getattr(cuda, "cuIpcOpenMemHandle_v2", None) or cuda.cuIpcOpenMemHandle
    pointer = ctypes.c_uint64()
    raw = IpcHandle()
    ctypes.memmove(ctypes.byref(raw), handle, 64)
    status = opener(ctypes.byref(pointer), raw, ctypes.c_uint(IPC_LAZY_ENABLE_PEER_ACCESS))
    if status != 0:
        raise RuntimeError(f"cuIpcOpenMemHandle failed with CUDA error {status}")
    tensor = torch.as_tensor(DeviceArray(pointer.value, size), device=f"cuda:{device}")
    return pointer.value, None, tensor, lambda: cuda.cuIpcCloseMemHandle(ctypes.c_uint64(pointer.value))


def main():
    handle, size, device = bytes.fromhex(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.cuda.set_device(device)
    try:
        pointer, array, tensor, close = open_with_cupy(handle, size, device)
        via = "cupy+torch"
    except ImportError:
        pointer, array, tensor, close = open_with_driver(handle, size, device)
        via = "torch (CUDA array interface over cuIpcOpenMemHandle)"
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "close":
            del tensor, array
            close()
            print(json.dumps({"closed": True}), flush=True)
            return
        expected = rest[0]
        torch.cuda.synchronize()
        digests = {"torch": hashlib.sha256(tensor.cpu().numpy().tobytes()).hexdigest()}
        if array is not None:
            digests["cupy"] = hashlib.sha256(array.get().tobytes()).hexdigest()
        answer = {
            "via": via,
            "pointer": pointer,
            "tensorPointer": tensor.data_ptr(),
            "equal": all(digest == expected for digest in digests.values()) and tensor.data_ptr() == pointer,
            "digests": digests,
        }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
