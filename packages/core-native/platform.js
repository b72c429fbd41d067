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

/** What to tell a user whose machine has no loadable addon. */
export function missingAddonMessage(name, cause) {
  const pkg = platformPackage(name);
  const fromSource = 'or build the addon from source in a checkout of the MMSB repository (`bash tools/dev.sh quickstart`, needs Rust)';
  if (PUBLISHED_PLATFORMS.includes(name)) {
    return (
      `the MMSB native addon for ${name} is missing: install ${pkg} (\`npm install ${pkg}\`; ` +
      'it is an optional dependency of @mmsb/core-native, skipped by `--omit=optional`, `--no-optional` ' +
      `or a lockfile made on another platform), ${fromSource} (${cause})`
    );
  }
  return (
    `MMSB publishes no native addon for ${name} (prebuilt: ${PUBLISHED_PLATFORMS.join(', ')}); ` +
    `there is no ${pkg} to install: ${fromSource} (${cause})`
  );
}
