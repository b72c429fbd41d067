// Loads the compiled addon: MMSB_NATIVE_PATH if set (a sanitizer build, say),
// else one built in this checkout, else the platform package npm installed,
// which must be of this package's version. A missing, mismatched or damaged
// addon becomes an Error with code NATIVE_UNAVAILABLE that says what to do;
// a truncated file is refused before the dynamic loader maps it (it would
// die of SIGBUS).
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isElf64, missingAddonMessage, platformName, platformPackage } from './platform.js';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));

function unavailable(message, cause) {
  const error = new Error(message, { cause });
  error.code = 'NATIVE_UNAVAILABLE';
  return error;
}

/** The bytes a 64-bit ELF file's headers say it has, or undefined for anything else. */
function elfExtent(header) {
  if (!isElf64(header)) return undefined;
  const programs = Number(header.readBigUInt64LE(0x20)) + header.readUInt16LE(0x36) * header.readUInt16LE(0x38);
  const sections = Number(header.readBigUInt64LE(0x28)) + header.readUInt16LE(0x3a) * header.readUInt16LE(0x3c);
  return Math.max(programs, sections);
}

/** Refuses an addon file shorter than its own headers say. */
function checkWhole(path) {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(64);
    const read = readSync(fd, header, 0, 64, 0);
    const extent = elfExtent(header.subarray(0, read));
    const { size } = fstatSync(fd);
    if (extent !== undefined && size < extent) {
      throw unavailable(`the MMSB native addon ${path} is damaged: ${size} bytes, where its headers describe ${extent}; reinstall it`);
    }
  } finally {
    closeSync(fd);
  }
}

function loadFrom(path, where) {
  checkWhole(path);
  try {
    return require(path);
  } catch (cause) {
    throw unavailable(`the MMSB native addon ${where} is present but could not be loaded (${cause.message})`, cause);
  }
}

/** The installed platform package's addon file, checked against this package's version. */
function platformAddon(name) {
  const pkg = platformPackage(name);
  let manifestPath;
  try {
    manifestPath = require.resolve(`${pkg}/package.json`);
  } catch {
    throw unavailable(missingAddonMessage(name, version));
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (manifest.version !== version) {
    throw unavailable(
      `${pkg} ${manifest.version} is installed, but @mmsb/core-native ${version} needs the same version: ` +
        `npm install ${pkg}@${version}`,
    );
  }
  const path = join(dirname(manifestPath), manifest.main);
  if (!existsSync(path)) {
    throw unavailable(`${pkg} is installed without its addon ${manifest.main}: reinstall it (npm install ${pkg}@${version})`);
  }
  return path;
}

function load() {
  const explicit = process.env.MMSB_NATIVE_PATH;
  if (explicit) {
    if (!existsSync(explicit)) throw unavailable(`MMSB_NATIVE_PATH=${explicit}: no such file`);
    return loadFrom(explicit, `MMSB_NATIVE_PATH=${explicit}`);
  }
  const name = platformName(process.platform, process.arch);
  const local = join(here, `mmsb.${name}.node`);
  if (existsSync(local)) return loadFrom(local, local);
  if (existsSync(join(here, 'Cargo.toml'))) {
    throw unavailable(
      `no MMSB native addon built in this checkout (${local}): build it with \`pnpm --filter @mmsb/core-native build\` ` +
        '(needs Rust), or run the README set-up command',
    );
  }
  const installed = platformAddon(name);
  return loadFrom(installed, installed);
}

export const native = load();
