// `pnpm release:check`: what a user gets from the registry, proved before a
// release. Packs every package, installs the tarballs with plain npm into a
// new project outside the workspace with Rust hidden from the PATH, and runs
// there: the quickstart, the CLI, `mmsb serve` with a TypeScript client round
// trip and MMSB.jl's tests, and the libraries in process. Then
// `pnpm -r publish --dry-run`. Temporary directories are kept when a step fails.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { packAll, placeHostBinary } from './stage.mjs';
import { ROOT } from './workspace.mjs';

function step(title) {
  console.log(`\nrelease:check: ${title}`);
}

function run(command, args, options = {}) {
  execFileSync(command, args, { stdio: 'inherit', ...options });
}

/** The environment with every PATH entry that holds cargo or rustc removed, checked. */
function withoutRust() {
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && !['cargo', 'rustc', 'rustup'].some((tool) => existsSync(join(dir, tool))))
    .join(delimiter);
  const env = { ...process.env, PATH: path };
  for (const key of ['CARGO', 'CARGO_HOME', 'RUSTUP_HOME', 'RUSTC', 'MMSB_NATIVE_PATH', 'npm_config_nodedir']) delete env[key];
  for (const tool of ['cargo', 'rustc']) {
    const found = spawnSyncQuiet('sh', ['-c', `command -v ${tool}`], env);
    if (found) throw new Error(`${tool} is still on the PATH of the install step (${found})`);
  }
  return env;
}

function spawnSyncQuiet(command, args, env) {
  try {
    return execFileSync(command, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** Every @mmsb package in the project must be a real directory from a tarball, not a link into the workspace. */
function assertNoLinks(project) {
  const scope = join(project, 'node_modules', '@mmsb');
  const names = readdirSync(scope);
  for (const name of names) {
    if (lstatSync(join(scope, name)).isSymbolicLink()) throw new Error(`node_modules/@mmsb/${name} is a link`);
  }
  return names;
}

/** Starts `mmsb serve` and resolves once it prints its requests endpoint. */
function startServe(cli, dataDir, endpoint, env) {
  const child = spawn(process.execPath, [cli, 'serve', '--data', dataDir, '--endpoint', endpoint, '--pub', 'none'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
      if (output.includes('requests')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`mmsb serve exited with ${code} before serving`)));
  });
}

function stopServe(child) {
  return new Promise((resolve, reject) => {
    child.removeAllListeners('exit');
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mmsb serve exited with ${code} on SIGINT`))));
    child.kill('SIGINT');
  });
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'mmsb-release-check-'));
  const tarballs = join(work, 'tarballs');
  const project = join(work, 'project');
  const data = join(work, 'data');

  step('build');
  run('pnpm', ['exec', 'nx', 'run-many', '-t', 'build', '--output-style=static'], { cwd: ROOT });
  step('pack');
  const platform = await placeHostBinary();
  const packed = packAll(tarballs);
  for (const { name, tarball } of packed) console.log(`  ${name.padEnd(34)} ${tarball}`);

  step(`npm install of ${packed.length} tarballs into ${project}, with cargo and rustc hidden`);
  const env = withoutRust();
  run('mkdir', ['-p', project]);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'mmsb-release-check', private: true, type: 'module' }, null, 2)}\n`,
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...packed.map(({ tarball }) => tarball)], { cwd: project, env });
  console.log(`  installed from tarballs: ${assertNoLinks(project).join(', ')} (addon: @mmsb/core-native-${platform})`);

  const cli = join(project, 'node_modules', '@mmsb', 'bus', 'bin', 'mmsb.js');
  const inProject = { cwd: project, env };
  step('the quickstart (mmsb demo) and the CLI');
  run(join(project, 'node_modules', '.bin', 'mmsb'), ['--version'], inProject);
  run(process.execPath, [cli, 'demo'], inProject);
  for (const script of ['round-trip.mjs', 'library.mjs'])
    copyFileSync(join(ROOT, 'tools', 'release', 'installed', script), join(project, script));
  run(process.execPath, ['library.mjs', join(data, 'library')], inProject);
  run(process.execPath, [cli, 'checkpoint', join(data, 'library')], inProject);
  run(process.execPath, [cli, 'verify', join(data, 'library')], inProject);
  run(process.execPath, [cli, 'stats', join(data, 'library')], inProject);

  step('mmsb serve with a TypeScript client round trip');
  const endpoint = `ipc://${join(work, 'serve.sock')}`;
  const server = await startServe(cli, join(data, 'served'), endpoint, env);
  try {
    run(process.execPath, ['round-trip.mjs', endpoint], inProject);
  } finally {
    await stopServe(server);
  }
  run(process.execPath, [cli, 'verify', join(data, 'served')], inProject);

  step("MMSB.jl's tests against the installed mmsb serve");
  run('bash', [join(ROOT, 'julia', 'run-tests.sh'), '--no-planted'], { cwd: ROOT, env: { ...env, MMSB_CLI: cli } });

  step('pnpm -r publish --dry-run');
  run('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks'], { cwd: ROOT });

  rmSync(work, { recursive: true, force: true });
  console.log('\nrelease:check: passed');
}

main().catch((error) => {
  console.error(`\nrelease:check: FAILED: ${error.message}`);
  process.exitCode = 1;
});
