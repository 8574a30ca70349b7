/**
 * The fleet on PostgreSQL (ReplayedFleet over PgStore: every call a unit of work replayed inside
 * one transaction) against the fleet on SQLite (Fleet over SqliteStore, group commit), through
 * the same Fleet calls, and one process against two sharing the PostgreSQL fleet:
 *   createBatch      — a batch of DEVICES devices (on SQLite in one call, as on PostgreSQL);
 *   fan-out          — every task of that batch notified, by scheduler passes (ticks) of 500;
 *   T1 ingest        — the devices' success reports (T1 with the new version), all submitted at once;
 *   T3 ingest        — progress reports (a step within IN_PROGRESS), all submitted at once;
 *   T3, 1 vs 2 processes — the same progress reports split over one or two worker processes, each
 *                      with a ReplayedFleet of its own on the same database (wall time).
 * PostgreSQL is a durable cluster of the bench's own (fsync on) on 127.0.0.1. Ratios: SQLite's
 * rate over PostgreSQL's (how many times faster the embedded store is), and two processes over one.
 *   node build/bench/pg-fleet.js [--quick] [--devices=2000]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, ManualClock, ReplayedFleet, SqliteStore } from '../src/fleet';
import { PgStore } from '../src/fleet/pg-store';
import type { DeviceRef } from '../src/protocol';
import { Postgres } from '../test/helpers/postgres';
import { BenchOptions, BenchResult, info, log, main, Row, sig } from './lib/report';
import { now } from './lib/stats';

const NAME = 'pg-fleet';
const device = (i: number): DeviceRef => ({ productKey: 'pk', deviceName: `d-${String(i).padStart(6, '0')}` });

/** Either fleet, called the same way: one unit of work per call. */
interface Subject {
  ask<T>(fn: (fleet: Fleet) => T): Promise<T>;
  fleet: Fleet;
  close(): Promise<void>;
}

function sqliteSubject(dir: string): Subject {
  const fleet = new Fleet({
    store: new SqliteStore(join(dir, 'bench.sqlite')),
    clock: new ManualClock(),
    batchSliceSize: Infinity,
  });
  return { fleet, ask: async (fn) => fn(fleet), close: async () => fleet.close() };
}

function pgSubject(url: string): Subject {
  const replayed = new ReplayedFleet({ server: PgStore.open(url), clock: new ManualClock() });
  return { fleet: replayed.fleet, ask: (fn) => replayed.ask(fn), close: () => replayed.close() };
}

/** Devices at 1.0.0, a firmware 2.0.0, a batch of all of them (timed), every task notified (timed). */
async function prepare(s: Subject, devices: number): Promise<{ batchMs: number; pushMs: number; batchId: number }> {
  s.fleet.attachEgress('bench');
  for (let i = 0; i < devices; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, devices - i) }, (_, k) =>
        s.fleet.submitVersion(device(i + k), { version: '1.0.0', module: 'default' }),
      ),
    );
  }
  const fw = await s.ask((f) =>
    f.addFirmware({
      productKey: 'pk',
      module: 'default',
      version: '2.0.0',
      size: 1024,
      md5: 'a'.repeat(32),
      sha256: 'b'.repeat(64),
      signMethod: 'Md5',
      url: 'https://cdn.example.com/pk/2.0.0.bin',
      hosted: false,
      isDiff: false,
      verification: 'verified',
    }),
  );
  const t = now();
  const batch = await s.ask((f) =>
    f.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk' } }),
  );
  const batchMs = now() - t;
  const pushed = now();
  for (let pass = 0; pass < devices; pass++) {
    const counts = await s.ask((f) => {
      f.tick();
      return f.counts(batch.id);
    });
    if (counts.NOTIFIED === devices) break;
  }
  return { batchMs, pushMs: now() - pushed, batchId: batch.id };
}

/** Reports per second for one report per device, all submitted at once. */
async function ingest(s: Subject, devices: number, report: (d: DeviceRef) => Promise<unknown>): Promise<number> {
  const t = now();
  await Promise.all(Array.from({ length: devices }, (_, i) => report(device(i))));
  return devices / ((now() - t) / 1000);
}

/** Wall time of `workers` processes reporting T3 steps for their share of the devices. */
async function split(url: string, devices: number, workers: number, step: number): Promise<number> {
  const t = now();
  const per = Math.ceil(devices / workers);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const child = fork(
        join(__dirname, 'lib', 'pg-fleet-worker.js'),
        [url, String(w * per), String(Math.min(devices, (w + 1) * per)), String(step)],
        {
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        },
      );
      return new Promise<void>((ok, fail) => {
        child.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`worker ${w} exited ${code}`))));
      });
    }),
  );
  return devices / ((now() - t) / 1000);
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const devicesArg = options.args.find((a) => a.startsWith('--devices='));
  const devices = devicesArg ? Number(devicesArg.slice(10)) : options.quick ? 500 : 2000;
  const loadBefore = loadavg()[0];
  const pg = await Postgres.start({ durable: true });
  if (!pg) throw new Error('PostgreSQL is not installed (Debian: apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-pg-fleet-'));
  try {
    const figures: Record<string, { sqlite?: number; pg?: number }> = {};
    const put = (k: string, side: 'sqlite' | 'pg', v: number) => ((figures[k] ??= {})[side] = v);

    const sqlite = sqliteSubject(dir);
    const sq = await prepare(sqlite, devices);
    put('batch', 'sqlite', sq.batchMs);
    put('push', 'sqlite', devices / (sq.pushMs / 1000));
    put(
      'T3',
      'sqlite',
      await ingest(sqlite, devices, (d) => sqlite.fleet.submitProgress(d, { step: 10, module: 'default' })),
    );
    put(
      'T1',
      'sqlite',
      await ingest(sqlite, devices, (d) => sqlite.fleet.submitVersion(d, { version: '2.0.0', module: 'default' })),
    );
    await sqlite.close();
    log(NAME, `SQLite done (${devices} devices)`);

    const url = pg.createDatabase('fleet');
    const postgres = pgSubject(url);
    const pp = await prepare(postgres, devices);
    put('batch', 'pg', pp.batchMs);
    put('push', 'pg', devices / (pp.pushMs / 1000));
    put(
      'T3',
      'pg',
      await ingest(postgres, devices, (d) => postgres.fleet.submitProgress(d, { step: 10, module: 'default' })),
    );
    await postgres.close();
    const one = await split(url, devices, 1, 20);
    const two = await split(url, devices, 2, 30);
    const last = pgSubject(url);
    put(
      'T1',
      'pg',
      await ingest(last, devices, (d) => last.fleet.submitVersion(d, { version: '2.0.0', module: 'default' })),
    );
    await last.close();
    log(NAME, 'PostgreSQL done');

    const rows: Row[] = [
      row('createBatch', `a batch of ${devices} devices`, figures.batch, 'ms', false),
      row('fan-out', 'the batch notified, scheduler passes of 500', figures.push, 'notices/s', true),
      row('T3 ingest', 'progress reports, all at once', figures.T3, 'reports/s', true),
      row('T1 ingest', 'success reports, all at once', figures.T1, 'reports/s', true),
      info(
        NAME,
        'T3, 1 vs 2 processes (PostgreSQL)',
        `${sig(two)} reports/s (two)`,
        `${sig(one)} reports/s (one)`,
        `${(two / one).toFixed(2)}×`,
      ),
    ];
    return {
      name: NAME,
      rows,
      details: { devices, figures, oneProcess: one, twoProcesses: two, loadBefore, loadAfter: loadavg()[0] },
      notes: [
        `pg-fleet: ${devices} devices; PostgreSQL durable (fsync on) on this machine; load ${loadBefore.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
        'pg-fleet: the two worker processes share the machine\u2019s cores with PostgreSQL',
      ],
    };
  } finally {
    pg.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A row of PostgreSQL against SQLite: `rate` (more is better) or a time (less is better). */
function row(metric: string, what: string, f: { sqlite?: number; pg?: number }, unit: string, rate: boolean): Row {
  const s = f.sqlite ?? NaN;
  const p = f.pg ?? NaN;
  const ratio = rate ? s / p : p / s;
  return info(
    NAME,
    `${metric}: ${what}`,
    `${sig(p)} ${unit} (PostgreSQL)`,
    `${sig(s)} ${unit} (SQLite)`,
    `SQLite ${ratio.toFixed(1)}× faster`,
  );
}

main(run);
