#!/usr/bin/env bash
# Runs MMSB.jl's test suite (Pkg.test) against a real `mmsb serve`, then shows that a
# planted failing assertion fails it. Called by the nx target `test` of julia/package.json.
#
# Which Julia:
#   1. `julia` on the PATH: a user's normal install; Pkg resolves ZMQ and MsgPack as usual.
#   2. else the offline toolchain shared/julia (Julia 1.10.2 with ZMQ.jl and MsgPack.jl):
#      MMSB_SHARED_JULIA if set, else the first `shared/julia` found in the repository's
#      parent directory or above it (CI's clean clone sits next to shared/).
#   3. else the Julia tests are skipped, and this says so (an error with MMSB_REQUIRE_JULIA=1).
# The server is packages/bus/bin/mmsb.js of this checkout (MMSB_CLI overrides it: the release
# check points it at an installed package). --no-planted skips the planted-failure run.
set -euo pipefail

PLANTED=1
if [ "${1:-}" = --no-planted ]; then
  PLANTED=0
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PACKAGE="$HERE/MMSB.jl"
export MMSB_REPO="$REPO"
export MMSB_CLI="${MMSB_CLI:-$REPO/packages/bus/bin/mmsb.js}"
# Two threads: finalizers and the release queue are exercised across threads.
export JULIA_NUM_THREADS="${JULIA_NUM_THREADS:-2}"

find_shared_julia() {
  if [ -n "${MMSB_SHARED_JULIA:-}" ]; then
    echo "$MMSB_SHARED_JULIA"
    return
  fi
  local dir
  dir="$(dirname "$REPO")"
  while :; do
    if [ -f "$dir/shared/julia/run-pkg-test.sh" ]; then
      echo "$dir/shared/julia"
      return
    fi
    [ "$dir" = / ] && return
    dir="$(dirname "$dir")"
  done
}

SHARED_JULIA="$(find_shared_julia)"
if command -v julia >/dev/null; then
  JULIA_KIND="julia on the PATH ($(command -v julia))"
elif [ -n "$SHARED_JULIA" ]; then
  JULIA_KIND="the offline toolchain in $SHARED_JULIA"
else
  echo "MMSB.jl: Julia tests SKIPPED: no julia on the PATH and no shared/julia toolchain found" \
    "(set MMSB_SHARED_JULIA or install Julia to run them)"
  # The release check in CI must not pass on a skip.
  if [ "${MMSB_REQUIRE_JULIA:-}" = 1 ]; then
    exit 1
  fi
  exit 0
fi

pkg_test() {
  if command -v julia >/dev/null; then
    local env rc=0
    env="$(mktemp -d)"
    julia --startup-file=no --project="$env" -e \
      'using Pkg; Pkg.develop(path = ARGS[1]); Pkg.test("MMSB")' "$PACKAGE" || rc=$?
    rm -rf "$env"
    return $rc
  fi
  bash "$SHARED_JULIA/run-pkg-test.sh" "$PACKAGE"
}

echo "MMSB.jl: Pkg.test with $JULIA_KIND, server $MMSB_CLI"
started=$(date +%s)
pkg_test
echo "MMSB.jl: Pkg.test passed in $(($(date +%s) - started)) s (Julia start-up, resolution and precompilation included)"

if [ "$PLANTED" -eq 0 ]; then
  exit 0
fi

# The planted run is the "errors" testset only, to keep the second run short.
echo "MMSB.jl: the errors testset with a planted failing assertion must fail"
log="$(mktemp)"
planted=0
MMSB_JL_PLANT_FAILURE=1 MMSB_JL_TESTSETS=errors pkg_test >"$log" 2>&1 || planted=$?
if [ "$planted" -eq 0 ]; then
  echo "MMSB.jl: the planted failure did NOT fail the suite (log: $log)" >&2
  exit 1
fi
grep -q "Test Failed" "$log" || {
  echo "MMSB.jl: the planted run failed, but not on an assertion (log: $log)" >&2
  exit 1
}
rm -f "$log"
echo "MMSB.jl: the planted assertion failed the suite (exit status $planted), as it must"
