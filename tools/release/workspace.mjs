// The packages a release publishes, read from the workspace itself so a new
// package cannot be left out of the checks by forgetting a list.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The package whose version every published package and MMSB.jl share. */
export const LEAD_PACKAGE = '@mmsb/bus';

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function packageDirs() {
  const dirs = [];
  for (const entry of readdirSync(join(ROOT, 'packages'), { withFileTypes: true })) {
    if (entry.isDirectory()) dirs.push(join(ROOT, 'packages', entry.name));
  }
  const platforms = join(ROOT, 'packages', 'core-native', 'npm');
  for (const entry of readdirSync(platforms, { withFileTypes: true })) {
    if (entry.isDirectory()) dirs.push(join(platforms, entry.name));
  }
  return dirs.filter((dir) => existsSync(join(dir, 'package.json')));
}

/**
 * Every package that is not private: `{ name, version, dir, manifest, platformBinary }`,
 * platformBinary being the addon file a platform package carries (else undefined).
 */
export function publishedPackages() {
  return packageDirs()
    .map((dir) => ({ dir, manifest: readJson(join(dir, 'package.json')) }))
    .filter(({ manifest }) => !manifest.private)
    .map(({ dir, manifest }) => ({
      name: manifest.name,
      version: manifest.version,
      dir,
      manifest,
      platformBinary: manifest.os ? manifest.main.replace(/^\.\//, '') : undefined,
    }));
}

/** MMSB.jl's version, from its Project.toml. */
export function juliaPackageVersion() {
  const project = readFileSync(join(ROOT, 'julia', 'MMSB.jl', 'Project.toml'), 'utf8');
  const match = /^version = "([^"]+)"$/m.exec(project);
  if (!match) throw new Error('julia/MMSB.jl/Project.toml has no version line');
  return match[1];
}

/** The host's platform package name, as core-native's loader computes it. */
export async function hostPlatform() {
  const { platformName } = await import(join(ROOT, 'packages', 'core-native', 'platform.js'));
  return platformName(process.platform, process.arch);
}
