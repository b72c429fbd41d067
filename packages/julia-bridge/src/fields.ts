/**
 * Reading a decoded request's fields. Everything in a request is hostile:
 * each reader checks the type and range and throws a typed MmsbError naming
 * the field, so an operation only ever sees values of the types it declares.
 */
import { inspect } from 'node:util';

import { ErrorCode, MmsbError } from '@mmsb/bus';

/** A decoded msgpack map. */
export type Fields = Readonly<Record<string, unknown>>;

/**
 * A short, safe rendering of any decoded value for a message: bounded in
 * length, and a large integer is described, not converted to decimal (which
 * costs time quadratic in its size).
 */
export function show(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'bigint') return value < 1n << 64n && value >= -(1n << 63n) ? `${value}` : 'a very large integer';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object' && value !== null) {
    return inspect(value, { depth: 0, maxArrayLength: 4, maxStringLength: 40, breakLength: Infinity }).slice(0, 120);
  }
  return String(value);
}

function invalid(what: string, expected: string, value: unknown): MmsbError {
  return new MmsbError(ErrorCode.INVALID_ARGUMENT, `${what} must be ${expected} (got ${show(value)})`);
}

/** A plain map as the decoder makes it (not an array, a binary, or the decoder's object for the reserved byte 0xc1). */
export function isMap(value: unknown): value is Fields {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A field that must be present. */
export function field(fields: Fields, key: string): unknown {
  const value = Object.hasOwn(fields, key) ? fields[key] : undefined;
  if (value === undefined) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `missing field ${JSON.stringify(key)}`);
  return value;
}

/** A field that may be absent or nil. */
export function optional(fields: Fields, key: string): unknown {
  const value = Object.hasOwn(fields, key) ? fields[key] : undefined;
  return value === null ? undefined : value;
}

/** An unsigned integer up to 2^53 - 1. */
export function integer(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  throw invalid(what, 'an unsigned integer below 2^53', value);
}

/** A page or handle id: an unsigned integer the server can represent exactly. */
export function id(value: unknown, what: string): number {
  if (typeof value === 'bigint' && value > BigInt(Number.MAX_SAFE_INTEGER) && value < 1n << 64n) {
    throw new MmsbError(ErrorCode.ID_UNREPRESENTABLE, `${what} ${value} is above 2^53 - 1: no page or handle has such an id`);
  }
  if (typeof value === 'number' && Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER) {
    throw new MmsbError(ErrorCode.ID_UNREPRESENTABLE, `${what} ${value} is above 2^53 - 1: no page or handle has such an id`);
  }
  return integer(value, what);
}

export function bytes(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw invalid(what, 'a binary', value);
}

export function string(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  throw invalid(what, 'a string', value);
}

export function boolean(value: unknown, what: string): boolean {
  if (typeof value === 'boolean') return value;
  throw invalid(what, 'a boolean', value);
}

export function array(value: unknown, what: string): readonly unknown[] {
  if (Array.isArray(value)) return value;
  throw invalid(what, 'an array', value);
}

export function map(value: unknown, what: string): Fields {
  if (isMap(value)) return value;
  throw invalid(what, 'a map', value);
}

/** One of a fixed list of names. */
export function oneOf<T extends string>(value: unknown, names: readonly T[], what: string): T {
  if (typeof value === 'string' && (names as readonly string[]).includes(value)) return value as T;
  throw invalid(what, `one of ${names.join(', ')}`, value);
}
