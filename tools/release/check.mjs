// `pnpm release:check`: what a user gets from the registry, proved before a
// release. Packs every package, installs the tarballs with plain npm into a
// new project outside the workspace with Rust hidden from the PATH, and runs
// there: the quickstart, the CLI, `mmsb serve` with a TypeScript client round
// trip and MMSB.jl's tests, the libraries in process, and a type check of
// every package README's example. Then `pnpm -r publish --dry-run`.
// Temporary directories are kept when a step fails.
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { packAll, placeHostBinary } from './stage.mjs';
import { ROOT } from './workspace.mjs';

const RUST_TOOLS = ['cargo', 'rustc', 'rustup'];
const SERVE_START_MS = 30_000;

function step(title) {
  console.log(`\nrelease:check: ${title}`);
}

function run(command, args, options = {}) {
  execFileSync(command, args, { stdio: 'inherit', ...options });
}

/**
 * The environment of the install and run steps, with Rust hidden: PATH entries
 * that hold a Rust tool are dropped, unless they also hold node (a system
 * cargo in /usr/bin, say); those are shadowed by stubs that fail. Checked.
 */
function withoutRust(work) {
  const stubs = join(work, 'no-rust');
  mkdirSync(stubs);
  for (const tool of RUST_TOOLS) {
    writeFileSync(join(stubs, tool), `#!/bin/sh\necho "${tool} is hidden by release:check" >&2\nexit 127\n`);
    chmodSync(join(stubs, tool), 0o755);
  }
  const kept = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && (existsSync(join(dir, 'node')) || !RUST_TOOLS.some((tool) => existsSync(join(dir, tool)))));
  const env = { ...process.env, PATH: [stubs, ...kept].join(delimiter) };
  for (const key of ['CARGO', 'CARGO_HOME', 'RUSTUP_HOME', 'RUSTC', 'MMSB_NATIVE_PATH', 'NODE_PATH', 'npm_config_nodedir']) delete env[key];
  for (const tool of RUST_TOOLS) {
    const status = spawnStatus(tool, ['--version'], env);
    if (status !== 127) throw new Error(`${tool} still runs on the PATH of the install step (exit ${status})`);
  }
  return env;
}

function spawnStatus(command, args, env) {
  try {
    execFileSync(command, args, { env, stdio: 'ignore' });
    return 0;
  } catch (error) {
    return error.status ?? 127;
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
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mmsb serve printed no endpoint within ${SERVE_START_MS} ms`));
    }, SERVE_START_MS);
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
      if (output.includes('requests')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mmsb serve exited with ${code} before serving`));
    });
  });
}

function stopServe(child) {
  return new Promise((resolve, reject) => {
    child.removeAllListeners('exit');
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mmsb serve exited with ${code} on SIGINT`))));
    child.kill('SIGINT');
  });
}

/** Writes every ```ts block of the installed packages' READMEs into the project; returns their file names. */
function readmeExamples(project) {
  const files = [];
  const scope = join(project, 'node_modules', '@mmsb');
  for (const name of readdirSync(scope)) {
    const readme = join(scope, name, 'README.md');
    if (!existsSync(readme)) continue;
    const blocks = [...readFileSync(readme, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    blocks.forEach((code, index) => {
      const file = `readme-${name}-${index}.ts`;
      writeFileSync(join(project, file), `${code}export {};\n`);
      files.push(file);
    });
  }
  return files;
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'mmsb-release-check-'));
  const tarballs = join(work, 'tarballs');
  const project = join(work, 'project');
  const data = join(work, 'data');

  step('build');
  run('pnpm', ['exec', 'nx', 'run-many', '-t', 'build', '--output-style=static'], { cwd: ROOT });
  step('pack');
  const { platform, placed, source } = await placeHostBinary();
  let packed;
  try {
    packed = packAll(tarballs);
  } finally {
    rmSync(placed, { force: true });
  }
  console.log(`  addon: ${source}`);
  for (const { name, tarball } of packed) console.log(`  ${name.padEnd(34)} ${tarball}`);

  step(`npm install of ${packed.length} tarballs into ${project}, with cargo and rustc hidden`);
  const env = withoutRust(work);
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'mmsb-release-check', private: true, type: 'module' }, null, 2)}\n`,
  );
  const npmInstall = (args) => run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...args], { cwd: project, env });
  npmInstall(packed.map(({ tarball }) => tarball));
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
  // MMSB_REQUIRE_JULIA=1 (the release workflow sets it) makes a missing Julia fail instead of skip.
  const julia = { ...env, MMSB_CLI: cli };
  run('bash', [join(ROOT, 'julia', 'run-tests.sh'), '--no-planted'], { cwd: ROOT, env: julia });

  step("every package README's TypeScript example, type-checked against the installed packages");
  const examples = readmeExamples(project);
  npmInstall(['typescript@5.9.3', '@types/node@20']);
  const tsconfig = {
    compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false },
    files: examples,
  };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], inProject);
  console.log(`  ${examples.length} examples type-check: ${examples.join(', ')}`);

  step('pnpm -r publish --dry-run');
  run('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks'], { cwd: ROOT });

  rmSync(work, { recursive: true, force: true });
  console.log('\nrelease:check: passed');
}

main().catch((error) => {
  console.error(`\nrelease:check: FAILED: ${error.message}`);
  process.exitCode = 1;
});
