/**
 * @mmsb/gpu: the residency manager for a bus's `device` pages.
 *
 * ```ts
 * import { Bus } from '@mmsb/bus';
 * import { ResidencyManager } from '@mmsb/gpu';
 * const bus = await Bus.open(':memory:');
 * const gpu = new ResidencyManager(bus, { budgetBytes: 8 << 30 });
 * const id = await bus.createPage({ size: 64 << 20, location: 'gpu' });
 * gpu.track(id);
 * const tensor = gpu.exportDevice(id); // pinned until tensor.release()
 * const shared = gpu.exportIpc(id); // shared.handle opens it in another process
 * ```
 */
export { type DeviceDescriptor, type IpcDescriptor } from './descriptor.js';
export { GpuError, GpuErrorCode } from './errors.js';
export { type ResidencyBus, type ResidencyEvent, ResidencyManager, type ResidencyOptions, type ResidencyStats } from './manager.js';
