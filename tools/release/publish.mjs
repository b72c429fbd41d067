// `pnpm release`: the real publish, run by the release workflow after
// `pnpm version-packages` has been merged. It refuses unless every platform
// package holds its addon (the build matrix puts them in place), built for
// that package's machine and C library (elf.mjs), then
// publishes every package with provenance; `pnpm -r publish` writes core-native's
// `workspace:*` optionalDependencies as the exact version being released.
// `--dry-run` goes through every step without uploading.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unsuitable } from './elf.mjs';
import { missingBinaries } from './stage.mjs';
import { publishedPackages, ROOT } from './workspace.mjs';

const dryRun = process.argv.includes('--dry-run');
const missing = missingBinaries();
const unsuited = publishedPackages()
  .filter((pkg) => pkg.platformBinary && existsSync(join(pkg.dir, pkg.platformBinary)))
  .map((pkg) => ({ pkg, why: unsuitable(readFileSync(join(pkg.dir, pkg.platformBinary)), pkg.manifest) }))
  .filter(({ why }) => why !== undefined)
  .map(({ pkg, why }) => `${pkg.name} (${why})`);
const problems = [
  ...(missing.length > 0 ? [`missing: ${missing.join(', ')}`] : []),
  ...(unsuited.length > 0 ? [`not for their packages: ${unsuited.join('; ')}`] : []),
];
if (problems.length > 0) {
  const what = `platform addons ${problems.join('; ')} (put the build matrix artifacts in packages/core-native/npm/<platform>/: docs/releasing.md)`;
  if (!dryRun) {
    console.error(`pnpm release: refusing to publish; ${what}`);
    process.exit(1);
  }
  console.warn(`pnpm release --dry-run: a real release would refuse; ${what}`);
}
const run = (args) => execFileSync('pnpm', args, { cwd: ROOT, stdio: 'inherit' });
run(['exec', 'nx', 'run-many', '-t', 'build', '--output-style=static']);
run(['-r', 'publish', '--access', 'public', ...(dryRun ? ['--dry-run', '--no-git-checks'] : ['--provenance'])]);
