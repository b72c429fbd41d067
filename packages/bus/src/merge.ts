/** Merge (⊕) of two payloads for one page, computed by the Rust core. */
import { encodeBatch } from './delta-encoding.js';
import { call, nativeAddon } from './native.js';
import { dense, sparse } from './payloads.js';
import type { DeltaPayload, DensePayload, SparsePayload } from './types.js';
import { checkInteger } from './validate.js';

/**
 * Returns one payload whose effect on a page of `pageSize` bytes equals
 * applying `first`, then `second`: the later write wins byte by byte. The
 * result is dense when either side is dense, otherwise sparse. Both payloads
 * are validated against the size first (errors name page 0: no page is involved).
 */
export function mergePayloads(pageSize: number, first: DeltaPayload, second: DeltaPayload): DensePayload | SparsePayload {
  checkInteger(pageSize, 'pageSize');
  const encoded = encodeBatch([
    { pageId: 0, payload: first },
    { pageId: 0, payload: second },
  ]);
  const merged = call(() => nativeAddon().mergePayloads(pageSize, encoded));
  return merged.mask === undefined || merged.mask === null ? dense(merged.bytes) : sparse(merged.mask, merged.bytes);
}
