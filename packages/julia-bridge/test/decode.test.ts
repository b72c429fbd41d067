// The decoder's strings: short ASCII ones come from a cache keyed by a hash
// of their bytes, which must never hand back another string (a collision),
// and everything else is decoded and checked as before.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { decode, DecodeError } from '../src/decode.js';
import { encode } from '../src/msgpack.js';

describe('decoding strings', () => {
  it('gives back every string as written, keys and values, short or long, ASCII or not', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 70 })), { maxLength: 8 }),
        (entries) => {
          const object = Object.fromEntries(entries);
          expect({ ...(decode(encode(object)) as object) }).toEqual(object);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('tells apart strings whose bytes hash alike', () => {
    // Many short strings of one length fill every cache slot several times over.
    const words = Array.from({ length: 20_000 }, (_, index) => `k${index.toString(36)}`);
    for (const word of words) expect(decode(encode(word))).toBe(word);
    for (const word of words.reverse()) expect(decode(encode([word, word]))).toEqual([word, word]);
  });

  it('still refuses a string that is not UTF-8, short or long', () => {
    for (const length of [2, 20, 80]) {
      const bytes = Uint8Array.of(
        length < 32 ? 0xa0 | length : 0xd9,
        ...(length < 32 ? [] : [length]),
        ...new Array<number>(length).fill(0xff),
      );
      expect(() => decode(bytes)).toThrow(DecodeError);
    }
  });
});
