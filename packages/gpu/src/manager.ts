/**
 * The residency manager: which `device` pages of a bus hold device memory.
 *
 * - A budget of device bytes per device; making a page resident (`use`,
 *   `prefetch`, `pin`, `track`, a move) first evicts the least recently used
 *   unpinned pages of that device until the page fits, else OVER_BUDGET.
 * - Residency is read from the bus every time (`Bus.residency`), never
 *   cached: a delta to an evicted page uploads it again in the core, and the
 *   next call here sees that. Eviction keeps every byte (the page's pinned
 *   host mirror holds them); nothing here changes bytes, epochs or the hash.
 * - Pinned pages are never evicted or moved; a device descriptor
 *   (`exportDevice`, or `exportIpc` for another process) holds a pin until
 *   it is released.
 */
import { EventEmitter } from 'node:events';

import { type DevicePointer, isMmsbError, type PageId, type PageMemory, type Residency } from '@mmsb/bus';

import { GpuError, GpuErrorCode } from './errors.js';
import { type DeviceDescriptor, describe, describeIpc, type IpcDescriptor } from './descriptor.js';

/** What the manager needs of a bus (`Bus` has it). */
export interface ResidencyBus {
  page(id: PageId): { readonly size: number };
  residency(id: PageId): Residency;
  prefetch(id: PageId): void;
  evict(id: PageId): void;
  moveToDevice(id: PageId, ordinal: number): void;
  movePage(id: PageId, memory: PageMemory): Promise<boolean>;
  devicePointer(id: PageId): DevicePointer;
  ipcHandle(id: PageId): Uint8Array;
}

export interface ResidencyOptions {
  /** Device bytes the managed pages may hold: one number for every device, or per device ordinal. */
  readonly budgetBytes: number | Readonly<Record<number, number>>;
}

export interface ResidencyStats {
  /** Device bytes held by managed pages, per device ordinal. */
  readonly residentBytes: Record<number, number>;
  readonly evictions: number;
  readonly prefetches: number;
  /** Bytes copied to a device by prefetches (pages whose device copy was not current). */
  readonly bytesToDevice: number;
  /** Bytes copied to the host by evictions (pages whose host mirror was not current). */
  readonly bytesToHost: number;
  /** Bytes moved between devices. */
  readonly bytesBetweenDevices: number;
  /** Time spent in those copies, in ms. */
  readonly transferMs: number;
}

/** One residency change, as the manager's events report it. */
export interface ResidencyEvent {
  readonly id: PageId;
  readonly device: number;
  /** Bytes copied for it (0 when the target copy was current already). */
  readonly bytes: number;
  /** Why: the caller asked, or room was made for another page. */
  readonly reason: 'requested' | 'budget';
}

interface Entry {
  device: number;
  pins: number;
}

export class ResidencyManager extends EventEmitter<{
  evict: [ResidencyEvent];
  prefetch: [ResidencyEvent];
  move: [ResidencyEvent & { readonly from: number }];
}> {
  readonly #bus: ResidencyBus;
  readonly #budget: (device: number) => number;
  /** Managed pages in least-recently-used order (Map keeps insertion order). */
  readonly #pages = new Map<PageId, Entry>();
  readonly #stats = { evictions: 0, prefetches: 0, bytesToDevice: 0, bytesToHost: 0, bytesBetweenDevices: 0, transferMs: 0 };

  constructor(bus: ResidencyBus, options: ResidencyOptions) {
    super();
    this.#bus = bus;
    const { budgetBytes } = options;
    const budgets = typeof budgetBytes === 'number' ? undefined : budgetBytes;
    for (const value of budgets === undefined ? [budgetBytes as number] : Object.values(budgets)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new GpuError(GpuErrorCode.INVALID_ARGUMENT, `a budget must be a non-negative integer of bytes, got ${String(value)}`);
      }
    }
    this.#budget = (device) => (budgets === undefined ? (budgetBytes as number) : (budgets[device] ?? 0));
  }

  /**
   * Manages a `device` page, as the most recently used. A page that holds
   * device memory (a new page does) is fitted into its device's budget by
   * evicting others; if it cannot be (OVER_BUDGET), it is not managed.
   */
  track(id: PageId): void {
    const residency = this.#call(() => this.#bus.residency(id));
    if (residency.memory !== 'device' || residency.device === undefined) {
      throw new GpuError(GpuErrorCode.NOT_DEVICE_PAGE, `page ${id} is in ${residency.memory} memory, not device memory`);
    }
    if (this.#pages.has(id)) return;
    this.#pages.set(id, { device: residency.device, pins: 0 });
    if (residency.deviceBytes === 0) return;
    try {
      this.#makeRoom(residency.device, residency.deviceBytes, id);
    } catch (error) {
      this.#pages.delete(id);
      throw error;
    }
  }

  /** Stops managing a page (it keeps whatever residency it has). */
  untrack(id: PageId): void {
    const entry = this.#entry(id);
    if (entry.pins > 0) throw new GpuError(GpuErrorCode.PINNED, `page ${id} is pinned ${entry.pins} time(s)`);
    this.#pages.delete(id);
  }

  /** Marks a page used now and makes it resident: call before applying deltas to it. */
  use(id: PageId): void {
    this.prefetch(id);
  }

  /** Makes a page's device copy current, evicting least recently used pages of its device to fit the budget. */
  prefetch(id: PageId, reason: ResidencyEvent['reason'] = 'requested'): void {
    const entry = this.#touch(id);
    const before = this.#call(() => this.#bus.residency(id));
    if (before.deviceBytes === 0) this.#makeRoom(entry.device, this.#bus.page(id).size, id);
    if (before.current === 'device' || before.current === 'both') return;
    const bytes = this.#bus.page(id).size;
    this.#timed(() => this.#bus.prefetch(id));
    this.#stats.prefetches += 1;
    this.#stats.bytesToDevice += bytes;
    this.emit('prefetch', { id, device: entry.device, bytes, reason });
  }

  /** Frees a page's device memory (its host mirror keeps the bytes). */
  evict(id: PageId): void {
    const entry = this.#entry(id);
    if (entry.pins > 0) throw new GpuError(GpuErrorCode.PINNED, `page ${id} is pinned ${entry.pins} time(s)`);
    this.#evict(id, entry, 'requested');
  }

  /** Makes a page resident and keeps it so until as many `unpin` calls. */
  pin(id: PageId): void {
    this.prefetch(id);
    this.#entry(id).pins += 1;
  }

  unpin(id: PageId): void {
    const entry = this.#entry(id);
    if (entry.pins === 0) throw new GpuError(GpuErrorCode.INVALID_ARGUMENT, `page ${id} is not pinned`);
    entry.pins -= 1;
  }

  /**
   * Moves a page: to device `ordinal` (`{ device }`, within that device's
   * budget), or to `cpu` (heap), `unified` (managed) or `gpu` (device)
   * memory, a logged move of the bus. Pages leaving device memory stop being managed.
   */
  async move(id: PageId, target: 'cpu' | 'gpu' | 'unified' | { readonly device: number }): Promise<void> {
    if (typeof target === 'object') {
      const entry = this.#entry(id);
      if (entry.pins > 0) throw new GpuError(GpuErrorCode.PINNED, `page ${id} is pinned ${entry.pins} time(s)`);
      if (!Number.isSafeInteger(target.device) || target.device < 0) {
        throw new GpuError(GpuErrorCode.INVALID_ARGUMENT, `device must be a non-negative integer, got ${String(target.device)}`);
      }
      if (target.device === entry.device) return;
      const bytes = this.#bus.page(id).size;
      this.#makeRoom(target.device, bytes, id);
      this.#timed(() => this.#bus.moveToDevice(id, target.device));
      const from = entry.device;
      entry.device = target.device;
      this.#stats.bytesBetweenDevices += bytes;
      this.emit('move', { id, device: target.device, from, bytes, reason: 'requested' });
      return;
    }
    const entry = this.#pages.get(id);
    if (entry !== undefined && entry.pins > 0) throw new GpuError(GpuErrorCode.PINNED, `page ${id} is pinned ${entry.pins} time(s)`);
    const memory: PageMemory = target === 'cpu' ? 'heap' : target === 'unified' ? 'managed' : 'device';
    await this.#callAsync(() => this.#bus.movePage(id, memory));
    if (memory === 'device') this.track(id);
    else this.#pages.delete(id);
  }

  /**
   * A zero-copy descriptor of a page's device memory (DLPack's fields:
   * pointer, device, dtype, shape, strides), pinning the page until
   * `release()`. With `device`, refuses a page on another device (WRONG_DEVICE).
   */
  exportDevice(id: PageId, device?: number): DeviceDescriptor {
    return this.#export(id, device, (unpin) =>
      describe(
        this.#call(() => this.#bus.devicePointer(id)),
        unpin,
      ),
    );
  }

  /**
   * The page's device memory for another process (a CUDA IPC handle and
   * DLPack's fields), pinning the page until `release()`: the handle stays
   * valid, and the peer's mapping sees every delta, while the page is
   * neither evicted nor moved. With `device`, refuses a page on another
   * device (WRONG_DEVICE).
   */
  exportIpc(id: PageId, device?: number): IpcDescriptor {
    return this.#export(id, device, (unpin) => {
      const handle = this.#call(() => this.#bus.ipcHandle(id));
      return describeIpc(handle, this.#bus.page(id).size, this.#entry(id).device, unpin);
    });
  }

  /** Pins the page (on `device`, when given) for an export that `make` builds; unpinned again if it fails. */
  #export<T>(id: PageId, device: number | undefined, make: (unpin: () => void) => T): T {
    const entry = this.#entry(id);
    if (device !== undefined && device !== entry.device) {
      throw new GpuError(GpuErrorCode.WRONG_DEVICE, `page ${id} is on device ${entry.device}, not ${device}`);
    }
    this.pin(id);
    try {
      return make(() => this.unpin(id));
    } catch (error) {
      this.unpin(id);
      throw error;
    }
  }

  /** Whether a page is managed here, and its pins. */
  pins(id: PageId): number {
    return this.#entry(id).pins;
  }

  stats(): ResidencyStats {
    const residentBytes: Record<number, number> = {};
    for (const [id, entry] of this.#pages) {
      residentBytes[entry.device] = (residentBytes[entry.device] ?? 0) + this.#call(() => this.#bus.residency(id)).deviceBytes;
    }
    return { residentBytes, ...this.#stats };
  }

  #entry(id: PageId): Entry {
    const entry = this.#pages.get(id);
    if (entry === undefined) throw new GpuError(GpuErrorCode.NOT_TRACKED, `page ${id} is not managed by this residency manager`);
    return entry;
  }

  /** Marks a page most recently used. */
  #touch(id: PageId): Entry {
    const entry = this.#entry(id);
    this.#pages.delete(id);
    this.#pages.set(id, entry);
    return entry;
  }

  /** Evicts least recently used unpinned pages of `device` until `bytes` more fit its budget. */
  #makeRoom(device: number, bytes: number, forId: PageId): void {
    const budget = this.#budget(device);
    const resident: [PageId, Entry, number][] = [];
    let used = 0;
    for (const [id, entry] of this.#pages) {
      if (entry.device !== device || id === forId) continue;
      const held = this.#call(() => this.#bus.residency(id)).deviceBytes;
      used += held;
      if (held > 0) resident.push([id, entry, held]);
    }
    for (const [id, entry, held] of resident) {
      if (used + bytes <= budget) break;
      if (entry.pins > 0) continue;
      this.#evict(id, entry, 'budget');
      used -= held;
    }
    if (used + bytes > budget) {
      throw new GpuError(
        GpuErrorCode.OVER_BUDGET,
        `page ${forId} (${bytes} bytes) does not fit device ${device}'s budget of ${budget} bytes: ${used} bytes are held by pinned pages`,
      );
    }
  }

  #evict(id: PageId, entry: Entry, reason: ResidencyEvent['reason']): void {
    const before = this.#call(() => this.#bus.residency(id));
    if (before.deviceBytes === 0) return;
    const bytes = before.current === 'device' ? this.#bus.page(id).size : 0;
    this.#timed(() => this.#bus.evict(id));
    this.#stats.evictions += 1;
    this.#stats.bytesToHost += bytes;
    this.emit('evict', { id, device: entry.device, bytes, reason });
  }

  #timed(run: () => void): void {
    const started = performance.now();
    this.#call(run);
    this.#stats.transferMs += performance.now() - started;
  }

  /** Runs a bus call; a failed device becomes DEVICE_LOST. */
  #call<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      throw deviceLost(error);
    }
  }

  async #callAsync<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw deviceLost(error);
    }
  }
}

function deviceLost(error: unknown): unknown {
  if (isMmsbError(error) && error.code === 'DEVICE_FAILED') {
    return new GpuError(GpuErrorCode.DEVICE_LOST, error.message, { cause: error });
  }
  return error;
}
