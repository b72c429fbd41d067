#!/usr/bin/env bash
# Builds, on the development machine, what a GPU run needs and puts it in
# .device/ (gitignored), which the device tool carries with the checkout
# (docs/gpu-validation.md): the Rust GPU test binaries and the benchmark's
# native side, the addon, the TypeScript packages that use it, and this
# machine's node compressed with xz. tools/gpu/validate.sh runs it there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
stage="$root/.device"
FASTSAFETENSORS=0.5.0
# Faster builds; the figures of record came from such builds too.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=8
rm -rf "$stage/bin" "$stage/node_modules"
mkdir -p "$stage/bin"
cd "$root/packages/core-native"
cargo test --release -p mmsb-core --test gpu --test page_memory --no-run --message-format=json 2>/dev/null |
  node -e '
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      for (const line of text.split("\n")) {
        const message = line.startsWith("{") ? JSON.parse(line) : {};
        if (message.executable && message.profile?.test) console.log(message.target.name, message.executable);
      }
    });' |
  while read -r name path; do cp "$path" "$stage/bin/$name"; done
cargo build --release -p mmsb-core --example gpu_restore
cp "$root/packages/core-native/target/release/examples/gpu_restore" "$stage/bin/"
pnpm run build
cd "$root"
pnpm exec nx run-many -t build -p @mmsb/bus @mmsb/gpu --output-style=static
modules="$stage/node_modules"
mkdir -p "$modules/@mmsb"
for package in bus gpu; do
  mkdir -p "$modules/@mmsb/$package"
  cp -r "packages/$package/package.json" "packages/$package/dist" "$modules/@mmsb/$package/"
done
mkdir -p "$modules/@mmsb/core-native"
cp packages/core-native/{package.json,index.js,platform.js,mmsb.linux-x64-gnu.node} "$modules/@mmsb/core-native/"
cp -rL node_modules/.pnpm/msgpackr@*/node_modules/msgpackr "$modules/msgpackr"
if [[ ! -f "$stage/node.xz" || "$(cat "$stage/node.version" 2>/dev/null)" != "$(node --version)" ]]; then
  xz -T2 -6 -c "$(command -v node)" >"$stage/node.xz"
  node --version >"$stage/node.version"
fi
# fastsafetensors, a peer of the restore benchmark: the GPU machine has no
# registry, so its wheels (one per CPython it may run) travel with the rest.
wheels="$stage/wheels"
if [[ ! -f "$wheels/fastsafetensors-$FASTSAFETENSORS.done" ]]; then
  rm -rf "$wheels"
  mkdir -p "$wheels"
  for python in 3.10 3.11 3.12 3.13; do
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$python" \
      --platform manylinux_2_28_x86_64 --dest "$wheels" "fastsafetensors==$FASTSAFETENSORS"
  done
  touch "$wheels/fastsafetensors-$FASTSAFETENSORS.done"
fi
if command -v strace >/dev/null; then
  mkdir -p "$stage/strace"
  cp "$(command -v strace)" "$stage/strace/"
  ldd "$(command -v strace)" | awk '/=> \//{print $3}' | grep -v -E 'libc\.so|ld-linux' | xargs -r cp -t "$stage/strace/"
fi
du -sh "$stage"
