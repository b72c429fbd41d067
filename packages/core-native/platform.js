// Which prebuilt addon package serves this machine. Kept apart from the loader
// so the release scripts and the loader's tests name platforms the same way.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The platform packages this release publishes, from the optionalDependencies written for it. */
export const PUBLISHED_PLATFORMS = Object.keys(require('./package.json').optionalDependencies ?? {}).map((name) =>
  name.slice('@mmsb/core-native-'.length),
);

/** The napi-rs name of a machine: `linux-x64-gnu`, `linux-arm64-musl`, `darwin-arm64`, `win32-x64-msvc`. */
export function platformName(platform, arch, report = () => process.report?.getReport()) {
  if (platform === 'linux') {
    return `${platform}-${arch}-${report()?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') {
    return `${platform}-${arch}-msvc`;
  }
  return `${platform}-${arch}`;
}

/** The npm package that carries the addon for a platform name. */
export function platformPackage(name) {
  return `@mmsb/core-native-${name}`;
}

/** What to tell a user whose machine has no addon, for @mmsb/core-native at `version`. */
export function missingAddonMessage(name, version) {
  const pkg = `${platformPackage(name)}@${version}`;
  const prebuilt = `prebuilt: ${PUBLISHED_PLATFORMS.join(', ')}`;
  if (PUBLISHED_PLATFORMS.includes(name)) {
    return (
      `the MMSB native addon for ${name} is missing: install ${pkg} (\`npm install ${pkg}\`); it is an optional ` +
      'dependency of @mmsb/core-native, which `--omit=optional`, `--no-optional` or a lockfile made on another platform leaves out'
    );
  }
  if (!name.startsWith('linux-')) {
    return `MMSB runs on Linux only (its storage layer uses Linux system calls): there is no addon for ${name} (${prebuilt})`;
  }
  return (
    `MMSB publishes no native addon for ${name} (${prebuilt}): build one from a checkout of the MMSB repository ` +
    '(`pnpm --filter @mmsb/core-native build`, needs Rust) and set MMSB_NATIVE_PATH to the .node file it writes'
  );
}

/** Whether `bytes` start a 64-bit little-endian ELF file (the only kind of addon published). */
export function isElf64(bytes) {
  return bytes.length >= 64 && bytes.readUInt32BE(0) === 0x7f454c46 && bytes[4] === 2 && bytes[5] === 1;
}
