/**
 * The oracle of one bus: a plain copy of every page (bytes, epoch, one
 * metadata value) and of the dependency graph, changed by the workload in
 * the same synchronous step as the bus, with its own model of a wave (the
 * commit's descendants by height, each once, recomputed from parents already
 * final, an output equal to the page's bytes cut off). Comparing it with the
 * bus after every operation is the "live state" invariant; comparing it with
 * a reopened bus is the "acknowledged writes survive" one.
 */
import { MmsbError, type Bus, type DeltaPayload, type PageId } from '@mmsb/bus';

import { applyPayload, firstDifference, sameBytes } from './payloads.js';

/** How a derived page is computed: the bus's built-ins, or `mix`, a JavaScript recompute. */
export type Transform = 'copy' | 'xor' | 'concat' | 'mix';

/**
 * The JavaScript recompute of the workload: every output byte depends on
 * every parent (in edge order, so a reordering shows) and on its offset.
 */
export function mix(parents: readonly Uint8Array[], size: number, out: Uint8Array = new Uint8Array(size)): Uint8Array {
  for (let index = 0; index < size; index++) {
    let value = index * 7;
    parents.forEach((parent, order) => (value += parent[index % parent.length]! * (2 * order + 1)));
    out[index] = value & 0xff;
  }
  return out;
}

function compute(transform: Transform, parents: readonly Uint8Array[], size: number): Uint8Array {
  switch (transform) {
    case 'copy':
      return parents[0]!.slice();
    case 'xor': {
      const out = new Uint8Array(size);
      for (const parent of parents) for (let index = 0; index < size; index++) out[index]! ^= parent[index]!;
      return out;
    }
    case 'concat': {
      const out = new Uint8Array(size);
      let offset = 0;
      for (const parent of parents) {
        out.set(parent, offset);
        offset += parent.length;
      }
      return out;
    }
    case 'mix':
      return mix(parents, size);
  }
}

interface ModelPage {
  readonly id: PageId;
  readonly size: number;
  readonly bytes: Uint8Array;
  epoch: number;
  /** The metadata entry `n` (the only one the workload sets). */
  value: number | undefined;
  derived: { readonly transform: Transform; parents: PageId[] } | undefined;
  height: number;
}

/** What a state reader must offer to be compared (the live bus and a past `StateView` both do). */
type Reader = Pick<Bus, 'page' | 'view' | 'metadata'>;

/** Released ids remembered to check they stay released; older ones are forgotten. */
const RELEASED_KEPT = 16;

export class LaneModel {
  readonly #pages = new Map<PageId, ModelPage>();
  /** Derived pages in wave order (height, then id). */
  #derivedOrder: ModelPage[] = [];
  readonly released: PageId[] = [];

  create(id: PageId, size: number, value?: number): void {
    this.#pages.set(id, { id, size, bytes: new Uint8Array(size), epoch: 0, value, derived: undefined, height: 0 });
  }

  release(id: PageId): void {
    this.#pages.delete(id);
    this.released.push(id);
    if (this.released.length > RELEASED_KEPT) this.released.shift();
  }

  has(id: PageId): boolean {
    return this.#pages.has(id);
  }

  size(id: PageId): number {
    return this.#page(id).size;
  }

  epoch(id: PageId): number {
    return this.#page(id).epoch;
  }

  bytes(id: PageId): Uint8Array {
    return this.#page(id).bytes;
  }

  parents(id: PageId): readonly PageId[] {
    return this.#page(id).derived?.parents ?? [];
  }

  transform(id: PageId): Transform {
    return this.#page(id).derived!.transform;
  }

  /** Pages written by the workload (not derived). */
  get sources(): PageId[] {
    return [...this.#pages.values()].filter((page) => page.derived === undefined).map((page) => page.id);
  }

  get derived(): PageId[] {
    return this.#derivedOrder.map((page) => page.id);
  }

  get ids(): PageId[] {
    return [...this.#pages.keys()];
  }

  /** Makes `id` derived from `parents` (in edge order) by `transform`. */
  derive(id: PageId, transform: Transform, parents: readonly PageId[]): void {
    this.#page(id).derived = { transform, parents: [...parents] };
    this.#reorder();
  }

  setParents(id: PageId, parents: readonly PageId[]): void {
    this.#page(id).derived!.parents = [...parents];
    this.#reorder();
  }

  /** Would an edge `parent → child` close a cycle (is `parent` downstream of `child`)? */
  reaches(child: PageId, parent: PageId): boolean {
    if (child === parent) return true;
    return this.parents(parent).some((above) => this.reaches(child, above));
  }

  apply(id: PageId, payload: DeltaPayload): void {
    const page = this.#page(id);
    applyPayload(page.bytes, payload);
    page.epoch++;
  }

  setValue(id: PageId, value: number | undefined): void {
    this.#page(id).value = value;
  }

  value(id: PageId): number | undefined {
    return this.#page(id).value;
  }

  /** The wave a commit of `changed` starts; returns the derived pages whose bytes it changed. */
  wave(changed: Iterable<PageId>): PageId[] {
    const touched = new Set(changed);
    const written: PageId[] = [];
    for (const page of this.#derivedOrder) {
      const { transform, parents } = page.derived!;
      if (!parents.some((parent) => touched.has(parent))) continue;
      const output = compute(
        transform,
        parents.map((parent) => this.#page(parent).bytes),
        page.size,
      );
      if (sameBytes(output, page.bytes)) continue;
      page.bytes.set(output);
      page.epoch++;
      touched.add(page.id);
      written.push(page.id);
    }
    return written;
  }

  /** What differs between `reader` and the model over `ids` (all pages by default); undefined when nothing does. */
  differences(reader: Reader, ids: Iterable<PageId> = this.#pages.keys(), withMetadata = false): string | undefined {
    for (const id of ids) {
      const page = this.#page(id);
      const epoch = reader.page(id).epoch;
      if (epoch !== page.epoch) return `page ${id}: epoch ${epoch}, the oracle has ${page.epoch}`;
      const bytes = reader.view(id);
      if (!sameBytes(bytes, page.bytes)) {
        const at = firstDifference(bytes, page.bytes);
        return `page ${id} (epoch ${epoch}): byte ${at} is ${bytes[at]}, the oracle has ${page.bytes[at]}`;
      }
      if (withMetadata) {
        const value = reader.metadata(id).n;
        if (value !== page.value) return `page ${id}: metadata n is ${String(value)}, the oracle has ${String(page.value)}`;
      }
    }
    return undefined;
  }

  /** What differs about released pages: each must still be refused with PAGE_RELEASED. */
  releasedDifferences(reader: Reader): string | undefined {
    for (const id of this.released) {
      try {
        reader.page(id);
        return `page ${id} was released, but the state has it`;
      } catch (error) {
        if (!(error instanceof MmsbError) || error.code !== 'PAGE_RELEASED') throw error;
      }
    }
    return undefined;
  }

  #page(id: PageId): ModelPage {
    const page = this.#pages.get(id);
    if (page === undefined) throw new Error(`the oracle has no page ${id}`);
    return page;
  }

  #reorder(): void {
    const height = (page: ModelPage): number =>
      page.derived === undefined ? 0 : 1 + Math.max(0, ...page.derived.parents.map((parent) => height(this.#page(parent))));
    for (const page of this.#pages.values()) page.height = height(page);
    this.#derivedOrder = [...this.#pages.values()]
      .filter((page) => page.derived !== undefined)
      .sort((left, right) => left.height - right.height || left.id - right.id);
  }
}
