/**
 * The names the bus accepts for the core's enums, as typed lists. The core
 * defines every name once (mmsb-core names.rs) and exports the lists with
 * `names()`; a test checks these agree with it, in order, as it does for the
 * error codes. They are checked here, before a call, so that a wrong name
 * is a typed MmsbError and never a napi conversion error.
 */
import type { BuiltinTransform } from './propagation.js';
import type { EdgeKind, Location, PageMemory } from './types.js';

export const LOCATIONS: readonly Location[] = ['cpu', 'gpu', 'unified'];
export const PAGE_MEMORIES: readonly PageMemory[] = ['heap', 'arena', 'mapped'];
export const EDGE_KINDS: readonly EdgeKind[] = ['data', 'control', 'gpu_sync', 'compiler'];
export const BUILTIN_TRANSFORMS: readonly BuiltinTransform[] = ['copy', 'concat', 'xor'];

/** `expected "a", "b" or "c"`, as the core words it. */
export function expected(names: readonly string[]): string {
  const quoted = names.map((name) => JSON.stringify(name));
  return quoted.length === 1 ? `expected ${quoted[0]}` : `expected ${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}
