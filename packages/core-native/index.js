// Loads the platform's compiled addon. A missing or broken addon becomes an
// Error with code NATIVE_UNAVAILABLE that says how to build it, never a crash.
import { createRequire } from 'node:module';
import { arch, platform } from 'node:process';

const require = createRequire(import.meta.url);

function platformSuffix() {
  const abi = platform === 'linux' ? (process.report?.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl') : '';
  return `${platform}-${arch}${abi}`;
}

function load() {
  const path = process.env.MMSB_NATIVE_PATH ?? `./mmsb.${platformSuffix()}.node`;
  try {
    return require(path);
  } catch (cause) {
    const error = new Error(
      `the MMSB native addon could not be loaded from ${path} (${cause.message}); ` +
        'build it with `pnpm --filter @mmsb/core-native build` (needs Rust) or run the README set-up command',
      { cause },
    );
    error.code = 'NATIVE_UNAVAILABLE';
    throw error;
  }
}

export const native = load();
