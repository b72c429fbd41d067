/**
 * Commands that live in other packages, which depend on this one: `mmsb
 * serve` in @mmsb/julia-bridge, `mmsb stress` in @mmsb/stress. The CLI
 * imports the package when the command runs, so @mmsb/bus works without it.
 */
import { ErrorCode, MmsbError } from '../errors.js';
import type { Print } from './main.js';

/** A command another package implements. */
export interface PackageCommand {
  /** The package that holds it. */
  readonly pkg: string;
  /** How a user gets that package. */
  readonly install: string;
  /** The package's export that runs the command: `(argv, print) => Promise<exit code>`. */
  readonly run: string;
  /** The package's export holding the command's help text. */
  readonly help: string;
}

type Runner = (argv: readonly string[], print: Print) => Promise<number>;

/** Whether `error` says `pkg` itself is not installed (not one of its own imports). */
function isMissing(error: unknown, pkg: string): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return code === 'ERR_MODULE_NOT_FOUND' && (message ?? '').includes(`'${pkg}'`);
}

/** Runs `command` with `argv` (`--help` prints the package's help). */
export async function runPackageCommand(name: string, command: PackageCommand, argv: readonly string[], print: Print): Promise<number> {
  let module: Record<string, unknown>;
  try {
    module = (await import(command.pkg)) as Record<string, unknown>;
  } catch (error) {
    const message = isMissing(error, command.pkg)
      ? `mmsb ${name} needs the ${command.pkg} package beside @mmsb/bus: ${command.install}`
      : `${command.pkg} is installed but could not be loaded: ${(error as Error).message}`;
    throw new MmsbError(ErrorCode.NATIVE_UNAVAILABLE, message, { cause: error });
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    print(module[command.help] as string);
    return 0;
  }
  return (module[command.run] as Runner)(argv, print);
}
