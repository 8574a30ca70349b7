/**
 * Benchmark 7, the version distribution: `versionDistribution()` (what `Fleet.versions()`, the
 * editor's OTA tab and the admin API ask for) on a store of 1,000,000 device modules, read from
 * the counters the triggers keep, against the GROUP BY over every device it replaced, run in the
 * same process on a second connection to the same file (same page cache size), alternating.
 *
 * Then what the triggers cost on ingest: the store's T1 write (recordVersion) on the file and on a
 * copy with the triggers dropped, alternating, in transactions of 256 reports (a group commit
 * under load): reports that change the version (a rollout: each device once, to 9.0.0) and
 * reports that repeat the version a device has (a reboot), on the same devices in both files;
 * then the same on a store of 10,000 devices that stays in the page cache, where no disk read
 * hides what the triggers cost the CPU.
 * Last, migration 5 on the copy taken back to schema 4: the one-time count of every device.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, VersionCount } from '../src/fleet';
import { absolute, BenchOptions, BenchResult, info, log, main, num, Row, sig } from './lib/report';
import { median, now, summarize } from './lib/stats';

const NAME = 'versions';
const PRODUCTS = ['pk1', 'pk2', 'pk3', 'pk4'];
const MODULES = ['default', 'MCU'];
/** Devices per product: 4 products × 125,000 devices × 2 modules = 1,000,000 rows. */
const DEVICES = 125_000;
const VERSIONS = Array.from({ length: 12 }, (_, i) => `1.${i}.0`);
/** Reports per transaction: the most one group commit of the fleet takes. */
const GROUP = 256;
const TARGET_MS = 5;
/** Devices of the small store whose pages all stay in the cache: the triggers' CPU cost alone. */
const CACHED = 10_000;
const DROP_TRIGGERS =
  'DROP TRIGGER version_counts_insert; DROP TRIGGER version_counts_delete; DROP TRIGGER version_counts_update;';

const deviceName = (i: number): string => `d-${String(i).padStart(6, '0')}`;

/** A device module's starting version, skewed as fleets are: most devices on the first few versions. */
function versionOf(i: number, module: number): string {
  const r = (Math.imul(i * 2 + module + 1, 2654435761) >>> 0) / 4294967296;
  return VERSIONS[Math.floor(r * r * VERSIONS.length)];
}

/** One transaction of 1,000,000 T1 writes through the store (the triggers count each). */
function build(file: string): number {
  const store = new SqliteStore(file);
  const t = now();
  store.transaction(() => {
    for (const productKey of PRODUCTS)
      for (let i = 0; i < DEVICES; i++)
        for (const [m, module] of MODULES.entries())
          store.recordVersion({ productKey, deviceName: deviceName(i) }, module, versionOf(i, m), 1);
  });
  const ms = now() - t;
  store.close();
  return ms;
}

/** A second connection running the replaced query, with the store's page cache size. */
function groupBy(file: string) {
  const db = new Database(file, { readonly: true });
  db.pragma('cache_size = -16000');
  const all = db.prepare(
    `SELECT product_key AS productKey, module, version, COUNT(*) AS count FROM devices
     GROUP BY product_key, module, version ORDER BY product_key, module, count DESC, version`,
  );
  const one = db.prepare(
    `SELECT product_key AS productKey, module, version, COUNT(*) AS count FROM devices WHERE product_key = ?
     GROUP BY product_key, module, version ORDER BY product_key, module, count DESC, version`,
  );
  return {
    run: (productKey?: string) => (productKey ? one.all(productKey) : all.all()) as VersionCount[],
    close: () => db.close(),
  };
}

const timed = (fn: () => unknown): number => {
  const t = now();
  fn();
  return now() - t;
};

interface ReadTimes {
  ours: number[];
  baseline: number[];
  oursOne: number[];
  baselineOne: number[];
}

/** Rounds of `perRound` store calls then one GROUP BY, for all products and for one. */
function measureReads(store: SqliteStore, file: string, rounds: number, perRound: number): ReadTimes {
  const baseline = groupBy(file);
  try {
    const same = JSON.stringify(store.versionDistribution()) === JSON.stringify(baseline.run());
    const sameOne = JSON.stringify(store.versionDistribution('pk2')) === JSON.stringify(baseline.run('pk2'));
    if (!same || !sameOne) throw new Error('the counters differ from the GROUP BY: nothing to time');
    const times: ReadTimes = { ours: [], baseline: [], oursOne: [], baselineOne: [] };
    for (let r = 0; r < rounds; r++) {
      const productKey = PRODUCTS[r % PRODUCTS.length];
      for (let k = 0; k < perRound; k++) times.ours.push(timed(() => store.versionDistribution()));
      times.baseline.push(timed(() => baseline.run()));
      for (let k = 0; k < perRound; k++) times.oursOne.push(timed(() => store.versionDistribution(productKey)));
      times.baselineOne.push(timed(() => baseline.run(productKey)));
    }
    return times;
  } finally {
    baseline.close();
  }
}

interface Report {
  productKey: string;
  deviceName: string;
  module: string;
  version: string;
}

/** Microseconds per report for `reports` written in transactions of GROUP. */
function ingest(store: SqliteStore, reports: Report[]): number {
  const t = now();
  for (let i = 0; i < reports.length; i += GROUP) {
    store.transaction(() => {
      for (const r of reports.slice(i, i + GROUP))
        store.recordVersion({ productKey: r.productKey, deviceName: r.deviceName }, r.module, r.version, 2);
    });
  }
  return ((now() - t) * 1000) / reports.length;
}

/** Device modules in a seeded order, none twice: round r of each kind takes its own slice. */
function shuffledDevices(): { productKey: string; i: number; m: number }[] {
  const list: { productKey: string; i: number; m: number }[] = [];
  for (const productKey of PRODUCTS)
    for (let i = 0; i < DEVICES; i++) for (let m = 0; m < 2; m++) list.push({ productKey, i, m });
  let seed = 7;
  for (let k = list.length - 1; k > 0; k--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (k + 1);
    [list[k], list[j]] = [list[j], list[k]];
  }
  return list;
}

interface IngestTimes {
  changed: { ours: number[]; bare: number[] };
  same: { ours: number[]; bare: number[] };
}

/** The reports of round r: some that change the version, some that repeat it. */
type RoundReports = (r: number) => { changed: Report[]; same: Report[] };

/** Alternating rounds (ours first, then the bare copy first) of version changes and repeats. */
function compareIngest(ours: SqliteStore, bare: SqliteStore, rounds: number, reports: RoundReports): IngestTimes {
  const times: IngestTimes = { changed: { ours: [], bare: [] }, same: { ours: [], bare: [] } };
  for (let r = 0; r < rounds; r++) {
    const { changed, same } = reports(r);
    const pairs: [SqliteStore, number[], number[]][] = [
      [ours, times.changed.ours, times.same.ours],
      [bare, times.changed.bare, times.same.bare],
    ];
    if (r % 2 === 1) pairs.reverse();
    for (const [store, changedTimes, sameTimes] of pairs) {
      changedTimes.push(ingest(store, changed));
      sameTimes.push(ingest(store, same));
    }
  }
  return times;
}

/** At 1,000,000: each round its own devices, a rollout (to 9.0.0) and reboots (the version they have). */
function fleetRounds(perRound: number, rounds: number): RoundReports {
  const devices = shuffledDevices();
  const slice = (offset: number, version?: string): Report[] =>
    devices.slice(offset, offset + perRound).map((d) => ({
      productKey: d.productKey,
      deviceName: deviceName(d.i),
      module: MODULES[d.m],
      version: version ?? versionOf(d.i, d.m),
    }));
  return (r) => ({ changed: slice(r * perRound, '9.0.0'), same: slice((rounds + r) * perRound) });
}

/** A store of `n` devices all at 1.0.0, with the triggers or without. */
function smallStore(file: string, n: number, triggers: boolean): SqliteStore {
  const store = new SqliteStore(file);
  store.transaction(() => {
    for (let i = 0; i < n; i++)
      store.recordVersion({ productKey: 'pk1', deviceName: deviceName(i) }, 'default', '1.0.0', 1);
  });
  if (triggers) return store;
  store.close();
  const db = new Database(file);
  db.exec(DROP_TRIGGERS);
  db.close();
  return new SqliteStore(file);
}

/** On a store that fits in the page cache: all devices move to the next version, then all repeat it. */
function cachedRounds(n: number): RoundReports {
  const all = (version: string): Report[] =>
    Array.from({ length: n }, (_, i) => ({ productKey: 'pk1', deviceName: deviceName(i), module: 'default', version }));
  // Each store runs the changes first (to 1.0.r+1), then the repeats of that version.
  return (r) => ({ changed: all(`1.0.${r + 1}`), same: all(`1.0.${r + 1}`) });
}

/** The bare copy back at schema 4, then opened: migration 5 counts its devices once. */
function measureMigration(file: string): number {
  const db = new Database(file);
  db.exec('DROP TABLE version_counts');
  // Migration 6 (the task counters and index) is undone too: this store has no task, so the
  // migration measured is 5's count of the devices.
  db.exec(
    'DROP TRIGGER batch_counts_insert; DROP TRIGGER batch_counts_delete; DROP TRIGGER batch_counts_update; ' +
      'DROP TABLE batch_counts; DROP INDEX tasks_by_batch;',
  );
  db.pragma('user_version = 4');
  db.close();
  const t = now();
  new SqliteStore(file).close();
  return now() - t;
}

const ms = (value: number) => `${sig(value)} ms`;
const us = (value: number) => `${sig(value)} µs`;
const pairedMedian = (a: number[], b: number[]) => median(a.map((x, i) => x / b[i]));

export async function run(options: BenchOptions): Promise<BenchResult> {
  const rounds = options.quick ? 5 : 20;
  const perRound = 10;
  const ingestRounds = options.quick ? 4 : 10;
  const ingestPerRound = options.quick ? 2_560 : 10_240;
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-versions-'));
  try {
    const file = join(dir, 'fleet.sqlite');
    const copy = join(dir, 'bare.sqlite');
    const rows = PRODUCTS.length * DEVICES * MODULES.length;
    const buildMs = build(file);
    log(NAME, `${num(rows)} device modules written in ${sig(buildMs / 1000)} s`);

    const store = new SqliteStore(file);
    store.versionDistribution();
    const reads = measureReads(store, file, rounds, perRound);
    const counters = store.versionDistribution().length;
    store.close();
    const a = summarize(reads.ours);
    const b = summarize(reads.baseline);
    const a1 = summarize(reads.oursOne);
    const b1 = summarize(reads.baselineOne);
    log(NAME, `distribution: ours p50 ${ms(a.p50)} p99 ${ms(a.p99)}; GROUP BY p50 ${ms(b.p50)}`);

    copyFileSync(file, copy);
    const stripped = new Database(copy);
    stripped.exec(DROP_TRIGGERS);
    stripped.close();
    const ours = new SqliteStore(file);
    const bare = new SqliteStore(copy);
    const t = compareIngest(ours, bare, ingestRounds, fleetRounds(ingestPerRound, ingestRounds));
    ours.close();
    bare.close();
    const smallOurs = smallStore(join(dir, 'cached.sqlite'), CACHED, true);
    const smallBare = smallStore(join(dir, 'cached-bare.sqlite'), CACHED, false);
    const c = compareIngest(smallOurs, smallBare, options.quick ? 10 : 30, cachedRounds(CACHED));
    smallOurs.close();
    smallBare.close();
    const migrationMs = measureMigration(copy);
    log(NAME, `ingest and migration done (migration ${sig(migrationMs / 1000)} s)`);

    const changedRatio = pairedMedian(t.changed.ours, t.changed.bare);
    const sameRatio = pairedMedian(t.same.ours, t.same.bare);
    const ingestRow = (what: string, ours: number[], bare: number[]) =>
      info(
        NAME,
        what,
        us(median(ours)),
        `${us(median(bare))} (no triggers)`,
        `${pairedMedian(ours, bare).toFixed(2)}×`,
      );
    const faster = (x: number, y: number) => `${sig(x / y)}× faster`;
    const table: Row[] = [
      absolute(
        NAME,
        `versionDistribution() at ${num(rows)}, median of ${num(a.count)}`,
        ms(a.p50),
        `≤ ${TARGET_MS} ms per call`,
        a.p50 <= TARGET_MS,
        `${ms(b.p50)} (GROUP BY, ${b.count} calls)`,
        faster(b.p50, a.p50),
      ),
      absolute(
        NAME,
        'versionDistribution(), p99',
        ms(a.p99),
        `≤ ${TARGET_MS} ms per call`,
        a.p99 <= TARGET_MS,
        ms(b.p99),
        faster(b.p99, a.p99),
      ),
      absolute(
        NAME,
        `versionDistribution(productKey), 1 of ${PRODUCTS.length}, median / p99`,
        `${ms(a1.p50)} / ${ms(a1.p99)}`,
        `≤ ${TARGET_MS} ms per call`,
        a1.p99 <= TARGET_MS,
        `${ms(b1.p50)} / ${ms(b1.p99)}`,
        faster(b1.p50, a1.p50),
      ),
      ingestRow(`T1 changing the version, per report (${GROUP} per commit)`, t.changed.ours, t.changed.bare),
      ingestRow(`T1 repeating the version, per report (${GROUP} per commit)`, t.same.ours, t.same.bare),
      ingestRow(`the same, ${num(CACHED)} devices in the page cache: changing`, c.changed.ours, c.changed.bare),
      ingestRow('the same, in the page cache: repeating', c.same.ours, c.same.bare),
      info(NAME, `${num(rows)} device modules in one transaction`, `${sig(buildMs / 1000)} s`),
      info(NAME, 'migration 5 on that file (one count of every device)', `${sig(migrationMs / 1000)} s`),
    ];
    return {
      name: NAME,
      rows: table,
      details: {
        rows,
        counters,
        buildMs,
        migrationMs,
        reads,
        ingest: t,
        changedRatio,
        sameRatio,
        quick: options.quick,
      },
      notes: [
        `versions: the baseline is the GROUP BY the counters replaced, on a second connection to the same file; ingest ratios are ours ÷ the same file without triggers (median of alternating rounds of ${num(ingestPerRound)} reports).`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) main(run);
