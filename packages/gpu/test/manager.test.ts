// The residency manager against a simulated bus (device pages whose device
// copy comes and goes, as the core's do), so that budgets, LRU order, pins,
// moves, statistics, events and errors are tested without a GPU; and
// against the real bus, whose host pages it refuses. The GPU run
// (docs/gpu-validation.md) drives it over real device pages.
import { Bus, type DevicePointer, MmsbError, type PageId, type PageMemory, type Residency } from '@mmsb/bus';
import { describe, expect, it } from 'vitest';

import { GpuError, GpuErrorCode, type ResidencyBus, type ResidencyEvent, ResidencyManager } from '../src/index.js';

interface SimPage {
  size: number;
  memory: PageMemory;
  device: number;
  onDevice: boolean;
  current: 'device' | 'host' | 'both';
}

/** A bus of simulated pages; `fail` makes every device call fail as a lost device does. */
class SimBus implements ResidencyBus {
  readonly pages = new Map<PageId, SimPage>();
  fail = false;

  add(size: number, device = 0): PageId {
    const id = this.pages.size + 1;
    this.pages.set(id, { size, memory: 'device', device, onDevice: true, current: 'device' });
    return id;
  }

  #get(id: PageId): SimPage {
    if (this.fail) throw new MmsbError('DEVICE_FAILED', 'cuMemcpyDtoH: CUDA_ERROR_ILLEGAL_ADDRESS');
    const page = this.pages.get(id);
    if (page === undefined) throw new MmsbError('PAGE_NOT_FOUND', `page ${id}`);
    return page;
  }

  /** A delta: the core uploads an evicted page first, and the device copy is then the current one. */
  write(id: PageId): void {
    const page = this.#get(id);
    page.onDevice = true;
    page.current = 'device';
  }

  page(id: PageId): { size: number } {
    return this.#get(id);
  }

  residency(id: PageId): Residency {
    const page = this.#get(id);
    const isDevice = page.memory === 'device';
    return {
      memory: page.memory,
      device: isDevice ? page.device : undefined,
      current: isDevice ? page.current : undefined,
      deviceBytes: isDevice && page.onDevice ? page.size : 0,
    };
  }

  prefetch(id: PageId): void {
    const page = this.#get(id);
    page.onDevice = true;
    if (page.current === 'host') page.current = 'both';
  }

  evict(id: PageId): void {
    const page = this.#get(id);
    page.onDevice = false;
    page.current = 'host';
  }

  moveToDevice(id: PageId, ordinal: number): void {
    this.#get(id).device = ordinal;
  }

  async movePage(id: PageId, memory: PageMemory): Promise<boolean> {
    const page = this.#get(id);
    const moved = page.memory !== memory;
    page.memory = memory;
    page.onDevice = memory === 'device';
    page.current = 'host';
    return moved;
  }

  devicePointer(id: PageId): DevicePointer {
    const page = this.#get(id);
    page.onDevice = true;
    return { pointer: 0x7f00_0000_0000n + BigInt(id) * 0x1000_0000n, size: page.size, device: page.device };
  }

  ipcHandle(id: PageId): Uint8Array {
    const page = this.#get(id);
    page.onDevice = true;
    return new Uint8Array(64).fill(id);
  }

  resident(): PageId[] {
    return [...this.pages].filter(([, page]) => page.onDevice).map(([id]) => id);
  }
}

function expectGpuError(run: () => unknown, code: GpuErrorCode): GpuError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GpuError);
    expect((error as GpuError).code).toBe(code);
    return error as GpuError;
  }
  throw new Error(`expected ${code}`);
}

const MiB = 1 << 20;

describe('ResidencyManager', () => {
  it('evicts the least recently used pages to keep each device within its budget', () => {
    const bus = new SimBus();
    const gpu = new ResidencyManager(bus, { budgetBytes: 3 * MiB });
    const events: ResidencyEvent[] = [];
    gpu.on('evict', (event) => events.push(event));
    const [a, b, c, d] = [bus.add(MiB), bus.add(MiB), bus.add(MiB), bus.add(MiB)] as [number, number, number, number];
    for (const id of [a, b, c]) gpu.track(id);
    // Pages are made on the device, d too, though it is not managed yet.
    expect(bus.resident()).toEqual([a, b, c, d]);
    gpu.use(a); // b is now the least recently used
    gpu.track(d);
    expect(bus.resident().sort()).toEqual([a, c, d]);
    expect(events).toEqual([{ id: b, device: 0, bytes: MiB, reason: 'budget' }]);
    gpu.use(b); // brings b back, evicting c
    expect(bus.resident().sort()).toEqual([a, b, d]);
    expect(gpu.stats()).toMatchObject({
      residentBytes: { 0: 3 * MiB },
      evictions: 2,
      prefetches: 1,
      bytesToDevice: MiB,
      bytesToHost: 2 * MiB,
    });
  });

  it('never evicts pinned pages, and refuses with OVER_BUDGET when only pinned pages fill the budget', () => {
    const bus = new SimBus();
    const gpu = new ResidencyManager(bus, { budgetBytes: 2 * MiB });
    const [a, b, c] = [bus.add(MiB), bus.add(MiB), bus.add(MiB)] as [number, number, number];
    gpu.track(a);
    gpu.track(b);
    gpu.pin(a);
    gpu.pin(b);
    const error = expectGpuError(() => gpu.track(c), GpuErrorCode.OVER_BUDGET);
    expect(error.message).toMatch(/2097152 bytes are held by pinned pages/);
    // The core made c on the device; the manager refused to manage it, and left it.
    expect(bus.resident()).toEqual([a, b, c]);
    expectGpuError(() => gpu.evict(a), GpuErrorCode.PINNED);
    gpu.unpin(a);
    expectGpuError(() => gpu.unpin(a), GpuErrorCode.INVALID_ARGUMENT);
    bus.evict(c);
    gpu.track(c);
    gpu.use(c);
    expect(bus.resident().sort()).toEqual([b, c]);
    expectGpuError(() => new ResidencyManager(bus, { budgetBytes: 0 }).track(bus.add(1)), GpuErrorCode.OVER_BUDGET);
  });

  it('sees uploads the core made behind its back (a delta to an evicted page)', () => {
    const bus = new SimBus();
    const gpu = new ResidencyManager(bus, { budgetBytes: 2 * MiB });
    const [a, b, c] = [bus.add(MiB), bus.add(MiB), bus.add(MiB)] as [number, number, number];
    gpu.track(a);
    gpu.track(b);
    gpu.evict(a);
    bus.write(a); // the core uploaded a for a delta: three pages now hold device memory
    gpu.track(c);
    expect(gpu.stats().residentBytes[0]).toBeLessThanOrEqual(2 * MiB);
  });

  it('keeps budgets per device and moves pages between devices within the target budget', async () => {
    const bus = new SimBus();
    const gpu = new ResidencyManager(bus, { budgetBytes: { 0: 2 * MiB, 1: MiB } });
    const moves: unknown[] = [];
    gpu.on('move', (event) => moves.push(event));
    const [a, b, c] = [bus.add(MiB, 0), bus.add(MiB, 1), bus.add(MiB, 0)] as [number, number, number];
    for (const id of [a, b, c]) gpu.track(id);
    await gpu.move(a, { device: 1 }); // evicts b, the only page on device 1
    expect(bus.pages.get(a)!.device).toBe(1);
    expect(bus.resident().sort()).toEqual([a, c]);
    expect(moves).toEqual([{ id: a, device: 1, from: 0, bytes: MiB, reason: 'requested' }]);
    expect(gpu.stats().residentBytes).toEqual({ 0: MiB, 1: MiB });
    gpu.pin(c);
    await expect(gpu.move(c, { device: 1 })).rejects.toMatchObject({ code: GpuErrorCode.PINNED });
    await expect(gpu.move(c, 'cpu')).rejects.toMatchObject({ code: GpuErrorCode.PINNED });
    gpu.unpin(c);
    await gpu.move(c, 'cpu');
    expect(bus.pages.get(c)!.memory).toBe('heap');
    expectGpuError(() => gpu.use(c), GpuErrorCode.NOT_TRACKED);
    await gpu.move(c, 'gpu');
    expect(gpu.pins(c)).toBe(0);
    await gpu.move(c, 'unified');
    expect(bus.pages.get(c)!.memory).toBe('managed');
  });

  it('exports a pinned DLPack-like descriptor and unpins once on release', () => {
    const bus = new SimBus();
    const gpu = new ResidencyManager(bus, { budgetBytes: 4 * MiB });
    const id = bus.add(3 * MiB, 0);
    gpu.track(id);
    expectGpuError(() => gpu.exportDevice(id, 1), GpuErrorCode.WRONG_DEVICE);
    const tensor = gpu.exportDevice(id, 0);
    expect(tensor).toMatchObject({
      data: 0x7f00_1000_0000n,
      byteLength: 3 * MiB,
      device: { type: 'cuda', dlDeviceType: 2, id: 0 },
      dtype: { code: 'uint', bits: 8, lanes: 1 },
      shape: [3 * MiB],
      strides: [1],
      stream: null,
    });
    expect(gpu.pins(id)).toBe(1);
    expectGpuError(() => gpu.evict(id), GpuErrorCode.PINNED);
    tensor.release();
    tensor.release();
    expect(gpu.pins(id)).toBe(0);

    expectGpuError(() => gpu.exportIpc(id, 1), GpuErrorCode.WRONG_DEVICE);
    const shared = gpu.exportIpc(id);
    expect(shared).toMatchObject({ byteOffset: 0, byteLength: 3 * MiB, device: { id: 0 }, shape: [3 * MiB], strides: [1] });
    expect(shared.handle).toEqual(new Uint8Array(64).fill(id));
    expect(gpu.pins(id)).toBe(1);
    expectGpuError(() => gpu.evict(id), GpuErrorCode.PINNED);
    shared.release();
    shared.release();
    expect(gpu.pins(id)).toBe(0);
  });

  it('reports a failed device as DEVICE_LOST and refuses bad arguments with typed errors', () => {
    const bus = new SimBus();
    const gpu = new ResidencyManager(bus, { budgetBytes: MiB });
    const id = bus.add(MiB);
    gpu.track(id);
    bus.fail = true;
    const lost = expectGpuError(() => gpu.evict(id), GpuErrorCode.DEVICE_LOST);
    expect((lost.cause as MmsbError).code).toBe('DEVICE_FAILED');
    bus.fail = false;
    expectGpuError(() => gpu.use(99), GpuErrorCode.NOT_TRACKED);
    expectGpuError(() => new ResidencyManager(bus, { budgetBytes: -1 }), GpuErrorCode.INVALID_ARGUMENT);
    expectGpuError(() => new ResidencyManager(bus, { budgetBytes: { 0: 1.5 } }), GpuErrorCode.INVALID_ARGUMENT);
  });

  it('manages only device pages of a real bus (here, without CUDA, host pages)', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 64 });
    const gpu = new ResidencyManager(bus, { budgetBytes: MiB });
    expectGpuError(() => gpu.track(id), GpuErrorCode.NOT_DEVICE_PAGE);
    await bus.close();
  });
});
