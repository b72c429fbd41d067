/**
 * Metadata values cross to the core as msgpack bytes in plain msgpack types
 * (no msgpackr records), so any msgpack library can read them back.
 */
import { Packr } from 'msgpackr';

import { ErrorCode, MmsbError } from './errors.js';
import type { MetadataValue } from './types.js';

const packr = new Packr({ useRecords: false, variableMapSize: true, mapsAsObjects: true });

export function encodeMetadataValue(key: string, value: MetadataValue): Uint8Array {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    throw new MmsbError(ErrorCode.METADATA_INVALID, `metadata ${JSON.stringify(key)} has a value msgpack cannot encode (${typeof value})`);
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
