// Calls the planted errors that MMSB_PLANTED names (comma-separated) inside a
// vitest fork, so the ASan run shows that a report from a fork fails it
// (vitest.config.mjs includes this file only when MMSB_PLANTED is set).
import { expect, it } from 'vitest';

import { callPlanted } from './planted.mjs';

it(`calls the planted ${process.env.MMSB_PLANTED}`, () => {
  expect(() => callPlanted(process.env.MMSB_PLANTED.split(','))).not.toThrow();
});
