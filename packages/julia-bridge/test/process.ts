// `mmsb serve` as a child process, as a user runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bus/bin/mmsb.js', import.meta.url));

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly endpoint: string;
  output(): string;
  /** Resident memory of the server process, in bytes. */
  rss(): number;
  exited(): Promise<number | null>;
}

/** Starts `mmsb serve` with `args` and resolves once it has printed its banner. */
export function serveProcess(args: readonly string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mmsb serve did not start:\n${output}`)), 20_000);
    const take = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /requests\s+(\S+)/.exec(output);
      // The last line of the banner: everything before it has been printed.
      if (match !== null && output.includes('Ctrl-C stops')) {
        clearTimeout(timer);
        resolve({
          child,
          endpoint: match[1]!,
          output: () => output,
          rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
          exited: () => exit,
        });
      }
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mmsb serve exited with ${code}:\n${output}`));
    });
  });
}
