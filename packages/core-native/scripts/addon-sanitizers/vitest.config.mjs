// The bus's test suite over the AddressSanitizer build of the addon
// (`addon-sanitizers.sh asan`), or with MMSB_PLANTED set only planted.test.mjs.
// Only the forks that run the tests, and the processes they start, get the
// ASan runtime, the addon and the sanitizer options; vitest's own process
// stays uninstrumented.
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this suite through scripts/addon-sanitizers.sh asan`);
  return value;
}

export default defineConfig({
  test: {
    root: here('../../../..'),
    include: process.env.MMSB_PLANTED
      ? ['packages/core-native/scripts/addon-sanitizers/planted.test.mjs']
      : ['packages/bus/test/**/*.test.ts'],
    pool: 'forks',
    execArgv: ['--require', here('fork-exit.cjs')],
    env: {
      LD_PRELOAD: required('MMSB_ASAN_RUNTIME'),
      ASAN_OPTIONS: required('MMSB_ASAN_OPTIONS'),
      LSAN_OPTIONS: required('MMSB_LSAN_OPTIONS'),
      MMSB_NATIVE_PATH: required('MMSB_ASAN_ADDON'),
      MMSB_ASAN_LOGS: required('MMSB_ASAN_LOGS'),
    },
  },
});
