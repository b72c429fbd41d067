/**
 * Argument checks at the TypeScript boundary. The core validates meaning
 * (sizes, bounds, epochs); these catch wrong types before napi sees them, so
 * every bad call fails with MmsbError rather than a napi conversion error.
 */
import { ErrorCode, MmsbError } from './errors.js';

function invalid(message: string): MmsbError {
  return new MmsbError(ErrorCode.INVALID_ARGUMENT, message);
}

/** A short description of a value for an error message (a null-prototype object too). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  return typeof value === 'object' ? (value === null ? 'null' : (value.constructor?.name ?? 'object')) : String(value);
}

/** A non-negative integer a JS number holds exactly. */
export function checkInteger(value: unknown, what: string): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw invalid(`${what} must be a non-negative safe integer, got ${describe(value)}`);
  }
}

/** A positive integer. */
export function checkCount(value: unknown, what: string): asserts value is number {
  checkInteger(value, what);
  if (value === 0) throw invalid(`${what} must be at least 1`);
}

/** An integer in `0..limit`. */
export function checkIndex(value: unknown, limit: number, what: string): asserts value is number {
  checkInteger(value, what);
  if (value >= limit) throw new MmsbError(ErrorCode.RANGE_OUT_OF_BOUNDS, `${what} ${value} is outside 0..${limit - 1}`);
}

export function checkBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array, got ${describe(value)}`);
}

/** A byte of a payload: an integer 0..255, which a Uint8Array would otherwise wrap or truncate silently. */
export function checkByteAt(value: unknown, offset: number): asserts value is number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 255) {
    throw invalid(`the byte at offset ${offset} must be an integer 0..255, got ${describe(value)}`);
  }
}

export function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string') throw invalid(`${what} must be a string, got ${describe(value)}`);
}

export function checkObject(value: unknown, what: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${what} must be an object, got ${describe(value)}`);
  }
}

export function checkArray(value: unknown, what: string): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) throw invalid(`${what} must be an array, got ${describe(value)}`);
}
