/**
 * The propagation engine's JavaScript half: recompute registrations and the
 * wave that follows each commit.
 *
 * A wave visits the commit's descendants once each, in height order (the
 * native plan), and recomputes a child only when one of its parents changed
 * in the wave; all its changed parents are final by then. A recompute gets
 * zero-copy views of its parents (a parent recomputed earlier in the wave is
 * seen through its new bytes) and returns the child's new bytes. Output equal
 * to the child's bytes writes nothing and stops propagation below (cutoff).
 * The outputs are staged and applied at the end as one batch with source
 * `propagation`, so a recompute that throws or returns the wrong size leaves
 * no derived delta behind; the commit that started the wave stays.
 *
 * When only built-in transforms are registered, the whole wave runs in Rust
 * in one call.
 */
import { encodeBatch } from './delta-encoding.js';
import { ErrorCode, MmsbError } from './errors.js';
import { call, type NativeState } from './native.js';
import { dense } from './payloads.js';
import type { Delta, PageId } from './types.js';

/**
 * A JavaScript recompute. `parents` are read-only views of the parents' bytes
 * in edge order; `current` is the child's bytes. Returns the child's new
 * bytes, of the child's size.
 */
export type RecomputeFunction = (parents: readonly Uint8Array[], current: Uint8Array, child: PageId) => Uint8Array;

/** A built-in recompute, run in Rust: `copy` (one parent), `concat` (parents end to end), `xor` (all parents). */
export type BuiltinTransform = 'copy' | 'concat' | 'xor';

export type Recompute = RecomputeFunction | BuiltinTransform;

/** Counters of the propagation engine, for metrics. */
export interface PropagationStats {
  waves: number;
  /** Recomputes run. */
  recomputed: number;
  /** Recomputes whose output changed their page. */
  changed: number;
  /** Recomputes whose output equalled the page's bytes (nothing written below). */
  cutOff: number;
  /** Waves that failed (a recompute threw or returned the wrong size). */
  failed: number;
  /** The largest number of descendants a wave visited. */
  largestWave: number;
  /** The greatest height (depth in the graph) a wave reached. */
  maxHeight: number;
  /** Duration of the last wave, in ms. */
  lastWaveMs: number;
}

const builtins: ReadonlySet<string> = new Set<BuiltinTransform>(['copy', 'concat', 'xor']);

/**
 * An id read from the plan's Float64Array is a heap double; as a Map key it
 * hashes several times slower than a small integer. Ids below 2^30 (all in
 * practice) become small integers.
 */
function asKey(id: number): number {
  return id <= 0x3fff_ffff ? id | 0 : id;
}
const SHORT_COMPARE_BYTES = 64;

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  if (left.length >= SHORT_COMPARE_BYTES) {
    return Buffer.from(left.buffer, left.byteOffset, left.length).equals(Buffer.from(right.buffer, right.byteOffset, right.length));
  }
  for (let index = 0; index < left.length; index++) if (left[index] !== right[index]) return false;
  return true;
}

export class Propagator {
  readonly #state: NativeState;
  readonly #view: (id: PageId) => Uint8Array;
  readonly #waveLimit: number;
  readonly #callbacks = new Map<PageId, RecomputeFunction>();
  /** Pages whose recompute is a built-in, run by the core. */
  readonly #builtins = new Set<PageId>();
  readonly stats: PropagationStats = {
    waves: 0,
    recomputed: 0,
    changed: 0,
    cutOff: 0,
    failed: 0,
    largestWave: 0,
    maxHeight: 0,
    lastWaveMs: 0,
  };

  constructor(state: NativeState, view: (id: PageId) => Uint8Array, waveLimit: number) {
    this.#state = state;
    this.#view = view;
    this.#waveLimit = waveLimit;
  }

  /** Registers (or with `null` removes) a page's recompute. */
  register(child: PageId, recompute: Recompute | null): void {
    if (recompute !== null && typeof recompute !== 'function' && !builtins.has(recompute)) {
      throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `a recompute is a function or "copy", "concat" or "xor", got ${String(recompute)}`);
    }
    const builtin = typeof recompute === 'string' ? recompute : null;
    call(() => this.#state.setTransform(child, builtin));
    this.forget(child);
    if (typeof recompute === 'function') this.#callbacks.set(child, recompute);
    if (builtin !== null) this.#builtins.add(child);
  }

  /** Forgets a page's recompute (the page was released, or it is replaced). */
  forget(child: PageId): void {
    this.#builtins.delete(child);
    this.#callbacks.delete(child);
  }

  /** True when some page has a recompute, so commits start waves. */
  get active(): boolean {
    return this.#builtins.size > 0 || this.#callbacks.size > 0;
  }

  /**
   * Runs the wave of a commit that changed `changed`; returns the pages the
   * wave changed (an empty list unless `listPages`, when only built-ins ran).
   */
  run(changed: readonly PageId[], listPages: boolean): PageId[] {
    const started = performance.now();
    try {
      const pages = this.#callbacks.size === 0 ? this.#runNative(changed, listPages) : this.#runMixed(changed);
      this.stats.waves++;
      return pages;
    } catch (error) {
      this.stats.failed++;
      throw error;
    } finally {
      this.stats.lastWaveMs = performance.now() - started;
    }
  }

  #runNative(changed: readonly PageId[], listPages: boolean): PageId[] {
    const wave = call(() => this.#state.propagate(Float64Array.from(changed), listPages));
    this.stats.recomputed += wave.recomputed;
    this.stats.cutOff += wave.cutOff;
    this.stats.changed += wave.changedCount;
    this.stats.maxHeight = Math.max(this.stats.maxHeight, wave.maxHeight);
    return wave.changedPages ?? [];
  }

  #runMixed(changed: readonly PageId[]): PageId[] {
    const plan = call(() => this.#state.planWave(Float64Array.from(changed)));
    let visits = 0;
    let last = -1;
    for (let index = 0; index < plan.length; index += 3 + 2 * plan[index + 2]!) {
      visits++;
      last = plan[index]!;
    }
    this.stats.largestWave = Math.max(this.stats.largestWave, visits);
    if (last !== -1)
      this.stats.maxHeight = Math.max(
        this.stats.maxHeight,
        call(() => this.#state.height(last)),
      );
    if (visits > this.#waveLimit) {
      throw new MmsbError(
        ErrorCode.WAVE_LIMIT,
        `the wave of pages ${changed.join(', ')} reaches ${visits} descendants, ` +
          `above the limit of ${this.#waveLimit}; nothing was recomputed`,
      );
    }
    // Indexed by plan position: whether the page changed, and its staged output.
    const changedAt = new Uint8Array(visits);
    const stagedAt: (Uint8Array | undefined)[] = new Array(visits);
    const deltas: Delta[] = [];
    const changedPages: PageId[] = [];
    for (let index = 0, position = 0; index < plan.length; position++) {
      const child = asKey(plan[index]!);
      const builtin = plan[index + 1]! !== 0;
      const parentCount = plan[index + 2]!;
      const first = index + 3;
      index = first + 2 * parentCount;
      const callback = this.#callbacks.get(child);
      if (!builtin && callback === undefined) continue;
      let triggered = false;
      for (let parent = first + 1; parent < index && !triggered; parent += 2) {
        const place = plan[parent]!;
        triggered = place === -2 || (place >= 0 && changedAt[place] === 1);
      }
      if (!triggered) continue;
      const inputs: Uint8Array[] = new Array(parentCount);
      for (let parent = 0; parent < parentCount; parent++) {
        const place = plan[first + 2 * parent + 1]!;
        inputs[parent] = (place >= 0 ? stagedAt[place] : undefined) ?? this.#view(asKey(plan[first + 2 * parent]!));
      }
      const current = this.#view(child);
      const output = builtin ? call(() => this.#state.computeTransform(child, inputs)) : recomputeWith(callback!, inputs, current, child);
      this.stats.recomputed++;
      if (sameBytes(output, current)) {
        this.stats.cutOff++;
        continue;
      }
      changedAt[position] = 1;
      stagedAt[position] = output;
      deltas.push({ pageId: child, payload: dense(output), source: 'propagation' });
      changedPages.push(child);
    }
    if (deltas.length > 0) call(() => this.#state.applyBatch(encodeBatch(deltas)));
    this.stats.changed += changedPages.length;
    return changedPages;
  }
}

function recomputeWith(callback: RecomputeFunction, inputs: Uint8Array[], current: Uint8Array, child: PageId): Uint8Array {
  let output: unknown;
  try {
    output = callback(inputs, current, child);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MmsbError(ErrorCode.RECOMPUTE_FAILED, `the recompute of page ${child} threw: ${reason}`, { cause: error });
  }
  if (!(output instanceof Uint8Array) || output.length !== current.length) {
    const got = output instanceof Uint8Array ? `${output.length} bytes` : typeof output;
    throw new MmsbError(
      ErrorCode.DELTA_SIZE_MISMATCH,
      `the recompute of page ${child} returned ${got}; the page has ${current.length} bytes`,
    );
  }
  return output;
}
