// What a prebuilt addon file is built for, read from its bytes: the machine in
// its ELF header and the newest glibc symbol version it needs. A release
// checks both against the platform package that carries it.
import { isElf64 } from '../../packages/core-native/platform.js';

const MACHINES = new Map([
  [62, 'x64'],
  [183, 'arm64'],
]);

/** The npm `cpu` name of a 64-bit little-endian ELF file's machine, or undefined. */
export function elfCpu(bytes) {
  return isElf64(bytes) ? MACHINES.get(bytes.readUInt16LE(18)) : undefined;
}

/** The newest `GLIBC_x.y` version the file references, as [x, y], or undefined for none (musl). */
export function glibcFloor(bytes) {
  let newest;
  for (const [, major, minor] of bytes.toString('latin1').matchAll(/GLIBC_(\d+)\.(\d+)/g)) {
    const version = [Number(major), Number(minor)];
    if (!newest || version[0] > newest[0] || (version[0] === newest[0] && version[1] > newest[1])) newest = version;
  }
  return newest;
}

/** The oldest glibc the published gnu addons must run on (napi-rs's cross toolchains link against it). */
export const GLIBC_FLOOR = [2, 17];

/** Why `bytes` does not suit a platform package's `cpu` and `libc`, or undefined when it does. */
export function unsuitable(bytes, manifest) {
  const cpu = elfCpu(bytes);
  if (cpu !== manifest.cpu[0]) return `built for ${cpu ?? 'no known machine'}, the package is for ${manifest.cpu[0]}`;
  const floor = glibcFloor(bytes);
  if (manifest.libc[0] === 'musl' && floor) return `needs glibc ${floor.join('.')}, the package is for musl`;
  const newer = floor && (floor[0] > GLIBC_FLOOR[0] || (floor[0] === GLIBC_FLOOR[0] && floor[1] > GLIBC_FLOOR[1]));
  if (manifest.libc[0] === 'glibc' && newer) {
    return `needs glibc ${floor.join('.')}, newer than the ${GLIBC_FLOOR.join('.')} every published gnu addon runs on`;
  }
  return undefined;
}
