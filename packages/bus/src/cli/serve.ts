/** `mmsb serve`, in @mmsb/julia-bridge. */
import type { Print } from './main.js';
import { type PackageCommand, runPackageCommand } from './package-command.js';

const SERVE: PackageCommand = {
  pkg: '@mmsb/julia-bridge',
  install: 'npm install @mmsb/julia-bridge',
  run: 'runServe',
  help: 'SERVE_HELP',
};

export function runServeCommand(argv: readonly string[], print: Print): Promise<number> {
  return runPackageCommand('serve', SERVE, argv, print);
}
