// The crash test's workload: operation k is a pure function of k, so the
// killed child and the parent's oracle perform the same operations in the
// same order. Every operation is one log record and changes the state.
export const PAGES = 8;
export const PAGE_SIZE = 512;

/** A small deterministic generator (mulberry32) seeded per operation. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

function bytes(next, length) {
  return Uint8Array.from({ length }, () => Math.floor(next() * 256));
}

function payload(next) {
  const roll = next();
  if (roll < 0.4) return { kind: 'dense', bytes: bytes(next, PAGE_SIZE) };
  if (roll < 0.7) {
    const mask = new Uint8Array(PAGE_SIZE / 8);
    let count = 0;
    for (let index = 0; index < PAGE_SIZE; index++) {
      if (next() < 0.1) {
        mask[index >> 3] |= 1 << (index & 7);
        count++;
      }
    }
    return { kind: 'sparse', mask, bytes: bytes(next, count) };
  }
  const offset = Math.floor(next() * (PAGE_SIZE - 64));
  return { kind: 'ranges', ranges: [{ offset, bytes: bytes(next, 1 + Math.floor(next() * 63)) }] };
}

/**
 * Operation k (k ≥ 1; operation 0 creates the pages). Returns a function
 * that performs it on a bus.
 */
export function operation(k, seed) {
  const next = random(seed * 1_000_003 + k);
  const pageId = 1 + Math.floor(next() * PAGES);
  const roll = next();
  if (roll < 0.15) {
    const deltas = Array.from({ length: 2 + Math.floor(next() * 6) }, () => ({
      pageId: 1 + Math.floor(next() * PAGES),
      payload: payload(next),
    }));
    return (bus) => bus.applyBatch(deltas);
  }
  if (roll < 0.2) {
    const value = Math.floor(next() * 1000);
    return (bus) => bus.setMetadata(pageId, 'value', value);
  }
  const delta = { pageId, payload: payload(next) };
  return (bus) => bus.apply(delta);
}

export function setup(bus) {
  return bus.createPages(PAGES, { size: PAGE_SIZE });
}
