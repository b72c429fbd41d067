/**
 * The propagation engine's JavaScript half: recompute registrations, and the
 * loop that runs JavaScript recomputes when a wave reaches them.
 *
 * The wave itself belongs to the core (core/src/propagation): it plans the
 * wave (the commit's descendants, each once, by height; cached per commit
 * shape), refuses it with WAVE_LIMIT before anything is recomputed, runs the
 * built-ins, applies the outputs as one batch with source `propagation` and
 * keeps the counters. A wave pauses at each phase of JavaScript recomputes;
 * this loop runs the phase over memory it shares with the core (a flag per
 * visited page and a staging slot per recompute) and resumes the wave. A wave
 * of JavaScript recomputes alone is two native calls, one of built-ins alone one.
 *
 * The rules are the core's: a child is recomputed only when a parent is a
 * commit page or changed earlier in the wave; it reads the staged output of a
 * parent that changed, the parent's bytes otherwise; output equal to its bytes
 * is cut off. A recompute that throws or returns the wrong size ends the wave
 * with no derived delta applied; the commit that started it stays.
 */
import { BUILTIN_TRANSFORMS } from './names.js';
import { ErrorCode, fromNative, MmsbError } from './errors.js';
import { call, type DirectCalls, type NativeState } from './native.js';
import type { PageId } from './types.js';

/**
 * A JavaScript recompute. `parents` are read-only views of the parents' bytes
 * in edge order, valid during the call (a parent changed earlier in the wave
 * is seen through its new bytes); `current` is the child's bytes. Returns the
 * child's new bytes, of the child's size: a new array, or `out`, scratch
 * memory of that size whose bytes are unspecified, which the recompute may
 * fill and return instead of allocating (valid during the call; the bus
 * always passes it, it is optional for callers of the function itself).
 * `out` starts 8-aligned, so it may be viewed as floats; like the parents,
 * it is a window on memory the bus shares with the core: a recompute writes
 * only within `out` itself, never elsewhere in `out.buffer`, and may not
 * change the bus (INVALID_ARGUMENT, nothing applied).
 */
export type RecomputeFunction = (parents: readonly Uint8Array[], current: Uint8Array, child: PageId, out?: Uint8Array) => Uint8Array;

/** A built-in recompute, run in Rust: `copy` (one parent), `concat` (parents end to end), `xor` (all parents). */
export type BuiltinTransform = 'copy' | 'concat' | 'xor';

export type Recompute = RecomputeFunction | BuiltinTransform;

/** Counters of the propagation engine (kept by the core), for metrics. */
export interface PropagationStats {
  /** Waves that finished. */
  waves: number;
  /** Recomputes run by finished waves. */
  recomputed: number;
  /** Recomputes whose output changed their page. */
  changed: number;
  /** Recomputes whose output equalled the page's bytes (nothing written below). */
  cutOff: number;
  /** Waves refused (WAVE_LIMIT) or failed (a recompute threw or returned the wrong size). */
  failed: number;
  /** The largest number of descendants a wave visited. */
  largestWave: number;
  /** The greatest height (depth in the graph) a wave reached. */
  maxHeight: number;
  /** Duration of the last wave, in ms. */
  lastWaveMs: number;
}

const builtins: ReadonlySet<string> = new Set(BUILTIN_TRANSFORMS);

/** The wave memory's header (napi/src/propagation.rs): the plan id, then bytes needed or pages changed. */
const HEADER_BYTES = 16;
/** The answers of beginWave and resumeWave besides a phase to run. */
const DONE = -1;
const NEED_MEMORY = -2;
/** A visited page's flag: its output changed the page, or equalled it (core/src/propagation/plan.rs). */
const FLAG_CHANGED = 1;
const FLAG_SAME = 2;
/** Pages up to this size are compared and staged byte by byte, larger ones in bulk. */
const SMALL_PAGE_BYTES = 64;
/** Plans kept; the core makes a new one when the graph or a registration changes. */
const CACHED_PLANS_MAX = 64;

/**
 * An id read from a Float64Array is a heap double; as a Map key it hashes
 * several times slower than a small integer. Ids below 2^30 (all in
 * practice) become small integers.
 */
function asKey(id: number): number {
  return id <= 0x3fff_ffff ? id | 0 : id;
}

/**
 * What the loop keeps of a plan: its JavaScript steps, with every callback,
 * view and staging slot they touch resolved once. Step `s` is the position
 * `positions[s]`; its parents are edges `edgeFirst[s]` to `edgeFirst[s + 1]`.
 */
interface ScriptPlan {
  /** Per phase of the plan: its JavaScript steps are `phaseFirst[k]` to `phaseFirst[k + 1]`. */
  readonly phaseFirst: Int32Array;
  readonly positions: Int32Array;
  readonly children: PageId[];
  readonly callbacks: RecomputeFunction[];
  readonly currents: Uint8Array[];
  /** Each step's staging slot. */
  readonly slots: Uint8Array[];
  readonly rootParent: Uint8Array;
  /** Each step's parents array, refilled for every recompute. */
  readonly inputs: Uint8Array[][];
  readonly edgeFirst: Int32Array;
  /** A parent's position, or -1 when it never changes in this wave. */
  readonly edgePositions: Int32Array;
  readonly edgeLive: Uint8Array[];
  /** A parent's staging slot, where it changed (else its live view). */
  readonly edgeStaged: Uint8Array[];
}

export class Propagator {
  readonly #state: NativeState;
  readonly #direct: DirectCalls;
  readonly #view: (id: PageId) => Uint8Array;
  readonly #waveLimit: number;
  readonly #callbacks = new Map<PageId, RecomputeFunction>();
  /** Pages with a recompute of either kind. */
  readonly #registered = new Set<PageId>();
  readonly #plans = new Map<number, ScriptPlan>();
  /** The wave memory: header, flags, staging (grown when a wave asks for more). */
  #memory = new Uint8Array(HEADER_BYTES + 1024);
  #header = new Float64Array(this.#memory.buffer, 0, 2);
  #flags = new Uint8Array(this.#memory.buffer, HEADER_BYTES);
  readonly #oneRoot = new Float64Array(1);

  constructor(state: NativeState, direct: DirectCalls, view: (id: PageId) => Uint8Array, waveLimit: number) {
    this.#state = state;
    this.#direct = direct;
    this.#view = view;
    this.#waveLimit = waveLimit;
  }

  /** Registers (or with `null` removes) a page's recompute. */
  register(child: PageId, recompute: Recompute | null): void {
    if (recompute !== null && typeof recompute !== 'function' && !builtins.has(recompute)) {
      throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `a recompute is a function or "copy", "concat" or "xor", got ${String(recompute)}`);
    }
    const name = typeof recompute === 'function' ? 'script' : recompute;
    call(() => this.#state.setRecompute(child, name));
    this.forget(child);
    if (typeof recompute === 'function') this.#callbacks.set(child, recompute);
    if (recompute !== null) this.#registered.add(child);
  }

  /** Forgets a page's recompute (the page was released, or it is replaced). */
  forget(child: PageId): void {
    this.#registered.delete(child);
    this.#callbacks.delete(child);
    this.#plans.clear();
  }

  /** Drops the resolved plans: they hold views of pages, and a page moved to other memory has its bytes elsewhere. */
  pageMoved(): void {
    this.#plans.clear();
  }

  /** True when some page has a recompute, so commits start waves. */
  get active(): boolean {
    return this.#registered.size > 0;
  }

  /** The core's counters, in one call. */
  stats(): PropagationStats {
    return this.#state.propagationStats();
  }

  #inCallbacks = false;

  /** True while JavaScript recomputes run: the bus must not change under them. */
  get inCallbacks(): boolean {
    return this.#inCallbacks;
  }

  /**
   * Runs the wave of a commit that changed `changed`; returns the pages the
   * wave changed when `listPages` (else an empty list).
   */
  run(changed: readonly PageId[], listPages: boolean): PageId[] {
    let roots = this.#oneRoot;
    if (changed.length === 1) roots[0] = changed[0]!;
    else roots = Float64Array.from(changed);
    let answer: number | Float64Array;
    try {
      answer = this.#direct.beginWave(roots, this.#memory, this.#waveLimit, listPages);
    } catch (error) {
      throw fromNative(error);
    }
    for (;;) {
      if (typeof answer !== 'number') return Array.from(answer);
      if (answer === DONE) return [];
      if (answer === NEED_MEMORY) this.#grow(this.#header[1]!);
      else {
        this.#inCallbacks = true;
        try {
          this.#runPhase(answer);
        } finally {
          this.#inCallbacks = false;
        }
      }
      try {
        answer = this.#direct.resumeWave(this.#memory);
      } catch (error) {
        throw fromNative(error);
      }
    }
  }

  #grow(bytes: number): void {
    this.#memory = new Uint8Array(bytes);
    this.#header = new Float64Array(this.#memory.buffer, 0, 2);
    this.#flags = new Uint8Array(this.#memory.buffer, HEADER_BYTES);
    // Cached plans hold views of the old memory's staging slots.
    this.#plans.clear();
  }

  /** Runs the JavaScript phase `phase` of the pending wave; on a failure ends the wave and throws. */
  #runPhase(phase: number): void {
    const plan = this.#plans.get(asKey(this.#header[0]!)) ?? this.#fetchPlan();
    const { edgeFirst, edgePositions, edgeLive, edgeStaged, rootParent, inputs, callbacks, currents, children, slots, positions } = plan;
    const flags = this.#flags;
    const end = plan.phaseFirst[phase + 1]!;
    let step = plan.phaseFirst[phase]!;
    let calling = false;
    try {
      for (; step < end; step++) {
        const first = edgeFirst[step]!;
        const last = edgeFirst[step + 1]!;
        // Triggered by a commit page among the parents, or by a parent that changed in this wave.
        if (rootParent[step] !== 1) {
          let edge = first;
          for (; edge < last; edge++) {
            const at = edgePositions[edge]!;
            if (at >= 0 && flags[at] === FLAG_CHANGED) break;
          }
          if (edge === last) continue;
        }
        const parents = inputs[step]!;
        for (let edge = first; edge < last; edge++) {
          const at = edgePositions[edge]!;
          parents[edge - first] = at >= 0 && flags[at] === FLAG_CHANGED ? edgeStaged[edge]! : edgeLive[edge]!;
        }
        const current = currents[step]!;
        calling = true;
        const output = callbacks[step]!(parents, current, children[step]!, slots[step]!);
        calling = false;
        const flag = stage(output, current, slots[step]!);
        if (flag === 0) throw sizeMismatch(children[step]!, output, current.length);
        flags[positions[step]!] = flag;
      }
    } catch (error) {
      this.#state.abortWave();
      if (!calling) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new MmsbError(ErrorCode.RECOMPUTE_FAILED, `the recompute of page ${children[step]} threw: ${reason}`, { cause: error });
    }
  }

  /** Reads the pending wave's plan and resolves its JavaScript steps. */
  #fetchPlan(): ScriptPlan {
    let wave;
    try {
      wave = this.#state.wavePlan();
    } catch (error) {
      this.#state.abortWave();
      throw fromNative(error);
    }
    if (this.#plans.size >= CACHED_PLANS_MAX) this.#plans.clear();
    const buffer = this.#memory.buffer;
    const slotOf = (position: number) => new Uint8Array(buffer, wave.stagingAt + wave.slots[position]!, wave.sizes[position]!);
    const positions: number[] = [];
    const phaseFirst = new Int32Array(wave.phaseScript.length + 1);
    for (let phase = 0; phase < wave.phaseScript.length; phase++) {
      phaseFirst[phase] = positions.length;
      if (wave.phaseScript[phase] !== 1) continue;
      for (let step = wave.phaseFirst[phase]!; step < wave.phaseFirst[phase + 1]!; step++) positions.push(wave.steps[step]!);
    }
    phaseFirst[wave.phaseScript.length] = positions.length;
    const staged = new Map<number, Uint8Array>();
    const edgeFirst = [0];
    const edgePositions: number[] = [];
    const edgeLive: Uint8Array[] = [];
    const edgeStaged: Uint8Array[] = [];
    const plan: ScriptPlan = {
      phaseFirst,
      positions: Int32Array.from(positions),
      children: [],
      callbacks: [],
      currents: [],
      slots: [],
      rootParent: new Uint8Array(positions.length),
      inputs: [],
      edgeFirst: new Int32Array(0),
      edgePositions: new Int32Array(0),
      edgeLive,
      edgeStaged,
    };
    for (const [step, position] of positions.entries()) {
      const child = asKey(wave.pages[position]!);
      const callback = this.#callbacks.get(child);
      if (callback === undefined) {
        this.#state.abortWave();
        throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `page ${child} has no JavaScript recompute registered in this bus`);
      }
      plan.children.push(child);
      plan.callbacks.push(callback);
      plan.currents.push(this.#view(child));
      plan.slots.push(slotOf(position));
      plan.rootParent[step] = wave.rootParents[position]!;
      const parentCount = wave.parentFirst[position + 1]! - wave.parentFirst[position]!;
      plan.inputs.push(new Array<Uint8Array>(parentCount));
      for (let edge = wave.parentFirst[position]!; edge < wave.parentFirst[position + 1]!; edge++) {
        const at = wave.parentPositions[edge]!;
        const live = this.#view(asKey(wave.parentPages[edge]!));
        // A parent the wave visits but does not recompute never changes in it.
        const changes = at >= 0 && wave.kinds[at] !== 0;
        edgePositions.push(changes ? at : -1);
        edgeLive.push(live);
        let slot = live;
        if (changes) {
          slot = staged.get(at) ?? slotOf(at);
          staged.set(at, slot);
        }
        edgeStaged.push(slot);
      }
      edgeFirst.push(edgePositions.length);
    }
    const resolved: ScriptPlan = { ...plan, edgeFirst: Int32Array.from(edgeFirst), edgePositions: Int32Array.from(edgePositions) };
    this.#plans.set(asKey(wave.id), resolved);
    return resolved;
  }
}

/**
 * Stages a recompute's output in its slot: FLAG_CHANGED, FLAG_SAME when it
 * equals the page (nothing staged), or 0 when it is not bytes of the page's size.
 */
function stage(output: unknown, current: Uint8Array, slot: Uint8Array): number {
  if (!(output instanceof Uint8Array) || output.length !== current.length) return 0;
  const length = current.length;
  if (length <= SMALL_PAGE_BYTES) {
    let index = 0;
    while (index < length && output[index] === current[index]) index++;
    if (index === length) return FLAG_SAME;
    if (output !== slot) for (index = 0; index < length; index++) slot[index] = output[index]!;
    return FLAG_CHANGED;
  }
  const bytes = Buffer.from(output.buffer, output.byteOffset, length);
  if (bytes.equals(current)) return FLAG_SAME;
  if (output !== slot) slot.set(output);
  return FLAG_CHANGED;
}

function sizeMismatch(child: PageId, output: unknown, size: number): MmsbError {
  const got = output instanceof Uint8Array ? `${output.length} bytes` : typeof output;
  return new MmsbError(ErrorCode.DELTA_SIZE_MISMATCH, `the recompute of page ${child} returned ${got}; the page has ${size} bytes`);
}
