#!/usr/bin/env bash
# Shows that the storage simulator can fail: builds mmsb-core with a planted
# recovery bug (the `planted-recovery-bug` feature: damaged records at the end
# of the log read as its clean end) and requires the simulator to report
# acknowledged writes lost without a word.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if MMSB_SIM_SEEDS=${MMSB_SIM_SEEDS:-1000} cargo test -p mmsb-core --features planted-recovery-bug \
  --test storage_simulator >"$log" 2>&1; then
  tail -n 20 "$log"
  echo "planted bugs: the storage simulator passed a build with a planted recovery bug" >&2
  exit 1
fi
if ! grep -q 'with nothing reported' "$log"; then
  tail -n 40 "$log"
  echo "planted bugs: the storage simulator failed, but not on the planted bug" >&2
  exit 1
fi
echo "planted bugs: the storage simulator caught the planted recovery bug ($(grep -c '^seed ' "$log") seeds failed)"
