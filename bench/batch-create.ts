/**
 * Benchmark 2, batch creation: a batch for ALL of 100,000 devices, created and persisted by the
 * fleet (Fleet + SqliteStore on a temp file), timed, with the resident memory it takes.
 *
 * The inventory is written first (one transaction of store.recordVersion), then a fresh child
 * process (`node --expose-gc build/bench/batch-create.js --measure …`) opens the fleet, collects
 * garbage, and creates the batch, so neither the parent's heap nor the inventory load distorts
 * the memory figures: peak = the process's maxRSS after creation minus its RSS before; retained
 * = RSS after a full collection minus RSS before. The baseline, in the same child, is the storage
 * floor: the same 100,000 task rows made by one SQL statement (INSERT … SELECT from the devices
 * table) in one transaction on a copy of the same file.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Fleet, ManualClock, SqliteStore } from '../src/fleet';
import { absolute, BenchOptions, BenchResult, info, log, main, num, RESULT_MARK, sig } from './lib/report';
import { addFirmware2, recordDevices } from './lib/fleet';
import { childFlags } from './lib/net';
import { collect, MiB, now, peakRss, rss } from './lib/stats';

const NAME = 'batch-create';
const PRODUCT = 'pk1';

interface Measured {
  tasks: number;
  ms: number;
  rssBefore: number;
  peakAfter: number;
  rssAfter: number;
  retainedAfterGc: number;
  heapBefore: number;
  heapAfterGc: number;
  baselineMs: number;
  baselineRows: number;
}

/** Writes the inventory: `n` devices at 1.0.0, and a verified firmware 2.0.0 at an external URL. */
function prepare(file: string, n: number): string {
  const fleet = new Fleet({
    store: new SqliteStore(file),
    clock: new ManualClock(),
    settings: { requireVerification: false },
  });
  recordDevices(fleet, PRODUCT, n);
  const firmware = addFirmware2(fleet, PRODUCT);
  fleet.close();
  return firmware.id;
}

/** In the child: the batch, timed and weighed; then the storage floor on a copy. */
function measure(file: string, copy: string, firmwareId: string): Measured {
  const fleet = new Fleet({
    store: new SqliteStore(file),
    clock: new ManualClock(),
    settings: { requireVerification: false },
    // The whole batch in one unit of work, against the storage floor; a large batch is normally
    // created a slice per turn instead (its stalls: bench/stalls.ts).
    batchSliceSize: Infinity,
  });
  fleet.attachEgress('push');
  collect();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = rss();
  const t0 = now();
  const batch = fleet.createBatch({ firmwareId, targets: { selection: 'ALL', productKey: PRODUCT } });
  const ms = now() - t0;
  const peakAfter = peakRss();
  const rssAfter = rss();
  const tasks = batch.counts.QUEUED;
  collect();
  const retainedAfterGc = rss();
  const heapAfterGc = process.memoryUsage().heapUsed;
  fleet.close();

  const db = new Database(copy);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insert = db.prepare(
    `INSERT INTO tasks (batch_id, product_key, device_name, module, src_version, state, reason, step, attempts, retries, wave, due_at, started_at, created_at, updated_at)
     SELECT 1, product_key, device_name, module, version, 'QUEUED', NULL, NULL, 0, 0, 0, 1, NULL, 1, 1 FROM devices
     WHERE product_key = ? AND module = 'default' AND version <> '2.0.0'`,
  );
  const t1 = now();
  const baselineRows = db.transaction(() => insert.run(PRODUCT).changes)();
  const baselineMs = now() - t1;
  db.close();
  return {
    tasks,
    ms,
    rssBefore,
    peakAfter,
    rssAfter,
    retainedAfterGc,
    heapBefore,
    heapAfterGc,
    baselineMs,
    baselineRows,
  };
}

function runChild(file: string, copy: string, firmwareId: string): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...childFlags(), '--expose-gc', __filename, '--measure', file, copy, firmwareId],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code !== 0 || !line) return reject(new Error(`the measuring child exited with ${code}: ${out}`));
      resolve(JSON.parse(line.slice(RESULT_MARK.length)) as Measured);
    });
  });
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const n = 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-batch-'));
  try {
    const file = join(dir, 'fleet.sqlite');
    const copy = join(dir, 'floor.sqlite');
    let t = now();
    const firmwareId = prepare(file, n);
    copyFileSync(file, copy);
    log(NAME, `inventory of ${num(n)} devices written in ${sig((now() - t) / 1000)} s`);
    t = now();
    const m = await runChild(file, copy, firmwareId);
    log(NAME, `child done in ${sig((now() - t) / 1000)} s`);
    const peakPerTask = (m.peakAfter - m.rssBefore) / m.tasks;
    const retainedPerTask = (m.retainedAfterGc - m.rssBefore) / m.tasks;
    const rows = [
      absolute(
        NAME,
        `create + persist ${num(m.tasks)} tasks`,
        `${sig(m.ms / 1000)} s`,
        '≤ 2 s',
        m.ms <= 2000 && m.tasks === n,
        `${sig(m.baselineMs / 1000)} s`,
        `${sig(m.ms / m.baselineMs)}× floor`,
      ),
      absolute(NAME, 'resident memory per task, peak', `${num(peakPerTask)} B`, '≤ 1024 B', peakPerTask <= 1024),
      info(
        NAME,
        'per task after GC: RSS / JS heap retained',
        `${num(retainedPerTask)} / ${num((m.heapAfterGc - m.heapBefore) / m.tasks)} B`,
      ),
    ];
    return {
      name: NAME,
      rows,
      details: {
        ...m,
        peakPerTask,
        retainedPerTask,
        rssBeforeMiB: m.rssBefore / MiB,
        peakMiB: m.peakAfter / MiB,
        quick: options.quick,
      },
      notes: [
        'batch-create baseline: the same task rows made by one INSERT … SELECT in SQLite (the storage floor); the ratio is ours ÷ floor time.',
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [mode, file, copy, firmwareId] = process.argv.slice(2);
  if (mode === '--measure') process.stdout.write(`${RESULT_MARK}${JSON.stringify(measure(file, copy, firmwareId))}\n`);
  else main(run);
}
