#!/usr/bin/env bash
# The GPU benchmark, run on the GPU machine (docs/gpu-validation.md): the
# seed's 84 MiB checkpoint restored onto the device by MMSB (native example
# gpu_restore, built on the development machine) and by its Python peers,
# in the same run, warm and cold; and the delta kernels against a device-to-device
# memcpy (kernels.cu, built here with nvcc). Usage: run.sh <gpu_restore binary> <out.json>
set -euo pipefail
binary="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(mktemp -d)/data"
"$binary" "$dir" make
warm="$("$binary" "$dir" warm 20)"
cold="$("$binary" "$dir" cold 6)"
# fastsafetensors from the wheels tools/gpu/stage.sh carried (its runtime needs nothing else).
wheels="$here/../../../.device/wheels"
if compgen -G "$wheels/fastsafetensors-*.whl" >/dev/null; then
  site="$(mktemp -d)"
  python3 -m pip install --quiet --no-index --no-deps --find-links "$wheels" --target "$site" fastsafetensors &&
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
peers="$(python3 "$here/peers.py" "$dir" 20)"
# As shipped: PTX for compute_75, compiled for the card by the driver at load.
if nvcc -O3 -std=c++17 -gencode arch=compute_75,code=compute_75 -o "$dir/kernels" "$here/kernels.cu"; then
  kernels="$("$dir/kernels")"
else
  kernels='{"error":"kernels.cu did not build"}'
fi
gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
printf '{"date":"%s","gpu":"%s","mmsb":{"warm":%s,"cold":%s},"peers":%s,"kernels":%s}\n' \
  "$(date -u +%FT%TZ)" "$gpu" "$warm" "$cold" "$peers" "$kernels" | tee "$out"
