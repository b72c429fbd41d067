/**
 * Metadata values cross to the core as msgpack bytes in plain msgpack types
 * (no msgpackr records), so any msgpack library can read them back. Keys and
 * strings are UTF-8 there, so they must be well-formed UTF-16 here.
 */
import { Packr } from 'msgpackr';

import { ErrorCode, MmsbError } from './errors.js';
import type { MetadataValue } from './types.js';

const packr = new Packr({ useRecords: false, variableMapSize: true, mapsAsObjects: true });

/**
 * A lone surrogate: UTF-8 has no encoding for it, and napi and msgpackr write
 * U+FFFD in its place, so two distinct strings would be stored as one.
 */
const loneSurrogate = /\p{Surrogate}/u;

/** Refuses a key that is not well-formed UTF-16 (`'\uD800'` and `'\uDBFF'` would be one key). */
export function checkMetadataKey(key: string): void {
  if (loneSurrogate.test(key)) {
    throw new MmsbError(ErrorCode.METADATA_INVALID, `metadata key ${JSON.stringify(key)} is not well-formed UTF-16 (a lone surrogate)`);
  }
}

/**
 * The first string in `value` — map keys included — that is not well-formed
 * UTF-16. It walks what msgpack writes as strings, arrays and maps: arrays,
 * Maps, Sets and objects' own enumerable properties (bytes hold no strings).
 */
function malformedString(value: unknown, seen: Set<object>): string | undefined {
  if (typeof value === 'string') return loneSurrogate.test(value) ? value : undefined;
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || seen.has(value)) return undefined;
  seen.add(value);
  const entries: Iterable<unknown> =
    value instanceof Map
      ? [...value.keys(), ...value.values()]
      : Array.isArray(value) || value instanceof Set
        ? value
        : Object.entries(value).flat();
  for (const entry of entries) {
    const found = malformedString(entry, seen);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function encodeMetadataValue(key: string, value: MetadataValue): Uint8Array {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    throw new MmsbError(ErrorCode.METADATA_INVALID, `metadata ${JSON.stringify(key)} has a value msgpack cannot encode (${typeof value})`);
  }
  const malformed = malformedString(value, new Set());
  if (malformed !== undefined) {
    throw new MmsbError(
      ErrorCode.METADATA_INVALID,
      `metadata ${JSON.stringify(key)} holds the string ${JSON.stringify(malformed)}, which is not well-formed UTF-16 (a lone surrogate)`,
    );
  }
  try {
    return packr.pack(value);
  } catch (error) {
    throw new MmsbError(ErrorCode.METADATA_INVALID, `metadata ${JSON.stringify(key)} cannot be encoded: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export function decodeMetadataValue(bytes: Uint8Array): MetadataValue {
  return packr.unpack(bytes);
}
