#!/usr/bin/env bash
# The cargo-fuzz (libFuzzer) targets of mmsb-core (fuzz/fuzz_targets/):
#   bash scripts/fuzz.sh ci [seconds]       each target for `seconds` (default 10) from the
#                                           seed corpus; fails on any crash (the test command)
#   bash scripts/fuzz.sh long [seconds]     each target for `seconds` (default 600), keeping what
#                                           it finds in fuzz/corpus-local/ (not committed)
#   bash scripts/fuzz.sh planted [seconds]  builds with planted bugs (feature planted-bugs) and
#                                           requires every target to find its bug within `seconds`
# Stable Rust runs cargo fuzz's nightly flags through RUSTC_BOOTSTRAP=1. Crashes are
# written to fuzz/artifacts/<target>/; `cargo fuzz run <target> <file>` replays one.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC_BOOTSTRAP=1
CARGO_FUZZ_VERSION=0.13.2
TARGETS=(log_segment checkpoint batch metadata store_model)

if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# Prints the executions a libFuzzer log reports.
summary() {
  local runs
  runs=$(grep -Eo 'Done [0-9]+ runs' "$1" | awk '{print $2}' | tail -n1)
  echo "${runs:-?} runs"
}

run_target() {
  local target=$1 seconds=$2 corpus=$3 features=$4 log=$5
  mkdir -p "fuzz/artifacts/$target"
  # shellcheck disable=SC2086
  cargo fuzz run $features "$target" "$corpus" fuzz/corpus/"$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1
}

mode=${1:-ci}
case "$mode" in
  ci | long)
    seconds=${2:-$([ "$mode" = ci ] && echo 10 || echo 600)}
    cargo fuzz build >/dev/null
    for target in "${TARGETS[@]}"; do
      if [ "$mode" = long ]; then
        corpus=fuzz/corpus-local/$target
      else
        corpus=$(mktemp -d)
      fi
      mkdir -p "$corpus"
      log=$(mktemp)
      if ! run_target "$target" "$seconds" "$corpus" "" "$log"; then
        tail -n 60 "$log"
        echo "fuzz: $target crashed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
      fi
      echo "fuzz: $target: ${seconds}s, $(summary "$log"), no crash"
      [ "$mode" = ci ] && rm -rf "$corpus"
      rm -f "$log"
    done
    ;;
  planted)
    seconds=${2:-120}
    cargo fuzz build --features planted-bugs >/dev/null
    for target in "${TARGETS[@]}"; do
      corpus=$(mktemp -d)
      log=$(mktemp)
      if run_target "$target" "$seconds" "$corpus" "--features planted-bugs" "$log"; then
        tail -n 20 "$log"
        echo "fuzz: $target did not find its planted bug in ${seconds}s" >&2
        exit 1
      fi
      if ! grep -Eq 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log"; then
        tail -n 40 "$log"
        echo "fuzz: $target failed, but not with a crash" >&2
        exit 1
      fi
      echo "fuzz: $target found its planted bug: $(grep -Eo "panicked at [^:]+:[0-9]+|ERROR: libFuzzer: [a-z-]+" "$log" | head -n1), $(summary "$log")"
      rm -rf "$corpus" "$log" "fuzz/artifacts/$target"
    done
    ;;
  *)
    echo "usage: bash scripts/fuzz.sh ci|long|planted [seconds]" >&2
    exit 2
    ;;
esac
