#!/usr/bin/env bash
# The one entry point of the README:
#   bash tools/dev.sh serve        set everything up, then run `mmsb serve` on the default data directory
#   bash tools/dev.sh quickstart   set everything up, then run the quickstart (mmsb demo)
#   bash tools/dev.sh test         set everything up, then run every test
#   bash tools/dev.sh bench        set everything up, then run the benchmarks
# Set-up is idempotent: it installs what is missing (pnpm, packages), builds the
# native addon and the TypeScript, and does nothing more when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
NODE_MAJOR_MIN=20
PYTHON_CLIENT=packages/julia-bridge/clients/python
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
# CI runs every task for real; locally nx's cache (.nx/cache) skips unchanged work.
NX_CACHE_FLAGS=()
if [ "${CI:-}" = "true" ]; then NX_CACHE_FLAGS=(--skip-nx-cache); fi

say() { printf '\n== %s\n' "$*"; }

# System packages: as root (CI here), or through sudo (a CI runner, a developer).
apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

require_toolchains() {
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt "$NODE_MAJOR_MIN" ]; then
    echo "MMSB needs Node.js $NODE_MAJOR_MIN or newer (found: $(node --version 2>/dev/null || echo none))" >&2
    exit 1
  fi
  if ! command -v cargo >/dev/null; then
    echo "MMSB needs a Rust toolchain (cargo) to build its native core; install Rust with rustup" >&2
    exit 1
  fi
}

# The Python client's tests (nx target test:python) run in a virtualenv of its own,
# with the pinned pyzmq and msgpack of its requirements.txt.
setup_python_client() {
  local venv="$PYTHON_CLIENT/.venv"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    say "installing python3-venv (the Python client's virtualenv)"
    apt_install python3 python3-venv
  fi
  if ! "$venv/bin/python" -c '' 2>/dev/null; then
    say "creating the Python client's virtualenv"
    python3 -m venv --clear "$venv"
  fi
  if ! cmp -s "$PYTHON_CLIENT/requirements.txt" "$venv/requirements.installed"; then
    say "installing the Python client's packages (pyzmq, msgpack)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$PYTHON_CLIENT/requirements.txt"
    cp "$PYTHON_CLIENT/requirements.txt" "$venv/requirements.installed"
  fi
}

# The bridge server's request socket is the addon's ROUTER over libzmq, loaded at run
# time (without it the server falls back to zeromq.js, and the tests of the native one fail).
install_libzmq() {
  if ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libzmq\.so\.5 '; then
    say "installing libzmq (the bridge server's request socket)"
    apt_install libzmq5
  fi
}

setup() {
  require_toolchains
  install_libzmq
  if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
    say "installing pnpm $PNPM_VERSION"
    npm install --global --no-fund --no-audit "pnpm@$PNPM_VERSION"
  fi
  say "installing packages"
  # better-sqlite3 (a benchmark peer) compiles against the installed Node headers.
  if [ -d /usr/include/node ]; then export npm_config_nodedir=/usr; fi
  pnpm install --frozen-lockfile --reporter=append-only
  say "building the native addon and the TypeScript packages"
  pnpm exec nx run-many -t build --output-style=static "${NX_CACHE_FLAGS[@]}"
  setup_python_client
}

# The metrics tests start a real Prometheus server (Debian's package) on loopback.
install_prometheus() {
  if ! command -v prometheus >/dev/null; then
    say "installing prometheus (the metrics tests scrape with it)"
    apt_install prometheus
  fi
}

# The addon sanitizers (packages/core-native/scripts/addon-sanitizers.sh) run node under valgrind
# and preload gcc's ASan runtime (libasan8, which Debian's gcc brings).
install_sanitizer_tools() {
  if ! command -v valgrind >/dev/null; then
    say "installing valgrind (the addon sanitizers run node under it)"
    apt_install valgrind
  fi
  if [ ! -f "$(gcc -print-file-name=libasan.so 2>/dev/null)" ]; then
    say "installing gcc's ASan runtime (node preloads it for the addon sanitizers)"
    if command -v gcc >/dev/null; then
      apt_install "libgcc-$(gcc -dumpversion | cut -d. -f1)-dev"
    else
      apt_install gcc
    fi
  fi
}

case "${1:-}" in
  serve)
    setup
    say "mmsb serve (Ctrl-C stops it)"
    shift
    exec node packages/bus/bin/mmsb.js serve "$@"
    ;;
  quickstart)
    setup
    say "mmsb demo"
    node packages/bus/bin/mmsb.js demo
    ;;
  test)
    setup
    install_prometheus
    install_sanitizer_tools
    say "lint, type checks, Rust tests (plain and under ASan), vitest, the addon under ASan and valgrind, the Python client's tests"
    pnpm exec nx run-many -t lint typecheck test test:asan test:python --output-style=static "${NX_CACHE_FLAGS[@]}"
    say "the release check: pack every package, npm install the tarballs outside the workspace with Rust hidden, run them"
    pnpm release:check
    ;;
  bench)
    setup
    if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
      say "installing redis-server (a benchmark peer)"
      apt_install redis-server
    fi
    if [ ! -f /usr/include/zmq.h ]; then
      say "installing libzmq's headers (the bridge benchmark's C load generator)"
      apt_install libzmq3-dev
    fi
    pnpm exec nx run-many -t bench --output-style=static
    ;;
  *)
    echo "usage: bash tools/dev.sh serve|quickstart|test|bench" >&2
    exit 2
    ;;
esac
