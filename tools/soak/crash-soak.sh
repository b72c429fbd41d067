#!/usr/bin/env bash
# The long form of the crash test: kill -9 the writer N times (default 1000)
# and check every recovery against the oracle. Run after `bash tools/dev.sh test`
# has built everything: bash tools/soak/crash-soak.sh [kills]
set -euo pipefail
cd "$(dirname "$0")/../.."
MMSB_CRASH_KILLS="${1:-1000}" exec pnpm exec vitest run packages/bus/test/crash.test.ts
