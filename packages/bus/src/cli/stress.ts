/**
 * `mmsb stress` lives in @mmsb/stress, a tool of the MMSB repository that
 * depends on this package and the bridge; the CLI loads it when the command
 * runs, so @mmsb/bus works without it.
 */
import { ErrorCode, MmsbError } from '../errors.js';
import type { Print } from './main.js';

interface StressModule {
  runStress(argv: readonly string[], print: Print): Promise<number>;
  readonly STRESS_HELP: string;
}

const STRESS = '@mmsb/stress';

async function loadStress(): Promise<StressModule> {
  try {
    return (await import(STRESS)) as StressModule;
  } catch (error) {
    throw new MmsbError(
      ErrorCode.NATIVE_UNAVAILABLE,
      `mmsb stress needs the ${STRESS} package (tools/stress of the MMSB repository, built), beside @mmsb/bus: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

export async function runStressCommand(argv: readonly string[], print: Print): Promise<number> {
  const stress = await loadStress();
  if (argv.includes('--help') || argv.includes('-h')) {
    print(stress.STRESS_HELP);
    return 0;
  }
  return stress.runStress(argv, print);
}
