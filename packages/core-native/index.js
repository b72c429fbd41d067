// Loads the compiled addon: MMSB_NATIVE_PATH if set (a sanitizer build, say),
// else one built in this checkout, else the platform package npm installed.
// A missing or broken addon becomes an Error with code NATIVE_UNAVAILABLE that
// names what to install, never a crash.
import { createRequire } from 'node:module';
import { missingAddonMessage, platformName, platformPackage } from './platform.js';

const require = createRequire(import.meta.url);

function unavailable(message, cause) {
  const error = new Error(message, { cause });
  error.code = 'NATIVE_UNAVAILABLE';
  return error;
}

function isMissing(error, request) {
  return error.code === 'MODULE_NOT_FOUND' && error.message.includes(request);
}

function load() {
  const explicit = process.env.MMSB_NATIVE_PATH;
  if (explicit) {
    try {
      return require(explicit);
    } catch (cause) {
      throw unavailable(`the MMSB native addon could not be loaded from MMSB_NATIVE_PATH=${explicit} (${cause.message})`, cause);
    }
  }
  const name = platformName(process.platform, process.arch);
  const candidates = [`./mmsb.${name}.node`, platformPackage(name)];
  for (const request of candidates) {
    try {
      return require(request);
    } catch (cause) {
      if (!isMissing(cause, request)) {
        throw unavailable(`the MMSB native addon ${request} is present but could not be loaded (${cause.message})`, cause);
      }
    }
  }
  throw unavailable(missingAddonMessage(name, `looked for ${candidates.join(' and ')}`));
}

export const native = load();
