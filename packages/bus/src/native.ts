/**
 * The addon, loaded once. Importing @mmsb/bus never throws: a missing addon
 * surfaces as MmsbError NATIVE_UNAVAILABLE on first use, with the reason.
 */
import { ErrorCode, fromNative, MmsbError } from './errors.js';

type Addon = (typeof import('@mmsb/core-native'))['native'];

let addon: Addon | undefined;
let loadFailure: MmsbError | undefined;

try {
  ({ native: addon } = await import('@mmsb/core-native'));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  loadFailure = new MmsbError(ErrorCode.NATIVE_UNAVAILABLE, message, { cause: error });
}

export function nativeAddon(): Addon {
  if (addon === undefined) throw loadFailure ?? new MmsbError(ErrorCode.NATIVE_UNAVAILABLE, 'addon not loaded');
  return addon;
}

export type NativeState = InstanceType<Addon['NativeState']>;

/** The hot calls (single applies, a wave's begin and resume) bound to one state, without napi-rs's per-call class machinery. */
export type DirectCalls = ReturnType<Addon['directCalls']>;

/** Runs a native call, turning its errors into MmsbError. */
export function call<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw fromNative(error);
  }
}
