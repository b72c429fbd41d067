#!/usr/bin/env bash
# The GPU benchmark, run on the GPU machine (docs/gpu-validation.md): the
# seed's 84 MiB checkpoint restored onto the device by MMSB (native example
# gpu_restore, built on the development machine) and by its Python peers,
# in the same run, warm and cold. Usage: run.sh <gpu_restore binary> <out.json>
set -euo pipefail
binary="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d)/data"
"$binary" "$dir" make
warm="$("$binary" "$dir" warm 20)"
cold="$("$binary" "$dir" cold 6)"
peers="$(python3 "$here/peers.py" "$dir" 20)"
gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
printf '{"date":"%s","gpu":"%s","mmsb":{"warm":%s,"cold":%s},"peers":%s}\n' \
  "$(date -u +%FT%TZ)" "$gpu" "$warm" "$cold" "$peers" | tee "$out"
