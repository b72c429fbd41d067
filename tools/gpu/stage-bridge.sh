#!/usr/bin/env bash
# Stages, in .device/bridge/ (gitignored), what tools/gpu/bridge-cores.sh needs
# on the GPU machine, which has cores to spare but no Node, Redis or libzmq:
# this machine's node (xz), the built bridge and bus with their runtime
# packages, the addon, redis-server and redis-benchmark, the C load generator
# and echo of the bridge benchmark, and the shared libraries they use.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
stage="$root/.device/bridge"
cd "$root"
pnpm exec nx run-many -t build -p @mmsb/bus @mmsb/julia-bridge --output-style=static
rm -rf "$stage/node_modules" "$stage/bin" "$stage/lib"
mkdir -p "$stage/node_modules/@mmsb" "$stage/bin" "$stage/lib"
modules="$stage/node_modules"
for package in bus julia-bridge; do
  mkdir -p "$modules/@mmsb/$package"
  cp -r "packages/$package/package.json" "packages/$package/dist" "$modules/@mmsb/$package/"
done
mkdir -p "$modules/@mmsb/core-native"
cp packages/core-native/{package.json,index.js,platform.js,mmsb.linux-x64-gnu.node} "$modules/@mmsb/core-native/"
cp -rL node_modules/.pnpm/msgpackr@*/node_modules/msgpackr "$modules/msgpackr"
cp -rL node_modules/.pnpm/cmake-ts@*/node_modules/cmake-ts "$modules/cmake-ts"
# zeromq.js with its Linux x64 glibc builds only (the others are most of its size).
zeromq="$(ls -d node_modules/.pnpm/zeromq@*/node_modules/zeromq)"
mkdir -p "$modules/zeromq/build/linux/x64/node"
cp -r "$zeromq/lib" "$zeromq/package.json" "$modules/zeromq/"
cp "$zeromq/build/manifest.json" "$modules/zeromq/build/"
cp -r "$zeromq"/build/linux/x64/node/glibc-* "$modules/zeromq/build/linux/x64/node/"
# Source maps are most of the copied packages and unused here (the carry is at most 64 MiB).
find "$modules" -name "*.map" -delete
cp tools/gpu/bridge-peer.mjs "$stage/peer.mjs"
cc -O2 -o "$stage/bin/commit-load" tools/bench/commit-load.c -lzmq
cc -O2 -o "$stage/bin/zmq-echo" tools/bench/zmq-echo.c -lzmq
cp "$(command -v redis-server)" "$(command -v redis-benchmark)" "$stage/bin/"
ldd "$stage"/bin/* | awk '/=> \//{print $3}' | sort -u |
  grep -v -E '/(libc|libm|libpthread|libresolv|libdl|librt|libgcc_s|libstdc\+\+)\.so' | xargs cp -L -t "$stage/lib/"
if [[ ! -f "$stage/node.xz" || "$(cat "$stage/node.version" 2>/dev/null)" != "$(node --version)" ]]; then
  xz -T2 -6 -c "$(command -v node)" >"$stage/node.xz"
  node --version >"$stage/node.version"
fi
du -sh "$stage"
