import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { seededRandom, SqliteStore } from '../../src/fleet';
import type { CheckpointThreadOptions, SqliteStoreOptions } from '../../src/fleet';
import {
  CONTROL,
  IDLE_REST_MS,
  pagesCopied,
  REST_MS,
  restAfter,
  SMALL_RUN_PAGES,
} from '../../src/fleet/sqlite-checkpoint-control';
import { CATCH_UP_FACTOR, logBytes } from '../../src/fleet/sqlite-checkpoints';
import { waitFor } from '../helpers/http';

const DEVICES = 20_000;
const PAGE = 4096;
/** The log's pages at which the store resets the log itself, in these tests. */
const THREAD: CheckpointThreadOptions = { restartPages: 1000 };

const device = (i: number) => ({ productKey: 'pk1', deviceName: `d-${String(i).padStart(6, '0')}` });

/** A store of DEVICES devices, and a writer of reports from random devices, 64 a transaction. */
class RandomReports {
  readonly store: SqliteStore;
  /** Each device's last written version. */
  readonly versions = new Map<number, string>();
  /** The largest the log file has been after a commit. */
  largestLog = 0;
  private readonly random = seededRandom(14);
  private at = 0;

  constructor(
    readonly file: string,
    options: SqliteStoreOptions,
  ) {
    this.store = new SqliteStore(file, options);
    this.store.transaction(() => {
      for (let i = 0; i < DEVICES; i++) this.store.recordVersion(device(i), 'default', '1.0.0', 0);
    });
    for (let i = 0; i < DEVICES; i++) this.versions.set(i, '1.0.0');
  }

  /** Transactions of `reports` each, with a turn of the event loop between them (or `pauseMs`), as in Node-RED. */
  async write(transactions: number, reports = 64, pauseMs?: number): Promise<void> {
    for (let t = 0; t < transactions; t++) {
      await new Promise((r) => (pauseMs === undefined ? setImmediate(r) : setTimeout(r, pauseMs)));
      this.store.transaction(() => {
        for (let r = 0; r < reports; r++) {
          const i = Math.floor(this.random() * DEVICES);
          const version = `1.0.${++this.at}`;
          this.store.recordVersion(device(i), 'default', version, this.at);
          this.versions.set(i, version);
        }
      });
      this.largestLog = Math.max(this.largestLog, logBytes(`${this.file}-wal`));
    }
  }

  /** Every device at its last written version, read by another connection after close(). */
  shouldHoldEveryWrite(): void {
    const db = new Database(this.file, { readonly: true });
    try {
      should(db.pragma('integrity_check', { simple: true })).equal('ok');
      const rows = db.prepare('SELECT device_name AS name, version FROM devices').all() as {
        name: string;
        version: string;
      }[];
      should(rows.length).equal(DEVICES);
      const wrong = rows.filter((r) => this.versions.get(Number(r.name.slice(2))) !== r.version);
      should(wrong).eql([]);
    } finally {
      db.close();
    }
  }
}

/** A stand-in for the checkpoint worker: these lines after a view of the shared words as `ctl`. */
function standIn(dir: string, name: string, lines: string[]): string {
  const script = join(dir, name);
  const head = [
    "const { workerData } = require('node:worker_threads');",
    'const ctl = new Int32Array(workerData.control);',
  ];
  writeFileSync(script, [...head, ...lines, ''].join('\n'));
  return script;
}

describe('the SQLite store: who checkpoints its write-ahead log', function () {
  this.timeout(120_000);
  let dir: string;
  let file: string;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-checkpoints-'));
    file = join(dir, 'fleet.sqlite');
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a store that writes little checkpoints inside its commits and starts no thread', function () {
    // 20,000 devices at once (one checkpoint of SQLite's, then the log starts again), then reports.
    const writer = new RandomReports(file, {});
    const store = writer.store;
    try {
      for (let i = 0; i < 300; i++) store.transaction(() => store.recordVersion(device(i), 'default', '1.0.1', i));
      should(store.checkpointState).eql({ mode: 'inline', runs: 0, restarts: 0, catchUps: 0 });
    } finally {
      store.close();
    }
  });

  /** Writes until the store's thread has taken over (SQLite checkpointed twice within 10 s). */
  async function untilThread(writer: RandomReports): Promise<void> {
    for (let t = 0; writer.store.checkpointState?.mode !== 'thread'; t++) {
      if (t === 1000) throw new Error(`the thread did not take over: ${JSON.stringify(writer.store.checkpointState)}`);
      await writer.write(1);
    }
  }

  it('a busy store hands its checkpoints to a thread and resets the log at the mark', async function () {
    const writer = new RandomReports(file, { checkpointThread: THREAD });
    try {
      await untilThread(writer);
      writer.largestLog = 0;
      await writer.write(400);
      const state = writer.store.checkpointState;
      should(state).have.properties({ mode: 'thread' });
      should(state?.runs).be.above(0);
      should(state?.restarts).be.above(0);
      // Without the resets the log would hold every page of the 400 transactions (about 100 MB).
      should(writer.largestLog).be.below(8 * (THREAD.restartPages ?? 0) * PAGE);
    } finally {
      writer.store.close();
    }
    // The thread's connection closed last, after close() returned: its checkpoint removed the log.
    await writer.store.whenClosed();
    should(existsSync(`${file}-wal`)).be.false();
    writer.shouldHoldEveryWrite();
  });

  it('a thread that copies little rests longer: small commits cost a checkpoint every 100 ms or so, not every 10', async function () {
    const writer = new RandomReports(file, { checkpointThread: THREAD });
    try {
      await untilThread(writer);
      // Reports one at a time, a few pages each, about 500 a second.
      const runsBefore = writer.store.checkpointState?.runs ?? 0;
      const started = performance.now();
      await writer.write(500, 1, 1);
      const seconds = (performance.now() - started) / 1000;
      const perSecond = ((writer.store.checkpointState?.runs ?? 0) - runsBefore) / seconds;
      // Resting 10 ms after every run, the thread ran 85-88 times a second here; resting 100 ms
      // after a run of few pages (and 10 after the larger one that follows), 19-20.
      should(perSecond).be.below(40);
      should(writer.store.checkpointState?.mode).equal('thread');
    } finally {
      writer.store.close();
    }
    await writer.store.whenClosed();
    writer.shouldHoldEveryWrite();
  });

  it('a store whose thread falls behind (a slow disk) waits for a reset once the log passes 4 times the mark', async function () {
    // A thread that takes over and then never checkpoints, as one on a disk slower than the commits.
    const stalled = standIn(dir, 'stalls.js', [
      `Atomics.store(ctl, ${CONTROL.ready}, 1);`,
      `Atomics.wait(ctl, ${CONTROL.stop}, 0);`,
    ]);
    const writer = new RandomReports(file, { checkpointThread: { ...THREAD, workerFile: stalled } });
    try {
      await untilThread(writer);
      writer.largestLog = 0;
      await writer.write(200);
      const state = writer.store.checkpointState;
      should(state).have.properties({ mode: 'thread', runs: 0 });
      should(state?.catchUps).be.above(0);
      should(state?.restarts).equal(state?.catchUps);
      // CATCH_UP_FACTOR (4) marks and one transaction; without the wait, every page of the 200 (74 MB in a run).
      should(writer.largestLog).be.below((CATCH_UP_FACTOR + 1) * (THREAD.restartPages ?? 0) * PAGE);
    } finally {
      writer.store.close();
    }
    await writer.store.whenClosed();
    writer.shouldHoldEveryWrite();
  });

  it('a store whose checkpoint thread stops checkpoints inside its commits again', async function () {
    // A thread that takes over, then exits at the first commit it is told of.
    const failing = standIn(dir, 'exits.js', [
      `const seen = Atomics.load(ctl, ${CONTROL.commits});`,
      `Atomics.store(ctl, ${CONTROL.ready}, 1);`,
      `Atomics.wait(ctl, ${CONTROL.commits}, seen);`,
      'process.exit(3);',
    ]);
    const writer = new RandomReports(file, { checkpointThread: { ...THREAD, workerFile: failing } });
    try {
      const store = writer.store;
      await untilThread(writer);
      await waitFor('the store to notice the exit', async () => store.checkpointState?.failure, 10_000);
      should(store.checkpointState).eql({
        mode: 'inline',
        runs: 0,
        restarts: 0,
        catchUps: 0,
        failure: 'the checkpoint thread exited (code 3)',
      });
      writer.largestLog = 0;
      await writer.write(400);
      // SQLite's own checkpoint every 1000 pages again: the log stays near 4 MB.
      should(writer.largestLog).be.below(8 * 1024 * 1024);
      should(store.checkpointState?.mode).equal('inline');
    } finally {
      writer.store.close();
    }
    writer.shouldHoldEveryWrite();
  });
});

describe('the checkpoint thread: how long it rests', function () {
  it('counts the pages a checkpoint copied, all of them when the log started again in between', function () {
    should(pagesCopied({ log: 100, checkpointed: 40 }, { log: 180, checkpointed: 180 })).equal(140);
    should(pagesCopied({ log: 180, checkpointed: 180 }, { log: 12, checkpointed: 12 })).equal(12);
    should(pagesCopied({ log: 300, checkpointed: 300 }, { log: 300, checkpointed: 20 })).equal(20);
  });

  it(`rests ${REST_MS} ms after a run of ${SMALL_RUN_PAGES} pages or more, ${IDLE_REST_MS} ms after a smaller one`, function () {
    should(restAfter(SMALL_RUN_PAGES)).equal(REST_MS);
    should(restAfter(5000)).equal(REST_MS);
    should(restAfter(SMALL_RUN_PAGES - 1)).equal(IDLE_REST_MS);
    should(restAfter(0)).equal(IDLE_REST_MS);
  });
});
