/**
 * Who checkpoints a SQLite store's write-ahead log (copies it into the database and syncs both
 * files): SQLite itself, every 1000 pages, inside the commit that crosses the mark, until the store
 * has filled its log once; from then a thread of its own (sqlite-checkpoint-worker.ts).
 *
 * Why a thread: a checkpoint's two syncs block whoever runs it for milliseconds. Reports from
 * devices in random order dirty a page or more each, so a stream of them crosses the mark every
 * few transactions, and on Node-RED's thread those syncs took more of a state change's time than
 * the writes themselves (BENCHMARKS.md, section 1). A small store never fills the log and never
 * starts the thread (starting one costs about 80 ms of CPU).
 *
 * A passive checkpoint on another connection cannot reset the log while commits keep coming, so
 * the log would grow as long as they do. When the thread reports more than `restartPages` in the
 * log, the store's own connection runs one RESTART checkpoint in a turn of the event loop of its
 * own, right after one of the thread's: most frames are copied by then, and the next commit starts
 * the log from its beginning again.
 */
import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CONTROL, CONTROL_WORDS, type CheckpointWorkerData } from './sqlite-checkpoint-control';

export interface CheckpointThreadOptions {
  /** Log pages after which the thread starts (SQLite's automatic checkpoint mark: 1000). */
  afterPages?: number;
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
/** Commits between two looks at the log's size while SQLite checkpoints by itself. */
const LOOK_EVERY = 64;
/** The longest close() waits for the thread to finish a checkpoint and close its connection. */
const CLOSE_WAIT_MS = 5000;

export class WalCheckpoints {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private readonly afterBytes: number;
  private readonly restartPages: number;
  private readonly pageSize: number;
  private readonly busyTimeout: number;
  private readonly workerFile: string;
  private thread: Worker | undefined;
  private commitsSinceLook = 0;
  private mode: CheckpointMode = 'inline';
  /** Once the thread has failed, the store checkpoints itself for the rest of its life. */
  private failure: string | undefined;
  private restarts = 0;
  /** The thread's checkpoints counted at the last commit. */
  private runsSeen = 0;
  private restartTimer: NodeJS.Immediate | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly synchronous: 'NORMAL' | 'FULL',
    options: CheckpointThreadOptions = {},
  ) {
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
    this.busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
    this.afterBytes = (options.afterPages ?? AUTO_PAGES) * this.pageSize;
    this.restartPages = options.restartPages ?? RESTART_PAGES;
    this.workerFile = options.workerFile ?? join(__dirname, 'sqlite-checkpoint-worker.js');
    this.checkpointInline();
  }

  get state(): CheckpointState {
    return {
      mode: this.mode,
      runs: Atomics.load(this.ctl, CONTROL.runs),
      restarts: this.restarts,
      ...(this.failure ? { failure: this.failure } : {}),
    };
  }

  /** After each commit of the store's connection. */
  committed(): void {
    if (this.mode === 'thread') this.afterCommit();
    else if (this.mode === 'starting') this.whenStarted();
    else if (!this.failure && ++this.commitsSinceLook >= LOOK_EVERY) {
      this.commitsSinceLook = 0;
      if (this.logBytes() >= this.afterBytes) this.start();
    }
  }

  /** Copies the log into the database soon (the thread) or now (the store's connection, passive). */
  checkpoint(): void {
    if (this.mode === 'thread') this.wake();
    else this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** Stops the thread after the checkpoint it may be running; its connection is closed on return. */
  close(): void {
    if (this.restartTimer) clearImmediate(this.restartTimer);
    this.restartTimer = undefined;
    this.stopThread(true);
  }

  private stopThread(wait: boolean): void {
    const thread = this.thread;
    if (!thread) return;
    this.thread = undefined;
    Atomics.store(this.ctl, CONTROL.stop, 1);
    Atomics.notify(this.ctl, CONTROL.commits);
    Atomics.notify(this.ctl, CONTROL.stop);
    if (wait) Atomics.wait(this.ctl, CONTROL.closed, 0, CLOSE_WAIT_MS);
    void thread.terminate();
  }

  private checkpointInline(): void {
    this.db.pragma(`wal_autocheckpoint = ${AUTO_PAGES}`);
    this.db.pragma(`journal_size_limit = ${INLINE_LOG_LIMIT}`);
  }

  private logBytes(): number {
    return statSync(`${this.file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
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
    this.wake();
    // Right after a checkpoint of the thread's, when least of the log is left to copy here.
    const runs = Atomics.load(this.ctl, CONTROL.runs);
    if (runs === this.runsSeen) return;
    this.runsSeen = runs;
    if (Atomics.load(this.ctl, CONTROL.logFrames) >= this.restartPages) this.restartSoon();
  }

  /** In a turn of the event loop of its own, not added to the commit's (a slice of a batch being created). */
  private restartSoon(): void {
    this.restartTimer ??= setImmediate(() => {
      this.restartTimer = undefined;
      const ready = this.mode === 'thread' && this.db.open && !this.db.inTransaction;
      if (ready && !Atomics.load(this.ctl, CONTROL.busy)) this.restart();
    });
  }

  private wake(): void {
    Atomics.add(this.ctl, CONTROL.commits, 1);
    Atomics.notify(this.ctl, CONTROL.commits);
  }

  /** Resets the log from the store's connection; a reader or the thread's checkpoint in the way defers it to a later commit. */
  private restart(): void {
    this.db.pragma('busy_timeout = 0');
    try {
      const [result] = this.db.pragma('wal_checkpoint(RESTART)') as { busy: number }[];
      if (result.busy === 0) {
        Atomics.store(this.ctl, CONTROL.logFrames, 0);
        this.restarts++;
      }
    } finally {
      this.db.pragma(`busy_timeout = ${this.busyTimeout}`);
    }
  }

  /** The thread is gone: SQLite checkpoints inside the commits again, as for a small store. */
  private fail(reason: string): void {
    if (this.failure || !this.db.open) return;
    this.failure = reason;
    this.stopThread(false);
    this.mode = 'inline';
    this.checkpointInline();
  }
}
