/**
 * A strict decoder of plain msgpack, for bytes from outside: exactly one
 * value, no extension types (so no records, typed arrays, references,
 * timestamps or BigInt extensions), map keys that are strings and unique,
 * nesting at most 64 deep, and every declared length checked against the
 * bytes left before anything is allocated. Maps decode to objects without a
 * prototype; `uint 64` and `int 64` to BigInt; binaries to views of the
 * input (which the caller owns). Any breach throws a `DecodeError`, whose
 * message never quotes the input at length.
 */

/** Bytes that are not one plain msgpack value. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

const MAX_DEPTH = 64;
const textDecoder = new TextDecoder('utf-8', { fatal: true });

class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(count: number, what: string): void {
    if (count > this.bytes.length - this.offset) {
      throw new DecodeError(
        `${what} needs ${count} bytes at offset ${this.offset}; the message has ${this.bytes.length - this.offset} left`,
      );
    }
  }

  u8(): number {
    this.need(1, 'a byte');
    return this.bytes[this.offset++]!;
  }

  u16(): number {
    this.need(2, 'a length');
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }

  u32(): number {
    this.need(4, 'a length');
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  /** Skips a number of `size` bytes; returns where it starts. */
  fixed(size: number): number {
    this.need(size, 'a number');
    const start = this.offset;
    this.offset += size;
    return start;
  }

  take(length: number, what: string): Uint8Array {
    this.need(length, what);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }
}

/** Short ASCII strings already made, by a hash of their bytes: keys and names repeat in every message. */
const SHORT = 16;
const known = new Array<string | undefined>(1024).fill(undefined);

function same(made: string, bytes: Uint8Array, start: number, length: number): boolean {
  if (made.length !== length) return false;
  for (let index = 0; index < length; index++) if (made.charCodeAt(index) !== bytes[start + index]) return false;
  return true;
}

function text(reader: Reader, length: number): string {
  if (length <= SHORT) {
    reader.need(length, 'a string');
    const { bytes } = reader;
    const start = reader.offset;
    let hash = length;
    let index = 0;
    for (; index < length; index++) {
      const byte = bytes[start + index]!;
      if (byte >= 0x80) break;
      hash = (Math.imul(hash, 31) + byte) | 0;
    }
    if (index === length) {
      reader.offset += length;
      const slot = hash & (known.length - 1);
      const made = known[slot];
      if (made !== undefined && same(made, bytes, start, length)) return made;
      const string = String.fromCharCode.apply(null, bytes.subarray(start, start + length) as unknown as number[]);
      known[slot] = string;
      return string;
    }
  }
  const bytes = reader.take(length, 'a string');
  if (length > SHORT && length < 64) {
    let ascii = true;
    for (let index = 0; ascii && index < length; index++) ascii = bytes[index]! < 0x80;
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  try {
    return textDecoder.decode(bytes);
  } catch {
    throw new DecodeError(`a string at offset ${reader.offset - length} is not UTF-8`);
  }
}

function count(reader: Reader, entries: number, perEntry: number, what: string): number {
  // Every entry takes at least one byte per item: a larger count cannot be in the message.
  reader.need(entries * perEntry, what);
  return entries;
}

function array(reader: Reader, length: number, depth: number): unknown[] {
  count(reader, length, 1, 'an array');
  const items = new Array<unknown>(length);
  for (let index = 0; index < length; index++) items[index] = value(reader, depth + 1);
  return items;
}

function map(reader: Reader, length: number, depth: number): Record<string, unknown> {
  count(reader, length, 2, 'a map');
  const result = Object.create(null) as Record<string, unknown>;
  for (let index = 0; index < length; index++) {
    const at = reader.offset;
    const key = value(reader, depth + 1);
    if (typeof key !== 'string') throw new DecodeError(`a map key at offset ${at} is not a string`);
    if (Object.hasOwn(result, key)) throw new DecodeError(`a map repeats a key at offset ${at}`);
    result[key] = value(reader, depth + 1);
  }
  return result;
}

function value(reader: Reader, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new DecodeError(`values nest deeper than ${MAX_DEPTH}`);
  const at = reader.offset;
  const tag = reader.u8();
  if (tag < 0x80) return tag;
  if (tag >= 0xe0) return tag - 0x100;
  if (tag < 0x90) return map(reader, tag & 0x0f, depth);
  if (tag < 0xa0) return array(reader, tag & 0x0f, depth);
  if (tag < 0xc0) return text(reader, tag & 0x1f);
  const { view } = reader;
  switch (tag) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return reader.take(reader.u8(), 'a binary');
    case 0xc5:
      return reader.take(reader.u16(), 'a binary');
    case 0xc6:
      return reader.take(reader.u32(), 'a binary');
    case 0xca:
      return view.getFloat32(reader.fixed(4));
    case 0xcb:
      return view.getFloat64(reader.fixed(8));
    case 0xcc:
      return view.getUint8(reader.fixed(1));
    case 0xcd:
      return view.getUint16(reader.fixed(2));
    case 0xce:
      return view.getUint32(reader.fixed(4));
    case 0xcf:
      return view.getBigUint64(reader.fixed(8));
    case 0xd0:
      return view.getInt8(reader.fixed(1));
    case 0xd1:
      return view.getInt16(reader.fixed(2));
    case 0xd2:
      return view.getInt32(reader.fixed(4));
    case 0xd3:
      return view.getBigInt64(reader.fixed(8));
    case 0xd9:
      return text(reader, reader.u8());
    case 0xda:
      return text(reader, reader.u16());
    case 0xdb:
      return text(reader, reader.u32());
    case 0xdc:
      return array(reader, reader.u16(), depth);
    case 0xdd:
      return array(reader, reader.u32(), depth);
    case 0xde:
      return map(reader, reader.u16(), depth);
    case 0xdf:
      return map(reader, reader.u32(), depth);
    default:
      // 0xc1 (never used) and the extension types 0xc7-0xc9 and 0xd4-0xd8.
      throw new DecodeError(`byte 0x${tag.toString(16)} at offset ${at} is not a plain msgpack type`);
  }
}

/** Decodes exactly one plain msgpack value from `bytes`. */
export function decode(bytes: Uint8Array): unknown {
  const reader = new Reader(bytes);
  const result = value(reader, 0);
  if (reader.offset !== bytes.length) {
    throw new DecodeError(`${bytes.length - reader.offset} bytes follow the value that ends at offset ${reader.offset}`);
  }
  return result;
}
