#!/usr/bin/env bash
# Builds the delta kernels' PTX from core/cuda/apply.cu with nvcc (on a machine
# with the CUDA toolkit). With --check, builds into a temporary file and fails
# if the checked-in PTX differs (the GPU test run calls it so).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$here/packages/core-native/core/cuda"
ptx="$dir/apply.ptx"
# compute_75 is the oldest target nvcc 13 accepts; the driver compiles the PTX
# for the card at module load.
# From inside the folder, by a relative name: nvcc derives internal symbol
# names from the path it is given.
build() { (cd "$dir" && nvcc -ptx -arch=compute_75 -O3 -o "$1" apply.cu); }
if [[ "${1:-}" == "--check" ]]; then
  fresh="$(mktemp --suffix=.ptx)"
  build "$fresh"
  if ! cmp -s "$fresh" "$ptx"; then
    echo "stale PTX: $ptx differs from what nvcc builds from $dir/apply.cu; run tools/gpu/build-ptx.sh" >&2
    diff "$ptx" "$fresh" | head -20 >&2 || true
    exit 1
  fi
  echo "PTX up to date: $ptx"
else
  build "$ptx"
  echo "wrote $ptx"
fi
