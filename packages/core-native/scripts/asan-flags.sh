# The AddressSanitizer build settings that asan.sh and addon-sanitizers.sh share (sourced): with
# equal flags and target directory the addon's build reuses mmsb-core and the dependencies that
# asan.sh built. Stable Rust takes the nightly flags through RUSTC_BOOTSTRAP=1. Legacy symbol
# mangling, because gcc's ASan runtime (the one node preloads) demangles it but not Rust's v0.
export RUSTC_BOOTSTRAP=1
ASAN_TRIPLE=x86_64-unknown-linux-gnu
ASAN_RUSTFLAGS='-Zsanitizer=address -Zunstable-options -Csymbol-mangling-version=legacy'
ASAN_TARGET_DIR=target/asan
