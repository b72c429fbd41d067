// Preloaded into vitest's own process in the ASan run. Vitest sends a fork
// that it stops SIGKILL 500 ms after SIGTERM, often before node has freed its
// environment and LeakSanitizer has checked it (fork-exit.cjs); this drops
// that SIGKILL, so vitest waits for the fork to end by itself.
const { ChildProcess } = require('node:child_process');

const kill = ChildProcess.prototype.kill;
ChildProcess.prototype.kill = function (signal) {
  const vitestFork = this.spawnargs.some((argument) => argument.endsWith('/workers/forks.js'));
  if (signal === 'SIGKILL' && vitestFork) return false;
  return kill.call(this, signal);
};
