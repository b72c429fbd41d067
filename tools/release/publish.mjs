// `pnpm release`: the real publish, run by the release workflow after
// `pnpm version-packages` has been merged. It refuses unless every platform
// package holds its addon (the build matrix puts them in place), then
// publishes every package with provenance; `pnpm -r publish` writes core-native's
// `workspace:*` optionalDependencies as the exact version being released.
// `--dry-run` goes through every step without uploading.
import { execFileSync } from 'node:child_process';
import { missingBinaries } from './stage.mjs';
import { ROOT } from './workspace.mjs';

const dryRun = process.argv.includes('--dry-run');
const missing = missingBinaries();
if (missing.length > 0 && !dryRun) {
  console.error(
    `pnpm release: refusing to publish without every platform's addon; missing: ${missing.join(', ')}. ` +
      'Download the build matrix artifacts into packages/core-native/npm/<platform>/ first (docs/releasing.md).',
  );
  process.exit(1);
}
const run = (args) => execFileSync('pnpm', args, { cwd: ROOT, stdio: 'inherit' });
run(['exec', 'nx', 'run-many', '-t', 'build', '--output-style=static']);
run(['-r', 'publish', '--access', 'public', ...(dryRun ? ['--dry-run', '--no-git-checks'] : ['--provenance'])]);
