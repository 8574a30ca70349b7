/**
 * Who checkpoints a SQLite store's write-ahead log (copies it into the database and syncs both
 * files): SQLite itself, every 1000 pages, inside the commit that crosses the mark, until the store
 * is busy (SQLite has started its log again twice within 10 s); from then a thread of its own
 * (sqlite-checkpoint-worker.ts).
 *
 * Why a thread: a checkpoint's two syncs block whoever runs it for milliseconds. Reports from
 * devices in random order dirty a page or more each, so a stream of them crosses the mark every
 * few transactions, and on Node-RED's thread those syncs took more of a state change's time than
 * the writes themselves (BENCHMARKS.md, section 1). A store that writes less never starts the
 * thread (starting one costs about 80 ms of CPU).
 *
 * A passive checkpoint on another connection cannot reset the log while commits keep coming, so
 * the log would grow as long as they do. When the thread reports more than `restartPages` in the
 * log, the store's own connection runs one RESTART checkpoint in a turn of the event loop of its
 * own, right after one of the thread's: most frames are copied by then, and the next commit starts
 * the log from its beginning again.
 *
 * On a disk slower than the commits (a busy or a cheap one), the thread's checkpoints and those
 * resets fall behind and the log would grow without end. Past CATCH_UP_FACTOR times the mark, the
 * store's connection therefore waits for the thread's checkpoint in hand and resets the log itself,
 * inside the commit, holding the event loop as SQLite's own checkpoint would: the log stays bounded,
 * and the writes go at the speed of the disk.
 */
import type Database from 'better-sqlite3';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CONTROL, CONTROL_WORDS, type CheckpointWorkerData } from './sqlite-checkpoint-control';

export interface CheckpointThreadOptions {
  /** Log pages after which the store's connection resets the log itself (16384: 64 MB of 4 KB pages). */
  restartPages?: number;
  /** The script the thread runs (sqlite-checkpoint-worker.js; a test gives one that fails). */
  workerFile?: string;
}

export type CheckpointMode = 'inline' | 'starting' | 'thread';

export interface CheckpointState {
  mode: CheckpointMode;
  /** Checkpoints the thread has run. */
  runs: number;
  /** Resets of the log by the store's connection. */
  restarts: number;
  /** Of those, the ones the store waited for because the log had passed CATCH_UP_FACTOR times the mark. */
  catchUps: number;
  /** Why the thread stopped and the store checkpoints itself again. */
  failure?: string;
}

const AUTO_PAGES = 1000;
/**
 * The log file's size kept after a reset while SQLite checkpoints by itself. One large transaction
 * (a million tasks written at once) grows the file to its size, 180 MB, and SQLite would keep it
 * until close() deletes it (120-170 ms to free); with this limit the first write after the
 * checkpoint cuts it back instead, and the file never stays larger than 4 MB between writes.
 */
const INLINE_LOG_LIMIT = 4 * 1024 * 1024;
const RESTART_PAGES = 16_384;
/** The log's size, in restart marks, past which the store waits for a reset (CheckpointState.catchUps). */
export const CATCH_UP_FACTOR = 4;
/** Commits between two looks at the log's header while SQLite checkpoints by itself. */
const LOOK_EVERY = 64;
/** A store is busy when SQLite has started its log again this many times within BUSY_WINDOW_MS. */
const BUSY_RESETS = 2;
const BUSY_WINDOW_MS = 10_000;
/** After close(), how long the thread has to close its connection before it is stopped anyway. */
const CLOSE_WAIT_MS = 10_000;

export class WalCheckpoints {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private readonly restartPages: number;
  private readonly pageSize: number;
  private readonly busyTimeout: number;
  private readonly workerFile: string;
  private thread: Worker | undefined;
  private commitsSinceLook = 0;
  /** The log's checkpoint sequence number at the start of the current window, and when that was. */
  private window: { sequence: number; at: number } | undefined;
  private mode: CheckpointMode = 'inline';
  /** Once the thread has failed, the store checkpoints itself for the rest of its life. */
  private failure: string | undefined;
  private restarts = 0;
  private catchUps = 0;
  /** The log file's size (bytes) past which the store waits for a reset. */
  private readonly catchUpBytes: number;
  /** That size, or more after a wait that could not reset the log (a reader of another process in the way). */
  private nextCatchUp: number;
  /** The thread's checkpoints counted at the last commit. */
  private runsSeen = 0;
  private restartTimer: NodeJS.Immediate | undefined;
  /** Resolves once the thread (if any) has closed its connection after close(). */
  finished: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly synchronous: 'NORMAL' | 'FULL',
    options: CheckpointThreadOptions = {},
  ) {
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
    this.busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
    this.restartPages = options.restartPages ?? RESTART_PAGES;
    this.workerFile = options.workerFile ?? join(__dirname, 'sqlite-checkpoint-worker.js');
    this.catchUpBytes = CATCH_UP_FACTOR * this.restartPages * this.pageSize;
    this.nextCatchUp = this.catchUpBytes;
    checkpointInline(db);
  }

  get state(): CheckpointState {
    return {
      mode: this.mode,
      runs: Atomics.load(this.ctl, CONTROL.runs),
      restarts: this.restarts,
      catchUps: this.catchUps,
      ...(this.failure ? { failure: this.failure } : {}),
    };
  }

  /** After each commit of the store's connection; never throws (the commit is done). */
  committed(): void {
    try {
      if (this.mode === 'thread') this.afterCommit();
      else if (this.mode === 'starting') this.whenStarted();
      else if (!this.failure && ++this.commitsSinceLook >= LOOK_EVERY) {
        this.commitsSinceLook = 0;
        if (this.busy()) this.start();
      }
    } catch (err) {
      this.fail(`the checkpoint thread: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Copies the log into the database soon (the thread) or now (the store's connection, passive). */
  checkpoint(): void {
    if (this.mode === 'thread') this.wake();
    else this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /**
   * Stops the thread, after the store's own connection is closed: the thread's connection is then
   * the last, and SQLite's last checkpoint and the removal of the log file (up to 64 MB: tens of
   * ms to free) happen on the thread, not on the event loop. `finished` says when.
   */
  close(): void {
    if (this.restartTimer) clearImmediate(this.restartTimer);
    this.restartTimer = undefined;
    const thread = this.stopThread();
    if (!thread) return;
    // A process that ends on its own waits for the thread's last checkpoint.
    thread.ref();
    this.finished = new Promise((resolve) => {
      const late = setTimeout(() => void thread.terminate(), CLOSE_WAIT_MS);
      late.unref();
      thread.once('exit', () => {
        clearTimeout(late);
        resolve();
      });
    });
  }

  private stopThread(): Worker | undefined {
    const thread = this.thread;
    if (!thread) return undefined;
    this.thread = undefined;
    Atomics.store(this.ctl, CONTROL.stop, 1);
    // A change of `commits` too: a thread between its look at `stop` and its wait still wakes.
    this.wake();
    Atomics.notify(this.ctl, CONTROL.stop);
    return thread;
  }

  /** Whether SQLite has started the log again BUSY_RESETS times within the window. */
  private busy(): boolean {
    const sequence = logSequence(`${this.file}-wal`);
    if (sequence === undefined) return false;
    const at = performance.now();
    if (!this.window || at - this.window.at > BUSY_WINDOW_MS) this.window = { sequence, at };
    return sequence - this.window.sequence >= BUSY_RESETS;
  }

  private start(): void {
    const data: CheckpointWorkerData = { file: this.file, synchronous: this.synchronous, control: this.ctl.buffer };
    const thread = new Worker(this.workerFile, { workerData: data });
    thread.unref();
    thread.on('message', (m: { failed?: string }) => this.fail(m.failed ?? 'the checkpoint thread failed'));
    thread.on('error', (err) => this.fail(err.message));
    thread.on('exit', (code) => {
      if (this.thread === thread) this.fail(`the checkpoint thread exited (code ${code})`);
    });
    this.thread = thread;
    this.mode = 'starting';
  }

  private whenStarted(): void {
    if (Atomics.load(this.ctl, CONTROL.failed)) return this.fail('the checkpoint thread could not open the store');
    if (!Atomics.load(this.ctl, CONTROL.ready)) return;
    // The thread checkpoints from now on; the log may grow to the restart mark between resets.
    this.db.pragma('wal_autocheckpoint = 0');
    this.db.pragma(`journal_size_limit = ${this.restartPages * this.pageSize}`);
    this.mode = 'thread';
    this.wake();
  }

  private afterCommit(): void {
    if (Atomics.load(this.ctl, CONTROL.failed)) return this.fail('a checkpoint failed in its thread');
    // Right after a checkpoint of the thread's, when least of the log is left to copy here (looked
    // at before waking the thread for the next one).
    const runs = Atomics.load(this.ctl, CONTROL.runs);
    if (runs !== this.runsSeen) {
      this.runsSeen = runs;
      if (Atomics.load(this.ctl, CONTROL.logFrames) >= this.restartPages) this.restartSoon();
    }
    const log = logBytes(`${this.file}-wal`);
    if (log >= this.nextCatchUp) this.catchUp(log);
    this.wake();
  }

  /**
   * The log has passed CATCH_UP_FACTOR times the mark: the thread's checkpoints and the resets do
   * not keep up with the commits. Waits (at most the store's busy timeout) for the checkpoint the
   * thread has in hand, then resets the log from the store's connection, blocking like SQLite's
   * own checkpoint inside a commit. A reset that is refused all the same (a reader in another
   * process, or the thread again first) is not tried again until the log has grown by one more mark.
   */
  private catchUp(log: number): void {
    const deadline = performance.now() + this.busyTimeout;
    // The thread's checkpoint lock makes SQLite answer busy at once, without its busy handler.
    while (Atomics.load(this.ctl, CONTROL.busy) === 1) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      Atomics.wait(this.ctl, CONTROL.busy, 1, left);
    }
    if (this.restart()) {
      this.catchUps++;
      this.nextCatchUp = this.catchUpBytes;
    } else {
      this.nextCatchUp = log + this.restartPages * this.pageSize;
    }
  }

  /** In a turn of the event loop of its own, not added to the commit's (a slice of a batch being created). */
  private restartSoon(): void {
    this.restartTimer ??= setImmediate(() => {
      this.restartTimer = undefined;
      const ready = this.mode === 'thread' && this.db.open && !this.db.inTransaction;
      // `busy` only spares a try: SQLite's checkpoint lock is what keeps the two apart.
      if (ready && !Atomics.load(this.ctl, CONTROL.busy)) this.restart();
    });
  }

  private wake(): void {
    Atomics.add(this.ctl, CONTROL.commits, 1);
    Atomics.notify(this.ctl, CONTROL.commits);
  }

  /**
   * Resets the log from the store's connection and answers whether it did; a reader or the
   * thread's checkpoint in the way defers it to a later commit. A failure (a full disk) hands the
   * checkpoints back to SQLite, which ignores its own checkpoints' errors: this runs in a timer or
   * after a commit, where a throw would end the process or fail a write that is already stored.
   */
  private restart(): boolean {
    try {
      this.db.pragma('busy_timeout = 0');
      const [result] = this.db.pragma('wal_checkpoint(RESTART)') as { busy: number }[];
      if (result.busy !== 0) return false;
      Atomics.store(this.ctl, CONTROL.logFrames, 0);
      this.restarts++;
      return true;
    } catch (err) {
      this.fail(`the log could not be reset: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    } finally {
      if (this.db.open) this.db.pragma(`busy_timeout = ${this.busyTimeout}`);
    }
  }

  /** The thread is gone: SQLite checkpoints inside the commits again, as for a store that writes less. */
  private fail(reason: string): void {
    if (this.failure || !this.db.open) return;
    this.failure = reason;
    void this.stopThread()?.terminate();
    this.mode = 'inline';
    try {
      checkpointInline(this.db);
    } catch {
      // The connection cannot take a pragma now; its next commit still checkpoints or fails on its own.
    }
  }
}

/** SQLite checkpoints inside the commits, every 1000 pages, and keeps the log file at 4 MB. */
export function checkpointInline(db: Database.Database): void {
  db.pragma(`wal_autocheckpoint = ${AUTO_PAGES}`);
  db.pragma(`journal_size_limit = ${INLINE_LOG_LIMIT}`);
}

/** The size of a file in bytes, 0 when there is none. */
export function logBytes(walFile: string): number {
  return statSync(walFile, { throwIfNoEntry: false })?.size ?? 0;
}

/**
 * The checkpoint sequence number in a write-ahead log's header (bytes 12-15, big-endian), which
 * SQLite adds one to each time it starts the log again after a checkpoint; undefined without a log.
 */
export function logSequence(walFile: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(walFile, 'r');
    const header = Buffer.alloc(4);
    return readSync(fd, header, 0, 4, 12) === 4 ? header.readUInt32BE(0) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
