/**
 * What the run has done, counted by every part of the workload and read by
 * the progress line and the report. Plain numbers: a week of operations is
 * far below 2^53.
 */
export class Tally {
  /** Every operation on a bus or through the bridge, the child writers' acknowledged ones included. */
  operations = 0;
  /** Deltas applied alone or in batches (the oracle's count, derived deltas excluded). */
  deltas = 0;
  batches = 0;
  /** Checkpoints the lanes' and the bridge's buses wrote (full and incremental; by hand, by size and by time). */
  checkpoints = 0;
  /** Propagation waves that finished, as the buses count them. */
  waves = 0;
  /** States at a past LSN read and compared with the hash recorded then. */
  timeTravelReads = 0;
  /** Comparisons of a replayed state (state at the current LSN, or a reopen) with the live one. */
  replayChecks = 0;
  /** Bad operations refused with their error code and nothing changed. */
  refusals = 0;
  /** Closes and reopens of a bus on its data directory (besides recoveries after a kill). */
  reopens = 0;
  /** Fresh data directories started (each part rotates its own). */
  generations = 0;
  /** Child writers killed with SIGKILL, and recoveries of their directories checked against the oracle. */
  kills = 0;
  recoveries = 0;
  /** Recoveries that cut a torn tail (kept in a salvage file). */
  tornTails = 0;
  /** Operations the child writers acknowledged. */
  childOperations = 0;
  /** Bridge sessions opened, and those left without `bye` (expired by the server). */
  bridgeSessions = 0;
  bridgeAbandoned = 0;
  /** Checks that the bridge's handles, sessions and shared-memory files returned to 0. */
  handleChecks = 0;
  /** The largest data directory seen, in bytes. */
  diskBytesPeak = 0;
}
