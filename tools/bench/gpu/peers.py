"""The GPU benchmark's peers (tools/bench/gpu/run.sh): the same 84 MiB of
bytes (raw.bin, written by the native side) as three uint8 tensors of 4, 16
and 64 MiB, loaded onto the GPU by safetensors, torch.load, torch.load with
mmap then .to('cuda'), and fastsafetensors (when importable), warm and cold.
Prints one JSON object. The CUDA context is made before any timer."""

import json
import os
import statistics
import sys
import time

import torch
from safetensors.torch import load_file, save_file

directory, runs = sys.argv[1], int(sys.argv[2])
raw = open(os.path.join(directory, "raw.bin"), "rb").read()
sizes = [4 << 20, 16 << 20, 64 << 20]
tensors, at = {}, 0
for index, size in enumerate(sizes):
    tensors[f"page{index}"] = torch.frombuffer(bytearray(raw[at : at + size]), dtype=torch.uint8)
    at += size
st_path = os.path.join(directory, "model.safetensors")
pt_path = os.path.join(directory, "model.pt")
save_file(tensors, st_path)
torch.save(tensors, pt_path)
torch.zeros(1, device="cuda")
torch.cuda.synchronize()


def drop_caches():
    # The files were just written: the kernel drops only clean pages.
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as caches:
        caches.write("3")


def fastsafe(path):
    from fastsafetensors import fastsafe_open

    with fastsafe_open(filenames=[path], nogds=True, device="cuda:0") as opened:
        return {key: opened.get_tensor(key).clone() for key in opened.keys()}


peers = {
    "safetensors load_file(device=cuda)": lambda: load_file(st_path, device="cuda"),
    "torch.load(map_location=cuda)": lambda: torch.load(pt_path, map_location="cuda"),
    "torch.load(mmap=True) then .to(cuda)": lambda: {
        key: value.to("cuda") for key, value in torch.load(pt_path, mmap=True).items()
    },
    "fastsafetensors fastsafe_open(nogds=True)": lambda: fastsafe(st_path),
}

results = {}
for name, load in peers.items():
    try:
        loaded = load()
        torch.cuda.synchronize()
        for index, size in enumerate(sizes):
            assert loaded[f"page{index}"].cpu().numpy().tobytes() == bytes(tensors[f"page{index}"].numpy())
        entry = {}
        for mode in ["warm", "cold"]:
            times = []
            for _ in range(runs if mode == "warm" else max(3, runs // 3)):
                if mode == "cold":
                    drop_caches()
                started = time.perf_counter()
                loaded = load()
                torch.cuda.synchronize()
                times.append((time.perf_counter() - started) * 1e3)
                del loaded
            entry[mode] = {"median_ms": round(statistics.median(times), 2), "min_ms": round(min(times), 2)}
        results[name] = entry
    except Exception as error:  # a peer that does not run is reported, not fatal
        results[name] = {"error": f"{type(error).__name__}: {error}"}

print(json.dumps(results))
