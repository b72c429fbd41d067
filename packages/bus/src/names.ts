/**
 * The names the bus accepts for the core's enums, as typed lists. The core
 * defines every name once (mmsb-core names.rs) and exports the lists with
 * `names()`; a test checks these agree with it, in order, as it does for the
 * error codes. They are checked here, before a call, so that a wrong name
 * is a typed MmsbError and never a napi conversion error.
 */
import { ErrorCode, MmsbError } from './errors.js';
import type { BuiltinTransform } from './propagation.js';
import type { EdgeKind, Location, PageMemory } from './types.js';
import { describe } from './validate.js';

export const LOCATIONS: readonly Location[] = ['cpu', 'gpu', 'unified'];
export const PAGE_MEMORIES: readonly PageMemory[] = ['heap', 'arena', 'mapped', 'device', 'managed'];
export const EDGE_KINDS: readonly EdgeKind[] = ['data', 'control', 'gpu_sync', 'compiler'];
export const BUILTIN_TRANSFORMS: readonly BuiltinTransform[] = ['copy', 'concat', 'xor'];

/** `expected "a", "b" or "c"`, as the core words it. */
export function expected(names: readonly string[]): string {
  const quoted = names.map((name) => JSON.stringify(name));
  return quoted.length === 1 ? `expected ${quoted[0]}` : `expected ${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

/**
 * `value` as one of `names`, as the core's `names::parse` checks it: a value
 * that is not a string is INVALID_ARGUMENT, an unknown name is `code`.
 */
export function checkName<T extends string>(
  value: unknown,
  names: readonly T[],
  what: string,
  code: ErrorCode = ErrorCode.INVALID_ARGUMENT,
): T {
  if (typeof value !== 'string') {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${what} must be a string, got ${describe(value)}`);
  }
  if (!(names as readonly string[]).includes(value)) {
    throw new MmsbError(code, `unknown ${what} ${describe(value)}: ${expected(names)}`);
  }
  return value as T;
}
