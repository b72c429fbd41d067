/** `mmsb serve`, in @mmsb/julia-bridge. */
import type { Print } from './main.js';
import { type PackageCommand, runPackageCommand } from './package-command.js';

interface BridgeModule {
  runServe(argv: readonly string[], print: Print): Promise<number>;
  readonly SERVE_HELP: string;
}

const SERVE: PackageCommand = {
  pkg: '@mmsb/julia-bridge',
  install: 'npm install @mmsb/julia-bridge',
  load(module) {
    const bridge = module as unknown as BridgeModule;
    return { run: (argv, print) => bridge.runServe(argv, print), help: bridge.SERVE_HELP };
  },
};

export function runServeCommand(argv: readonly string[], print: Print): Promise<number> {
  return runPackageCommand('serve', SERVE, argv, print);
}
