#!/usr/bin/env bash
# The GPU validation, run on the GPU machine from the checkout with .device/
# carried (tools/gpu/stage.sh made it): every step writes its log to $OUT
# (or ./gpu-out) and a line to summary.txt; a failed step does not stop the
# others, and one that runs past STEP_TIMEOUT seconds (300) is stopped.
# Usage: validate.sh [step ...] (default: every step but bench and trace).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${OUT:-$root/gpu-out}"
mkdir -p "$out"
cd "$root"
bin="$root/.device/bin"
tools="$(mktemp -d)"
xz -dc .device/node.xz >"$tools/node" && chmod +x "$tools/node"
export PATH="$tools:$PATH"
[[ -e node_modules ]] || ln -s .device/node_modules node_modules
export MMSB_NATIVE_PATH="$root/.device/node_modules/@mmsb/core-native/mmsb.linux-x64-gnu.node"
strace_bin="$root/.device/strace/strace"

step() {
  local name="$1"
  shift
  local started=$SECONDS
  if declare -F "$1" >/dev/null; then
    "$@" >"$out/$name.log" 2>&1
  else
    timeout "${STEP_TIMEOUT:-300}" "$@" >"$out/$name.log" 2>&1
  fi
  local code=$?
  local last
  last="$(tail -n 1 "$out/$name.log" | cut -c1-160)"
  printf '%-14s rc=%d %4ds  %s\n' "$name" "$code" $((SECONDS - started)) "$last" | tee -a "$out/summary.txt"
}

machine() {
  nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
  nvcc --version | tail -n 2
  python3 -c 'import torch; print("torch", torch.__version__)'
  python3 -c 'import cupy; print("cupy", cupy.__version__)' || echo "no cupy"
  nproc
}

# The GPU tests, then the ignored one in a process of its own: it fills the
# device and needs the device's payload scratch as a fresh process has it,
# which earlier tests' large writes grow and the process keeps.
gpu_tests() {
  timeout "${STEP_TIMEOUT:-300}" "$bin/gpu" --test-threads=1 &&
    timeout "${STEP_TIMEOUT:-300}" "$bin/gpu" --ignored
}

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(machine ptx tests property nocuda smoke residency ipc memcheck)
for name in "${steps[@]}"; do
  case "$name" in
    machine) step machine machine ;;
    ptx) step ptx tools/gpu/build-ptx.sh --check ;;
    # One test at a time: the full-device test (ignored by a plain cargo test) needs the device alone.
    tests) step tests gpu_tests ;;
    property) step property "$bin/page_memory" ;;
    nocuda) step nocuda env MMSB_CUDA_DISABLE=1 "$bin/gpu" ;;
    smoke) step smoke node tools/gpu/smoke.mjs ;;
    residency) step residency node tools/gpu/residency.mjs ;;
    ipc) step ipc node tools/gpu/ipc.mjs ;;
    # Without the (ignored) full-device test: its deliberate out-of-memory returns count as errors.
    memcheck) step memcheck compute-sanitizer --tool memcheck --leak-check no "$bin/gpu" --test-threads=1 ;;
    memcheck-ipc) step memcheck-ipc compute-sanitizer --tool memcheck --leak-check no node tools/gpu/ipc.mjs ;;
    bench) step bench tools/bench/gpu/run.sh "$bin/gpu_restore" "$out/gpu.json" ;;
    trace)
      dir="$(mktemp -d)/data"
      "$bin/gpu_restore" "$dir" make >/dev/null
      # Three opens in one process: the last is past every first-use cost.
      step trace env LD_LIBRARY_PATH="$root/.device/strace" "$strace_bin" -f -tt -T -o "$out/trace.txt" \
        "$bin/gpu_restore" "$dir" warm 3
      ;;
    *) echo "unknown step $name" | tee -a "$out/summary.txt" ;;
  esac
done
