#!/usr/bin/env bash
# Runs the core's Rust tests under AddressSanitizer. First it builds a planted
# use-after-free and requires ASan to report it, so a run that passes is known
# to be able to fail.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/asan-flags.sh

canary_log=$(mktemp)
trap 'rm -f "$canary_log"' EXIT
if RUSTFLAGS="$ASAN_RUSTFLAGS --cfg mmsb_asan_canary" cargo test -p mmsb-core --target "$ASAN_TRIPLE" \
  --target-dir target/asan-canary --test asan_canary >"$canary_log" 2>&1; then
  cat "$canary_log"
  echo "asan: the planted use-after-free was NOT reported; the sanitizer is not working" >&2
  exit 1
fi
if ! grep -q 'heap-use-after-free' "$canary_log"; then
  cat "$canary_log"
  echo "asan: the canary failed without an ASan report" >&2
  exit 1
fi
echo "asan: canary reported (heap-use-after-free); running mmsb-core tests under ASan"
# The storage simulator's 10,000 seeds run in the plain pass; a tenth of them here.
RUSTFLAGS="$ASAN_RUSTFLAGS" MMSB_SIM_SEEDS=${MMSB_SIM_SEEDS:-1000} \
  cargo test -p mmsb-core --target "$ASAN_TRIPLE" --target-dir "$ASAN_TARGET_DIR" --lib --tests
