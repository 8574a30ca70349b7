/**
 * The thread that checkpoints a busy SQLite store's write-ahead log (sqlite-checkpoints.ts starts
 * it): its own connection to the file, a passive checkpoint after the store's commits, at most one
 * per REST_MS while the log fills fast and one per IDLE_REST_MS while the commits are small
 * (restAfter). It never touches the event loop: it sleeps in `Atomics.wait` on the shared control
 * words and answers through them, so the store's thread can ask and stop it synchronously.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import {
  CONTROL,
  pagesCopied,
  restAfter,
  type CheckpointResult,
  type CheckpointWorkerData,
} from './sqlite-checkpoint-control';

function run({ file, synchronous, control }: CheckpointWorkerData): void {
  const ctl = new Int32Array(control);
  let db: Database.Database | undefined;
  try {
    // A store closed while this thread was starting: nothing to open (and its files may be going).
    if (Atomics.load(ctl, CONTROL.stop) !== 0) return;
    // Never a new, empty database where the store's file was removed.
    db = new Database(file, { fileMustExist: true });
    db.pragma(`synchronous = ${synchronous}`);
    // A checkpoint never waits for the store's writer: it copies what it can and tries again later.
    db.pragma('busy_timeout = 0');
    // Read before saying ready: a commit after that changes it, and the wait below returns.
    let seen = Atomics.load(ctl, CONTROL.commits);
    let last: CheckpointResult = { log: 0, checkpointed: 0 };
    Atomics.store(ctl, CONTROL.ready, 1);
    while (Atomics.load(ctl, CONTROL.stop) === 0) {
      Atomics.wait(ctl, CONTROL.commits, seen);
      if (Atomics.load(ctl, CONTROL.stop) !== 0) break;
      seen = Atomics.load(ctl, CONTROL.commits);
      Atomics.store(ctl, CONTROL.busy, 1);
      const [result] = db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[];
      Atomics.store(ctl, CONTROL.logFrames, result.log);
      Atomics.add(ctl, CONTROL.runs, 1);
      Atomics.store(ctl, CONTROL.busy, 0);
      // A store waiting for the log to be reset (a slow disk) goes on now.
      Atomics.notify(ctl, CONTROL.busy);
      // Rest, or wake at once to stop.
      const rest = restAfter(pagesCopied(last, result));
      last = result;
      Atomics.wait(ctl, CONTROL.stop, 0, rest);
    }
  } catch (err) {
    Atomics.store(ctl, CONTROL.failed, 1);
    parentPort?.postMessage({ failed: err instanceof Error ? err.message : String(err) });
  } finally {
    Atomics.store(ctl, CONTROL.busy, 0);
    Atomics.notify(ctl, CONTROL.busy);
    try {
      db?.close();
    } catch {
      Atomics.store(ctl, CONTROL.failed, 1);
    }
    Atomics.store(ctl, CONTROL.closed, 1);
    Atomics.notify(ctl, CONTROL.closed);
  }
}

run(workerData as CheckpointWorkerData);
