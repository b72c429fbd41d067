/**
 * `mmsb serve` lives in @mmsb/julia-bridge, which depends on this package;
 * the CLI loads it when the command runs, so @mmsb/bus works without it.
 */
import { ErrorCode, MmsbError } from '../errors.js';
import type { Print } from './main.js';

interface BridgeModule {
  runServe(argv: readonly string[], print: Print): Promise<number>;
  readonly SERVE_HELP: string;
}

const BRIDGE = '@mmsb/julia-bridge';

/** Whether `error` says the bridge package itself is not installed (not one of its own imports). */
function isBridgeMissing(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return code === 'ERR_MODULE_NOT_FOUND' && (message ?? '').includes(`'${BRIDGE}'`);
}

async function loadBridge(): Promise<BridgeModule> {
  try {
    return (await import(BRIDGE)) as BridgeModule;
  } catch (error) {
    const message = isBridgeMissing(error)
      ? `mmsb serve needs the ${BRIDGE} package beside @mmsb/bus: npm install ${BRIDGE}`
      : `${BRIDGE} is installed but could not be loaded: ${(error as Error).message}`;
    throw new MmsbError(ErrorCode.NATIVE_UNAVAILABLE, message, { cause: error });
  }
}

export async function runServeCommand(argv: readonly string[], print: Print): Promise<number> {
  const bridge = await loadBridge();
  if (argv.includes('--help') || argv.includes('-h')) {
    print(bridge.SERVE_HELP);
    return 0;
  }
  return bridge.runServe(argv, print);
}
