// Puts the built addon into its platform package (what `napi artifacts` does
// in a release pipeline) and packs every published package with `pnpm pack`,
// which writes `workspace:*` ranges (core-native's optionalDependencies among
// them) as the exact versions being released.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { hostPlatform, publishedPackages, ROOT } from './workspace.mjs';

/**
 * Puts an addon into this machine's platform package: `MMSB_RELEASE_ADDON`
 * when set (the release workflow's cross-built artifact), else the checkout's
 * build. Returns the platform name and the file placed, which the caller
 * removes once packed (a checkout build must never reach a real publish).
 */
export async function placeHostBinary() {
  const platform = await hostPlatform();
  const binary = `mmsb.${platform}.node`;
  const source = process.env.MMSB_RELEASE_ADDON ?? join(ROOT, 'packages', 'core-native', binary);
  const target = join(ROOT, 'packages', 'core-native', 'npm', platform);
  if (!existsSync(source)) {
    throw new Error(`${source} is missing: build the addon first (pnpm --filter @mmsb/core-native build)`);
  }
  if (!existsSync(target)) {
    throw new Error(`no platform package for ${platform} under packages/core-native/npm: this platform is not released`);
  }
  const placed = join(target, binary);
  copyFileSync(source, placed);
  return { platform, placed, source };
}

/** The platform packages whose addon is not in place, as "name (file)". */
export function missingBinaries(packages = publishedPackages()) {
  return packages
    .filter((pkg) => pkg.platformBinary && !existsSync(join(pkg.dir, pkg.platformBinary)))
    .map((pkg) => `${pkg.name} (${pkg.platformBinary})`);
}

/**
 * Packs every published package into `destination`; platform packages without
 * their addon are skipped (this machine builds one platform). Returns the
 * tarballs as `{ name, tarball }`, platform packages first.
 */
export function packAll(destination) {
  const packed = [];
  const packages = publishedPackages().sort((a, b) => Number(Boolean(b.platformBinary)) - Number(Boolean(a.platformBinary)));
  for (const pkg of packages) {
    if (pkg.platformBinary && !existsSync(join(pkg.dir, pkg.platformBinary))) continue;
    const output = execFileSync('pnpm', ['pack', '--json', '--pack-destination', destination], {
      cwd: pkg.dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    packed.push({ name: pkg.name, tarball: JSON.parse(output).filename });
  }
  return packed;
}
