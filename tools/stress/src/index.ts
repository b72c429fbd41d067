/**
 * @mmsb/stress: the stress daemon behind `mmsb stress` (docs/reliability.md).
 * `@mmsb/bus`'s command line loads it when the command runs.
 */
export { STRESS_HELP, parseStressOptions, type StressOptions } from './command.js';
export { INVARIANTS, type Invariant, type Violation } from './invariants.js';
export { PLANTS, PLANT_VARIABLE, type Plant } from './plant.js';
export type { StressReport } from './report.js';
export { runStress, type Print } from './run.js';
