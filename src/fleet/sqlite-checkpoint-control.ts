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

/** The worker's pause after a checkpoint, so that a stream of commits does not keep it copying a few pages at a time. */
export const REST_MS = 10;

export interface CheckpointWorkerData {
  file: string;
  synchronous: 'NORMAL' | 'FULL';
  control: SharedArrayBuffer;
}
