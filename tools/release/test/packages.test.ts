// What a user of each published package expects to find in it, and the
// versions that must move together. Reads the workspace, so a new package is
// checked without being listed here.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

import { describe, expect, it } from 'vitest';

import { juliaPackageVersion, LEAD_PACKAGE, publishedPackages, ROOT } from '../workspace.mjs';

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly license?: string;
  readonly repository?: { readonly url: string; readonly directory: string };
  readonly keywords?: readonly string[];
  readonly engines?: { readonly node?: string };
  readonly files?: readonly string[];
  readonly main?: string;
  readonly exports?: { readonly '.': { readonly types: string; readonly default: string } };
  readonly os?: readonly string[];
  readonly optionalDependencies?: Record<string, string>;
  readonly napi?: { readonly targets: readonly string[] };
}

const packages = publishedPackages() as { name: string; dir: string; manifest: Manifest; platformBinary?: string }[];
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const license = read('LICENSE');

describe('published package metadata', () => {
  it("covers the design card's packages and every platform package", () => {
    const names = packages.map((pkg) => pkg.name).sort();
    expect(names).toEqual(expect.arrayContaining(['@mmsb/bus', '@mmsb/core-native', '@mmsb/gpu', '@mmsb/julia-bridge', '@mmsb/metrics']));
    expect(names.filter((name) => name.startsWith('@mmsb/core-native-')).length).toBeGreaterThan(0);
  });

  it.each(packages.map((pkg) => [pkg.name, pkg] as const))('%s has what a user expects', (_, pkg) => {
    const { manifest } = pkg;
    expect(manifest.description?.length).toBeGreaterThan(20);
    expect(manifest.license).toBe('MIT');
    expect(manifest.repository?.url).toMatch(/^git\+https:\/\/github\.com\/.+\.git$/);
    expect(manifest.repository?.directory).toBe(relative(ROOT, pkg.dir));
    expect(manifest.keywords).toContain('mmsb');
    expect(manifest.engines?.node).toBe('>=20.17');
    expect(manifest.files?.length).toBeGreaterThan(0);
    expect(readFileSync(join(pkg.dir, 'LICENSE'), 'utf8')).toBe(license);
    const readme = readFileSync(join(pkg.dir, 'README.md'), 'utf8');
    expect(readme.startsWith(`# ${manifest.name}\n`)).toBe(true);
    if (pkg.platformBinary) {
      expect(manifest.files).toEqual([pkg.platformBinary]);
      expect(manifest.main).toBe(`./${pkg.platformBinary}`);
      return;
    }
    expect(manifest.exports?.['.'].types).toMatch(/\.d\.ts$/);
    for (const target of [manifest.exports?.['.'].types, manifest.exports?.['.'].default]) {
      expect(manifest.files?.some((entry) => target?.replace(/^\.\//, '').startsWith(entry))).toBe(true);
    }
    expect(readme).toMatch(/```ts\n[^`]*import [^`]+ from '@mmsb\//);
  });
});

describe('versions in step', () => {
  const lead = packages.find((pkg) => pkg.name === LEAD_PACKAGE)!.manifest.version;
  const config = JSON.parse(read('.changeset/config.json')) as { fixed: string[][] };

  it('one changesets fixed group holds every published package', () => {
    expect(config.fixed).toHaveLength(1);
    expect([...config.fixed[0]!].sort()).toEqual(packages.map((pkg) => pkg.name).sort());
  });

  it('every pending changeset names published packages only (else `changeset version` never consumes it)', () => {
    const published = new Set(packages.map((pkg) => pkg.name));
    const changesets = readdirSync(join(ROOT, '.changeset')).filter((name) => name.endsWith('.md') && name !== 'README.md');
    for (const name of changesets) {
      const front = /^---\n([\s\S]*?)\n---\n/.exec(read(`.changeset/${name}`));
      expect(front, name).not.toBeNull();
      const named = front![1]!.split('\n').map((line) => /^'([^']+)': (major|minor|patch)$/.exec(line)?.[1]);
      expect(named.length, name).toBeGreaterThan(0);
      for (const pkg of named) expect(published.has(pkg!), `${name}: ${pkg}`).toBe(true);
    }
  });

  it('every published package has the same version', () => {
    expect(new Set(packages.map((pkg) => pkg.manifest.version))).toEqual(new Set([lead]));
  });

  it("MMSB.jl's version and the client name it sends are the packages' version", () => {
    expect(juliaPackageVersion()).toBe(lead);
    expect(read('julia/MMSB.jl/src/bus.jl')).toContain(`const CLIENT_NAME = "MMSB.jl ${lead}"`);
  });

  it('MMSB.jl speaks the protocol versions the bridge serves', async () => {
    const { PROTOCOL_VERSIONS } = await import('../../../packages/julia-bridge/src/protocol.js');
    const julia = /^const PROTOCOL_VERSIONS = \(([\d, ]+),?\)$/m.exec(read('julia/MMSB.jl/src/bus.jl'));
    expect(
      julia?.[1]
        ?.split(',')
        .filter((part) => part.trim() !== '')
        .map(Number),
    ).toEqual([...PROTOCOL_VERSIONS]);
  });

  it('core-native names one platform package per napi target, and each exists', () => {
    const core = packages.find((pkg) => pkg.name === '@mmsb/core-native')!.manifest;
    const platformDirs = readdirSync(join(ROOT, 'packages', 'core-native', 'npm')).sort();
    expect(Object.keys(core.optionalDependencies ?? {}).sort()).toEqual(platformDirs.map((dir) => `@mmsb/core-native-${dir}`));
    expect(Object.values(core.optionalDependencies ?? {})).toEqual(platformDirs.map(() => 'workspace:*'));
    expect(core.napi?.targets).toHaveLength(platformDirs.length);
    for (const dir of platformDirs) expect(existsSync(join(ROOT, 'packages', 'core-native', 'npm', dir, 'package.json'))).toBe(true);
  });
});
