# The AddressSanitizer build settings that asan.sh and addon-sanitizers.sh share (sourced): with
# equal flags and target directory the addon's build reuses mmsb-core and the dependencies that
# asan.sh built. Stable Rust takes the nightly flags through RUSTC_BOOTSTRAP=1. Legacy symbol
# mangling, because gcc's ASan runtime (the one node preloads) demangles it but not Rust's v0.
export RUSTC_BOOTSTRAP=1
# The host's own triple: the same scripts run on an arm64 runner.
ASAN_TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
ASAN_RUSTFLAGS='-Zsanitizer=address -Zunstable-options -Csymbol-mangling-version=legacy'
ASAN_TARGET_DIR=target/asan
