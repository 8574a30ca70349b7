/**
 * The words a SQLite store and its checkpoint thread share (an Int32Array over a
 * SharedArrayBuffer): sqlite-checkpoints.ts writes `commits` and `stop` (and clears `logFrames`
 * after it resets the log), the worker the rest.
 */
export const CONTROL = {
  /** Bumped by the store after each commit; the worker waits for it to change. */
  commits: 0,
  /** Set by the store to stop the worker. */
  stop: 1,
  /** Set once the worker's connection is open. */
  ready: 2,
  /** 1 while a checkpoint runs. */
  busy: 3,
  /** Frames in the log at the last checkpoint. */
  logFrames: 4,
  /** Checkpoints run. */
  runs: 5,
  /** Set when the worker could not open the file or a checkpoint threw: the store checkpoints itself again. */
  failed: 6,
  /** Set once the worker has closed its connection. */
  closed: 7,
} as const;

export const CONTROL_WORDS = 8;

/** The worker's pause after a checkpoint that copied SMALL_RUN_PAGES or more (a log filling fast). */
export const REST_MS = 10;
/**
 * Its pause after one that copied fewer: small commits (an upgrade's reports, a few pages each)
 * would otherwise cost a checkpoint and its two syncs every 10 ms, where SQLite alone checkpoints
 * every 1000 pages.
 */
export const IDLE_REST_MS = 100;
export const SMALL_RUN_PAGES = 64;

/** What `PRAGMA wal_checkpoint` answers: pages in the log, and how many of them are in the database. */
export interface CheckpointResult {
  log: number;
  checkpointed: number;
}

/**
 * The pages a checkpoint copied, from its answer and the one before it: all it holds as copied
 * when the log has started again in between (fewer pages in it, or fewer copied).
 */
export function pagesCopied(before: CheckpointResult, after: CheckpointResult): number {
  const restarted = after.log < before.log || after.checkpointed < before.checkpointed;
  return restarted ? after.checkpointed : after.checkpointed - before.checkpointed;
}

/** The worker's pause after a checkpoint that copied `pages`. */
export function restAfter(pages: number): number {
  return pages >= SMALL_RUN_PAGES ? REST_MS : IDLE_REST_MS;
}

export interface CheckpointWorkerData {
  file: string;
  synchronous: 'NORMAL' | 'FULL';
  control: SharedArrayBuffer;
}
