// CUDA without a GPU (CI): the core loads CUDA at run time, finds none, and
// every GPU entry refuses with CUDA_UNAVAILABLE (or MEMORY_UNSUITABLE for a
// residency call on a host page), changing nothing; a bus opened with
// `cudaFallback: 'cpu'` gets heap memory instead, with one process warning
// per fallback. The GPU behaviour itself is tested on the GPU machine
// (core-native/core/tests/gpu.rs, docs/gpu-validation.md).
import { describe, expect, it } from 'vitest';

import { runVerify } from '../src/cli/directory.js';
import { Bus, cudaInfo, ErrorCode, MEMORY } from '../src/index.js';
import { nativeAddon } from '../src/native.js';
import { expectMmsbError, scratchDirectory } from './support.js';

const noCuda = !cudaInfo().available;

/** Runs `body`, collecting the MMSB_CUDA_FALLBACK warnings it emits (not node's own, such as NO_COLOR's). */
async function warningsOf(body: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const listen = (warning: Error): void => {
    if ((warning as { code?: string }).code === 'MMSB_CUDA_FALLBACK') seen.push(warning);
  };
  process.on('warning', listen);
  try {
    await body();
    // Warnings are delivered on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listen);
  }
  return seen;
}

describe.runIf(noCuda)('without CUDA', () => {
  it('says why CUDA is unavailable', () => {
    const info = cudaInfo();
    expect(info).toMatchObject({ available: false, devices: 0 });
    expect(info.reason).toMatch(/CUDA|libcuda/);
  });

  // In order: the fallback below is process-wide once turned on.
  it('refuses every GPU entry with a typed error, changing nothing', async () => {
    const bus = Bus.memory();
    const host = await bus.createPage({ size: 16 });
    const hash = bus.stateHash();
    const lsn = bus.lsn;
    for (const location of ['gpu', 'unified'] as const) {
      await expectMmsbError(() => bus.createPage({ size: 16, location }), ErrorCode.CUDA_UNAVAILABLE);
      await expectMmsbError(() => bus.createPages(2, { size: 16, location }), ErrorCode.CUDA_UNAVAILABLE);
    }
    for (const memory of ['device', 'managed'] as const) {
      await expectMmsbError(() => bus.createPage({ size: 16, memory }), ErrorCode.CUDA_UNAVAILABLE);
      await expectMmsbError(() => bus.movePage(host, memory), ErrorCode.CUDA_UNAVAILABLE);
    }
    await expectMmsbError(() => bus.setDevice(0), ErrorCode.CUDA_UNAVAILABLE);
    await expectMmsbError(() => bus.prefetch(host), ErrorCode.MEMORY_UNSUITABLE);
    await expectMmsbError(() => bus.evict(host), ErrorCode.MEMORY_UNSUITABLE);
    await expectMmsbError(() => bus.devicePointer(host), ErrorCode.MEMORY_UNSUITABLE);
    await expectMmsbError(() => bus.ipcHandle(host), ErrorCode.MEMORY_UNSUITABLE);
    await expectMmsbError(() => bus.ipcHandle(-1), ErrorCode.INVALID_ARGUMENT);
    await expectMmsbError(() => bus.moveToDevice(host, 0), ErrorCode.MEMORY_UNSUITABLE);
    expect(bus.residency(host)).toEqual({ memory: 'heap', device: undefined, current: undefined, deviceBytes: 0 });
    expect(bus.stateHash()).toBe(hash);
    expect(bus.lsn).toBe(lsn);
    await bus.close();
  });

  it('refuses a bad cudaFallback option', async () => {
    await expectMmsbError(() => Bus.open(MEMORY, { cudaFallback: 'gpu' as never }), ErrorCode.INVALID_ARGUMENT);
  });

  it("falls back to heap memory with a warning under cudaFallback: 'cpu', in recovery too", async () => {
    const directory = scratchDirectory('cuda-fallback');
    let gpu = 0;
    const created = await warningsOf(async () => {
      const bus = await Bus.open(directory, { cudaFallback: 'cpu' });
      gpu = await bus.createPage({ size: 32, location: 'gpu' });
      await bus.createPages(2, { size: 8, location: 'unified' });
      expect(bus.page(gpu)).toMatchObject({ location: 'gpu', memory: 'heap' });
      expect(bus.residency(gpu).memory).toBe('heap');
      await bus.close();
    });
    expect(created.map((warning) => (warning as { code?: string }).code)).toEqual(['MMSB_CUDA_FALLBACK', 'MMSB_CUDA_FALLBACK']);
    expect(created[1]!.message).toMatch(/^2 page\(s\)/);
    expect(cudaInfo().fallbacks).toBe(3);
    // The log says `device` memory; recovery falls back again, and says so once.
    const reopened = await warningsOf(async () => {
      const bus = await Bus.open(directory, { cudaFallback: 'cpu' });
      expect(bus.page(gpu)).toMatchObject({ location: 'gpu', memory: 'heap' });
      await bus.close();
    });
    expect(reopened.map((warning) => (warning as { code?: string }).code)).toEqual(['MMSB_CUDA_FALLBACK']);
    // Without the fallback the directory does not open; `mmsb verify` turns it on, as it only reads bytes.
    nativeAddon().setCudaFallback(false);
    await expectMmsbError(() => Bus.open(directory), ErrorCode.CUDA_UNAVAILABLE);
    const lines: string[] = [];
    expect(runVerify(directory, (line) => lines.push(line))).toBe(0);
    expect(lines.at(-1)).toBe('verify: everything checks out');
  });
});
