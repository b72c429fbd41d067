// The planted memory errors of an addon built with the planted-addon-bugs
// feature (napi/src/planted.rs), by name. Run as a script it calls those named,
// in order, on the addon MMSB_NATIVE_PATH names:
//   node planted.mjs heap-overflow|leak|uninitialised-read ...
import { argv } from 'node:process';
import { fileURLToPath } from 'node:url';

import { native } from '../../index.js';

export const planted = {
  'heap-overflow': () => native.plantedHeapOverflow(16),
  leak: () => native.plantedLeak(4096),
  'uninitialised-read': () => native.plantedUninitialisedRead(16),
};

export function callPlanted(names) {
  for (const name of names) {
    const call = planted[name];
    if (!call) throw new Error(`no planted error named ${name}; known: ${Object.keys(planted).join(', ')}`);
    call();
  }
}

if (argv[1] === fileURLToPath(import.meta.url)) callPlanted(argv.slice(2));
