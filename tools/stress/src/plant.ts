/**
 * Planted bugs: proof that the invariant checks can fail. Each one damages
 * the system under test through a back door, where no operation of the bus
 * would; a run with one must report a violation and exit non-zero. Chosen
 * by the environment variable MMSB_STRESS_PLANT, never by a flag.
 */
import { ErrorCode, MmsbError } from '@mmsb/bus';

export const PLANTS = {
  /** Writes one byte of a live page through its view, past the log and the oracle: "live state" and "replay" must fail. */
  'stray-write': 'a byte of a live page changed behind the log',
  /** After a kill, cuts the log at the child's last acknowledged record: "no acknowledged write lost" must fail. */
  'lost-write': "the log cut at the child writer's last acknowledged record after a kill",
  /** Once, a bridge client keeps its session and a handle past its round: "handles balanced" must fail. */
  'held-handle': 'a bridge session and its handle kept open past the end of a round',
  /** After the warm-up, file descriptors opened and never closed: "resources" must fail. */
  'leaked-fd': 'file descriptors opened and never closed, 500 a second after the warm-up',
} as const;

export type Plant = keyof typeof PLANTS;

export const PLANT_VARIABLE = 'MMSB_STRESS_PLANT';

/** The planted bug the environment asks for, if any. */
export function plantFromEnvironment(environment: NodeJS.ProcessEnv = process.env): Plant | undefined {
  const value = environment[PLANT_VARIABLE];
  if (value === undefined || value === '') return undefined;
  if (!Object.hasOwn(PLANTS, value)) {
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `${PLANT_VARIABLE} must be one of ${Object.keys(PLANTS).join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
  return value as Plant;
}
