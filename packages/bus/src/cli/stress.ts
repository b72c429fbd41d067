/** `mmsb stress`, in @mmsb/stress (tools/stress of the MMSB repository, not published). */
import type { Print } from './main.js';
import { type PackageCommand, runPackageCommand } from './package-command.js';

interface StressModule {
  runStress(argv: readonly string[], print: Print): Promise<number>;
  readonly STRESS_HELP: string;
}

const STRESS: PackageCommand = {
  pkg: '@mmsb/stress',
  install: 'it is a tool of the MMSB repository (tools/stress): run it from a checkout, after `bash tools/dev.sh test` has built it',
  load(module) {
    const stress = module as unknown as StressModule;
    return { run: (argv, print) => stress.runStress(argv, print), help: stress.STRESS_HELP };
  },
};

export function runStressCommand(argv: readonly string[], print: Print): Promise<number> {
  return runPackageCommand('stress', STRESS, argv, print);
}
