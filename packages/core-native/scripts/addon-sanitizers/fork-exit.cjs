// Preloaded into the vitest forks of the ASan run. Vitest stops a fork with
// SIGTERM; killed so, node runs no leak check, and exited through
// process.exit it skips freeing its environment, so whatever JS objects owned
// would read as leaked. Closing the IPC channel instead lets the fork end by
// itself: node frees its environment (running the addon's finalizers) and
// LeakSanitizer checks what is left (vitest-main.cjs keeps vitest from
// killing the fork meanwhile). Marker files in MMSB_ASAN_LOGS name each fork,
// so the run can wait for them all, and each fork that something kept alive,
// which fails the run.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ALIVE_MS_MAX = 20_000;
const mark = (kind, text = '') => writeFileSync(join(process.env.MMSB_ASAN_LOGS, `${kind}.${process.pid}`), text);

mark('fork');
process.on('SIGTERM', () => {
  if (process.connected) process.disconnect();
  setTimeout(() => {
    mark('alive', `still running ${ALIVE_MS_MAX} ms after SIGTERM: ${process.getActiveResourcesInfo().join(', ')}\n`);
    process.exit(1);
  }, ALIVE_MS_MAX).unref();
});
