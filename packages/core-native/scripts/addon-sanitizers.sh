#!/usr/bin/env bash
# Sanitizers over the addon as node loads it (docs/reliability.md):
#   bash scripts/addon-sanitizers.sh asan       the quickstart and the bus's vitest suite with an
#                                               AddressSanitizer build of the addon, gcc's ASan runtime
#                                               preloaded into node, LeakSanitizer on
#   bash scripts/addon-sanitizers.sh valgrind   valgrind memcheck over node running the quickstart
#                                               (mmsb demo) and the crash workload, with the release addon
#   bash scripts/addon-sanitizers.sh            both (the test command runs this from test:asan)
# Each first loads an addon built with planted memory errors (feature planted-addon-bugs,
# napi/src/planted.rs) and requires its tools to report every one, naming the planted function,
# so a clean run is known to be able to fail. Builds land in target/asan (shared with asan.sh) and
# target/debug (shared with cargo test); the addons loaded are copied to target/addon-sanitizers/.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/asan-flags.sh
here=scripts/addon-sanitizers
out=target/addon-sanitizers
bus=../bus
vitest=../../node_modules/vitest/vitest.mjs
mkdir -p "$out"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

fail() {
  echo "addon sanitizers: $*" >&2
  exit 1
}

say() { echo "addon sanitizers: $*"; }

# Builds the napi crate with AddressSanitizer (extra cargo arguments: features) into $1.
build_asan_addon() {
  local destination=$1
  shift
  RUSTFLAGS="$ASAN_RUSTFLAGS" cargo build --quiet -p mmsb-napi --target "$ASAN_TRIPLE" --target-dir "$ASAN_TARGET_DIR" "$@"
  cp "$ASAN_TARGET_DIR/$ASAN_TRIPLE/debug/libmmsb_napi.so" "$destination"
}

# The ASan runtime of the C compiler (Debian 12: gcc 12's libasan8), which exports every
# __asan_* entry point that rustc's instrumentation calls.
asan_runtime() {
  local runtime
  runtime=$(gcc -print-file-name=libasan.so)
  [ -f "$runtime" ] || fail "gcc's ASan runtime (libasan.so, Debian package libasan8) is missing"
  realpath "$runtime"
}

# Sanitizer options: every report goes to a file $1/asan.<pid>, whichever process writes it.
asan_options() { echo "detect_leaks=1:log_path=$1/asan"; }
lsan_options() { echo "suppressions=$PWD/$here/lsan.supp"; }

# Runs the vitest config (the bus's suite, or planted.test.mjs when MMSB_PLANTED is set) with
# addon $1 and its logs in $2, then waits for its forks (vitest does not wait for the last ones
# to end) and fails if one did not end by itself. Returns vitest's status.
run_vitest_asan() {
  local addon=$1 dir=$2 status=0 marker pid deadline
  mkdir -p "$dir"
  # A wedged fork (vitest-main.cjs keeps vitest from killing it) must not hang the test command.
  MMSB_ASAN_RUNTIME=$(asan_runtime) MMSB_ASAN_OPTIONS=$(asan_options "$dir") MMSB_LSAN_OPTIONS=$(lsan_options) \
    MMSB_ASAN_ADDON="$PWD/$addon" MMSB_ASAN_LOGS="$dir" \
    timeout -k 10 900 node --require "./$here/vitest-main.cjs" "$vitest" run --config "$here/vitest.config.mjs" || status=$?
  deadline=$((SECONDS + 60))
  for marker in "$dir"/fork.*; do
    pid=${marker##*.}
    while kill -0 "$pid" 2>/dev/null; do
      [ "$SECONDS" -lt "$deadline" ] || fail "vitest fork $pid is still running a minute after the suite"
      sleep 0.2
    done
  done
  if compgen -G "$dir/alive.*" >/dev/null; then
    cat "$dir"/alive.*
    fail "$(ls "$dir"/alive.* | wc -l) vitest fork(s) did not end by themselves, so their leak check did not run"
  fi
  return "$status"
}

# Requires a report matching $2 that names the planted function $3 among the logs in $1.
require_report() {
  local dir=$1 pattern=$2 function=$3
  grep -qs "$pattern" "$dir"/asan.* || fail "no '$pattern' report (planted $function)"
  grep -qs "mmsb_napi::planted::$function" "$dir"/asan.* || { cat "$dir"/asan.*; fail "the report does not name $function"; }
  say "reported: $pattern ... in mmsb_napi::planted::$function"
}

# Fails with the reports if any process whose logs are in $1 reported an error ($2 names the run).
require_clean() {
  local dir=$1 what=$2 reports
  reports=$(grep -ls 'ERROR: \(AddressSanitizer\|LeakSanitizer\)' "$dir"/asan.* || true)
  if [ -n "$reports" ]; then
    cat $reports
    fail "ASan or LeakSanitizer reported errors in $(echo "$reports" | wc -l) process(es) of $what"
  fi
}

run_asan() {
  say "building the addon with AddressSanitizer"
  build_asan_addon "$out/mmsb-asan-planted.node" --features planted-addon-bugs
  say "planted heap-buffer-overflow, called in a vitest fork"
  if MMSB_PLANTED=heap-overflow run_vitest_asan "$out/mmsb-asan-planted.node" "$logs/heap-overflow" >"$logs/heap-overflow.out" 2>&1; then
    cat "$logs/heap-overflow.out"
    fail "vitest passed with a heap-buffer-overflow in a fork"
  fi
  require_report "$logs/heap-overflow" 'ERROR: AddressSanitizer: heap-buffer-overflow' planted_heap_overflow
  say "planted leak, called in a vitest fork"
  # The test passes; the leak is found when the fork exits, after vitest's verdict.
  MMSB_PLANTED=leak run_vitest_asan "$out/mmsb-asan-planted.node" "$logs/leak" >"$logs/leak.out" 2>&1 ||
    { cat "$logs/leak.out"; fail "vitest failed on the planted leak before any leak check"; }
  require_report "$logs/leak" 'Direct leak of 4096 byte' planted_leak

  build_asan_addon "$out/mmsb-asan.node"
  say "the quickstart (mmsb demo) under ASan and LeakSanitizer"
  local dir="$logs/demo" status=0
  mkdir -p "$dir"
  LD_PRELOAD=$(asan_runtime) ASAN_OPTIONS=$(asan_options "$dir") LSAN_OPTIONS=$(lsan_options) \
    MMSB_NATIVE_PATH="$PWD/$out/mmsb-asan.node" node "$bus/bin/mmsb.js" demo >"$dir/output" || status=$?
  require_clean "$dir" "mmsb demo"
  grep -q '^state hash' "$dir/output" || { cat "$dir/output"; fail "mmsb demo did not finish under ASan"; }
  [ "$status" -eq 0 ] || { cat "$dir/output"; fail "mmsb demo exited with $status under ASan, without a report"; }

  say "the bus's test suite under ASan and LeakSanitizer"
  local status=0
  run_vitest_asan "$out/mmsb-asan.node" "$logs/suite" || status=$?
  require_clean "$logs/suite" "the bus's test suite"
  [ "$status" -eq 0 ] || fail "the bus's test suite failed under ASan (exit $status)"
  say "ASan and LeakSanitizer clean over mmsb demo and the bus's test suite ($(ls "$logs/suite"/fork.* | wc -l) vitest forks)"
}

# valgrind memcheck, leaks left to LeakSanitizer. In the clean runs the first error ends the
# process (and any node it starts) with exit status 99. node runs without its JIT (--jitless):
# faster under valgrind, and no generated code for valgrind to track.
# timeout: a process wedged under valgrind must not hang the test command.
VALGRIND=(timeout -k 10 600 valgrind --quiet --error-exitcode=99 --leak-check=no)
CLEAN=(--exit-on-first-error=yes --trace-children=yes)

run_valgrind() {
  command -v valgrind >/dev/null || fail "valgrind is missing (apt-get install valgrind; tools/dev.sh test installs it)"
  say "building the addon with planted errors for valgrind"
  # Without RUSTC_BOOTSTRAP, as cargo test builds: some build scripts (proc-macro2's) rerun when
  # it changes, which would rebuild target/debug's dependencies here and again in cargo test.
  env -u RUSTC_BOOTSTRAP cargo build --quiet -p mmsb-napi --features planted-addon-bugs
  cp target/debug/libmmsb_napi.so "$out/mmsb-planted.node"
  local log="$logs/valgrind-planted" status=0
  MMSB_NATIVE_PATH="$PWD/$out/mmsb-planted.node" "${VALGRIND[@]}" \
    node --jitless "$here/planted.mjs" heap-overflow uninitialised-read 2>"$log" || status=$?
  [ "$status" -eq 99 ] || { cat "$log"; fail "valgrind did not fail on the planted errors (exit $status)"; }
  { grep -q 'Invalid read of size 1' "$log" && grep -q 'mmsb_napi::planted::planted_heap_overflow' "$log"; } ||
    { cat "$log"; fail "valgrind did not report the planted heap overflow"; }
  { grep -q 'depends on uninitialised value' "$log" && grep -q 'mmsb_napi::planted::planted_uninitialised_read' "$log"; } ||
    { cat "$log"; fail "valgrind did not report the planted uninitialised read"; }
  say "reported: an invalid read in planted_heap_overflow, a jump on an uninitialised value in planted_uninitialised_read"

  [ -f mmsb.linux-x64-gnu.node ] || fail "no release addon to check; build it first (pnpm run build)"
  say "valgrind over node running the quickstart (mmsb demo)"
  "${VALGRIND[@]}" "${CLEAN[@]}" node --jitless "$bus/bin/mmsb.js" demo >"$logs/valgrind-demo" ||
    { cat "$logs/valgrind-demo"; fail "valgrind over mmsb demo failed"; }
  say "valgrind over node running the crash workload"
  "${VALGRIND[@]}" "${CLEAN[@]}" node --jitless "$here/crash-workload.mjs" "${MMSB_VALGRIND_KILLS:-2}" ||
    fail "valgrind over the crash workload failed"
  say "valgrind clean over the quickstart and the crash workload"
}

case "${1:-all}" in
  asan) run_asan ;;
  valgrind) run_valgrind ;;
  all)
    run_asan
    run_valgrind
    ;;
  *) fail "usage: addon-sanitizers.sh [asan|valgrind|all]" ;;
esac
