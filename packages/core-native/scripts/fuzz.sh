#!/usr/bin/env bash
# The cargo-fuzz (libFuzzer) targets of mmsb-core (fuzz/fuzz_targets/):
#   bash scripts/fuzz.sh ci [seconds]       each target for `seconds` (default 8) from the seed
#                                           corpus; fails on any crash (the test command)
#   bash scripts/fuzz.sh long [seconds]     each target for `seconds` (default 600), keeping what
#                                           it finds in fuzz/corpus-local/ (not committed)
#   bash scripts/fuzz.sh planted [seconds]  builds with planted bugs (feature planted-bugs) and
#                                           requires every target to find its bug within `seconds`
# `long` and `planted` run through cargo fuzz (installed here when missing). `ci` builds the
# same instrumentation with plain cargo (the flags below are what cargo fuzz passes, at
# opt-level 1 and parallel codegen), so the test command needs neither cargo-fuzz's install
# nor its single-unit optimised build. Stable Rust takes the nightly flags through
# RUSTC_BOOTSTRAP=1. Crashes are written to fuzz/artifacts/<target>/;
# `cargo fuzz run <target> <file>` replays one.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC_BOOTSTRAP=1
CARGO_FUZZ_VERSION=0.13.2
TARGETS=(${MMSB_FUZZ_TARGETS:-log_segment checkpoint batch metadata store_model})
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
LIBFUZZER_FLAGS=(
  -Cpasses=sancov-module
  -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
  -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares
  -Cllvm-args=-sanitizer-coverage-stack-depth
  -Cllvm-args=-simplifycfg-branch-fold-threshold=0
  --cfg fuzzing
  -Zsanitizer=address
  -Cdebug-assertions
)

install_cargo_fuzz() {
  if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  fi
}

# Prints the executions a libFuzzer log reports (its final count, or the last status line's).
summary() {
  local runs
  runs=$(grep -Eo 'Done [0-9]+ runs' "$1" | awk '{print $2}' | tail -n1 || true)
  if [ -z "$runs" ]; then
    runs=$(grep -Eo '^#[0-9]+' "$1" | tr -d '#' | tail -n1 || true)
  fi
  echo "${runs:-?} executions"
}

# Runs the fuzzer binary `binary` on a fresh corpus seeded from the committed one.
# Crashes go to `artifacts`/.
run_target() {
  local target=$1 seconds=$2 corpus=$3 binary=$4 log=$5 artifacts=$6
  mkdir -p "$artifacts" "$corpus"
  "$binary" "$corpus" "fuzz/corpus/$target" -max_total_time="$seconds" -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1
}

mode=${1:-ci}
case "$mode" in
  ci)
    seconds=${2:-8}
    RUSTFLAGS="${LIBFUZZER_FLAGS[*]}" CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0 \
      cargo build --quiet --release --manifest-path fuzz/Cargo.toml --target "$TRIPLE" \
      --target-dir fuzz/target/ci --bins
    binaries=fuzz/target/ci/$TRIPLE/release
    ;;
  long | planted)
    install_cargo_fuzz
    features=()
    if [ "$mode" = planted ]; then features=(--features planted-bugs); fi
    cargo fuzz build "${features[@]}" >/dev/null
    binaries=fuzz/target/$TRIPLE/release
    ;;
  *)
    echo "usage: bash scripts/fuzz.sh ci|long|planted [seconds]" >&2
    exit 2
    ;;
esac

for target in "${TARGETS[@]}"; do
  log=$(mktemp)
  case "$mode" in
    ci | long)
      seconds=${2:-$([ "$mode" = ci ] && echo 8 || echo 600)}
      corpus=$([ "$mode" = long ] && echo "fuzz/corpus-local/$target" || mktemp -d)
      if ! run_target "$target" "$seconds" "$corpus" "$binaries/$target" "$log" "fuzz/artifacts/$target"; then
        tail -n 60 "$log"
        echo "fuzz: $target crashed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
      fi
      echo "fuzz: $target: ${seconds}s, $(summary "$log"), no crash"
      if [ "$mode" = ci ]; then rm -rf "$corpus"; fi
      ;;
    planted)
      seconds=${2:-120}
      corpus=$(mktemp -d)
      planted=$(mktemp -d)
      if run_target "$target" "$seconds" "$corpus" "$binaries/$target" "$log" "$planted"; then
        tail -n 20 "$log"
        echo "fuzz: $target did not find its planted bug in ${seconds}s" >&2
        exit 1
      fi
      if ! grep -Eq 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log"; then
        tail -n 40 "$log"
        echo "fuzz: $target failed, but not with a crash" >&2
        exit 1
      fi
      found=$(grep -Eo 'panicked at [^ ]+|ERROR: (libFuzzer|AddressSanitizer): [a-z-]+' "$log" | head -n1 || true)
      echo "fuzz: $target found its planted bug ($found), $(summary "$log")"
      rm -rf "$corpus" "$planted"
      ;;
  esac
  rm -f "$log"
done
