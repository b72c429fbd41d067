/** `mmsb stress`, in @mmsb/stress (tools/stress of the MMSB repository, not published). */
import type { Print } from './main.js';
import { type PackageCommand, runPackageCommand } from './package-command.js';

const STRESS: PackageCommand = {
  pkg: '@mmsb/stress',
  install: 'it is a tool of the MMSB repository (tools/stress): run it from a checkout, after `bash tools/dev.sh test` has built it',
  run: 'runStress',
  help: 'STRESS_HELP',
};

export function runStressCommand(argv: readonly string[], print: Print): Promise<number> {
  return runPackageCommand('stress', STRESS, argv, print);
}
