/**
 * Not one of the benchmarks `npm run bench` runs: measurements behind the recommendations in BENCHMARKS.md, on
 * the domain alone (Fleet + SqliteStore, no Node-RED), each variant and its reference in the same
 * process:
 *   1. group commit — the ingest phases with 1, 16 and 128 reports per transaction (possible
 *      today by nesting: reports inside one `fleet.run` share its unit of work);
 *   2. the active-task lookup — store.activeTask's statement against the same query served by a
 *      partial index (created on this temp file only);
 *   3. the per-transaction floor — an empty transaction and a one-row UPDATE, alone and 64 per
 *      transaction;
 *   4. fan-out — scheduler passes (fleet.tick) for a hosted firmware, its URL signed per notice
 *      (today) or once per firmware and second (a caching PackageHost passed to the fleet).
 *   5. a pass of notices on the store alone — 2 × devices QUEUED tasks read by `dueTasks` 500 at
 *      a time and saved task by task (`saveTask` with its transition) or as one uniform change
 *      (`saveUniformChange`), a fresh file for each, alternating over 5 rounds (medians).
 *   6. a state change's writes alone — the store calls of a report that changes a task's state
 *      (NOTIFIED → IN_PROGRESS: the task and its transition; IN_PROGRESS → SUCCEEDED: those and
 *      the device's new version), prepared beforehand and made 64 per transaction, a turn of the
 *      event loop between transactions: the most reports a second a thread doing nothing but these
 *      writes could carry. Devices in name order and in a random order, with the log's checkpoints
 *      on their thread (the default) and inside the commits (`checkpointThread: false`),
 *      alternating over 3 rounds (medians).
 * Bytes written to storage per report come from /proc/self/io (write_bytes).
 *   node build/bench/what-if.js [--devices=10000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  appliedOrRefused,
  descriptorFor,
  FirmwareHost,
  Fleet,
  PackageFiles,
  PackageHost,
  seededRandom,
  shuffled,
  SqliteStore,
  uniformChange,
} from '../src/fleet';
import type { Firmware, NewTask, Task, TaskPatch } from '../src/fleet';
import { buildUpgradeNotice } from '../src/protocol';
import { info, log, main, Row, sig } from './lib/report';
import { addFirmware2, deviceName, recordDevices } from './lib/fleet';
import { median, now } from './lib/stats';
import { insertBatch, newTask } from '../test/fleet/task-rows';

const NAME = 'what-if';
const DEVICE = (i: number) => ({ productKey: 'pk', deviceName: deviceName(i) });

/** Bytes this process has caused to be written to storage (Linux /proc/self/io). */
function writtenBytes(): number {
  try {
    return Number(/^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

interface Timed {
  us: number;
  cpu: number;
  /** Bytes written to storage per call. */
  bytes: number;
}

/** Runs `fn` for 0..n-1, `group` calls per unit of work; returns µs per call (wall), CPU share and bytes written. */
function timed(fleet: Fleet, n: number, group: number, fn: (i: number) => void): Timed {
  const cpu0 = process.cpuUsage();
  const w0 = writtenBytes();
  const t = now();
  for (let i = 0; i < n; i += group) {
    fleet.run(() => {
      for (let j = i; j < Math.min(n, i + group); j++) fn(j);
    });
  }
  const ms = now() - t;
  const cpu = process.cpuUsage(cpu0);
  return { us: (ms * 1000) / n, cpu: (cpu.user + cpu.system) / 1000 / ms, bytes: (writtenBytes() - w0) / n };
}

function ingest(n: number, group: number): Record<string, Timed> {
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-whatif-'));
  const fleet = new Fleet({
    store: new SqliteStore(join(dir, 'fleet.sqlite')),
    settings: { requireVerification: false },
    // Each batch is complete when createBatch returns (not a slice at a time).
    batchSliceSize: Infinity,
  });
  try {
    fleet.attachEgress('push');
    const out: Record<string, Timed> = {};
    out['T1 new'] = timed(fleet, n, group, (i) =>
      fleet.reportVersion(DEVICE(i), { version: '1.0.0', module: 'default' }),
    );
    const fw = addFirmware2(fleet, 'pk');
    const batch = fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk' } });
    while (fleet.counts(batch.id).QUEUED > 0) fleet.tick();
    out['T3 start'] = timed(fleet, n, group, (i) => fleet.reportProgress(DEVICE(i), { step: 10, module: 'default' }));
    out['T3 step'] = timed(fleet, n, group, (i) => fleet.reportProgress(DEVICE(i), { step: 60, module: 'default' }));
    out['T1 done'] = timed(fleet, n, group, (i) =>
      fleet.reportVersion(DEVICE(i), { version: '2.0.0', module: 'default' }),
    );
    return out;
  } finally {
    fleet.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function lookups(n: number): {
  current: number;
  partialIndex: number;
  primaryKey: number;
  emptyTxn: number;
  update1: number;
  update64: number;
} {
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-whatif-'));
  const file = join(dir, 'fleet.sqlite');
  const fleet = new Fleet({
    store: new SqliteStore(file),
    settings: { requireVerification: false },
    batchSliceSize: Infinity,
  });
  try {
    recordDevices(fleet, 'pk', n);
    const fw = addFirmware2(fleet, 'pk');
    fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk' } });
    const per = (fn: (i: number) => void) => {
      for (let i = 0; i < Math.min(n, 2000); i++) fn(i); // warm
      const t = now();
      for (let i = 0; i < n; i++) fn(i);
      return ((now() - t) * 1000) / n;
    };
    const current = per((i) => fleet.store.activeTask(DEVICE(i), 'default'));
    fleet.close();
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(
      "CREATE INDEX tasks_active ON tasks (product_key, device_name, module, id) WHERE state IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS')",
    );
    const active = db.prepare(
      "SELECT * FROM tasks WHERE product_key = ? AND device_name = ? AND module = ? AND state IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS') ORDER BY id DESC LIMIT 1",
    );
    const partialIndex = per((i) => active.get('pk', DEVICE(i).deviceName, 'default'));
    const version = db.prepare('SELECT version FROM devices WHERE product_key = ? AND device_name = ? AND module = ?');
    const primaryKey = per((i) => version.get('pk', DEVICE(i).deviceName, 'default'));
    const empty = db.transaction(() => undefined);
    const emptyTxn = per(() => empty());
    const update = db.prepare('UPDATE tasks SET updated_at = ? WHERE id = ?');
    const one = db.transaction((i: number) => update.run(i, i + 1));
    const update1 = per((i) => one(i));
    const many = db.transaction((i: number) => {
      for (let j = i; j < i + 64 && j < n; j++) update.run(j, j + 1);
    });
    const t = now();
    for (let i = 0; i < n; i += 64) many(i);
    const update64 = ((now() - t) * 1000) / n;
    db.close();
    return { current, partialIndex, primaryKey, emptyTxn, update1, update64 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** µs per task of notifying `n` QUEUED tasks in passes of 500 on a fresh store: task by task, or uniform. */
function notifyPasses(n: number, uniform: boolean): number {
  const dir = mkdtempSync(join(tmpdir(), 'ota-whatif-pass-'));
  const store = new SqliteStore(join(dir, 'fleet.sqlite'));
  try {
    const batchId = insertBatch(store);
    const task = (i: number): NewTask => ({ ...newTask(batchId, deviceName(i), 'QUEUED'), dueAt: 1 });
    store.transaction(() => store.insertTasks(Array.from({ length: n }, (_, i) => task(i))));
    const at = 1_000;
    const dueAt = at + 60_000;
    // Each task through the state table, as the scheduler's pass does; saved task by task or as one change.
    const notify = (t: Task) => appliedOrRefused(t, 'notify', { attempts: t.attempts + 1, dueAt }, at);
    const t0 = now();
    for (let done = 0; done < n;) {
      done += store.transaction(() => {
        const due = store.dueTasks(batchId, 'QUEUED', at, 500);
        const applied = due.map(notify);
        const change = uniform
          ? uniformChange(
              due,
              applied.map((a) => a.task),
            )
          : undefined;
        if (change) store.saveUniformChange(change);
        else for (const a of applied) store.saveTask(a.task, a.transition);
        return due.length;
      });
    }
    return ((now() - t0) * 1000) / n;
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Writes {
  started: number;
  succeeded: number;
}

/**
 * µs per report of a state change's store writes alone, 64 per transaction, on a fresh store of
 * `n` devices, in the order of their names or in a random one, the checkpoints on their thread or not.
 */
async function writesAlone(n: number, order: 'name' | 'random', thread: boolean): Promise<Writes> {
  const dir = mkdtempSync(join(tmpdir(), 'ota-whatif-writes-'));
  const store = new SqliteStore(join(dir, 'fleet.sqlite'), thread ? {} : { checkpointThread: false });
  try {
    const batchId = insertBatch(store);
    store.transaction(() => {
      for (let i = 0; i < n; i++)
        store.recordVersion({ productKey: 'pk1', deviceName: deviceName(i) }, 'default', '1.0.0', 1);
      store.insertTasks(
        Array.from({ length: n }, (_, i) => ({ ...newTask(batchId, deviceName(i), 'NOTIFIED'), dueAt: 2 })),
      );
    });
    const notified = store.dueTasks(batchId, 'NOTIFIED', Infinity, n);
    const next = (tasks: Task[], event: 'progress' | 'succeed', patch: TaskPatch, at: number) =>
      tasks.map((t) => appliedOrRefused(t, event, patch, at));
    const started = next(notified, 'progress', { step: 10, startedAt: 3, dueAt: 60_003 }, 3);
    const succeeded = next(
      started.map((a) => a.task),
      'succeed',
      { step: 100 },
      4,
    );
    const indices = Array.from({ length: n }, (_, i) => i);
    const sequence = order === 'name' ? indices : shuffled(indices, seededRandom(n));
    const time = async (write: (i: number) => void) => {
      const t0 = now();
      for (let i = 0; i < n; i += 64) {
        store.transaction(() => {
          for (let j = i; j < Math.min(n, i + 64); j++) write(sequence[j]);
        });
        await new Promise((r) => setImmediate(r));
      }
      return ((now() - t0) * 1000) / n;
    };
    return {
      started: await time((i) => store.saveTask(started[i].task, started[i].transition)),
      succeeded: await time((i) => {
        store.saveTask(succeeded[i].task, succeeded[i].transition);
        store.recordVersion({ productKey: 'pk1', deviceName: deviceName(i) }, 'default', '2.0.0', 4);
      }),
    };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A PackageHost that signs a firmware's URL once per second instead of once per notice. */
function cachingHost(host: FirmwareHost): PackageHost {
  let key = '';
  let url = '';
  return {
    signedUrl(firmware, at) {
      const k = `${firmware.id}:${Math.floor(at / 1000)}`;
      if (k !== key) {
        key = k;
        url = host.signedUrl(firmware, at);
      }
      return url;
    },
    readBlock: (firmware, offset, size) => host.readBlock(firmware, offset, size),
    signature: (firmware) => host.signature(firmware),
  };
}

async function fanout(n: number): Promise<{ signed: number; cached: number; signOnly: number; buildOnly: number }> {
  const perNotice = async (cache: boolean): Promise<number> => {
    const dir = mkdtempSync(join(tmpdir(), 'ota-bench-whatif-'));
    const files = new PackageFiles(join(dir, 'files'));
    const host = new FirmwareHost(files, {
      fleetId: 'f',
      publicUrl: 'http://192.0.2.10:1880',
      secret: 's'.repeat(64),
      expiryHours: 24,
    });
    const fleet = new Fleet({
      store: new SqliteStore(join(dir, 'fleet.sqlite')),
      host: cache ? cachingHost(host) : host,
      settings: { requireVerification: false },
      batchSliceSize: Infinity,
    });
    try {
      fleet.attachEgress('push');
      recordDevices(fleet, 'pk', n);
      const digest = await files.save(Buffer.alloc(4096, 1), 1 << 20);
      const fw = addFirmware2(fleet, 'pk', digest);
      // A hosted package keeps 400 devices in flight by default; nobody downloads here.
      const batch = fleet.createBatch({
        firmwareId: fw.id,
        targets: { selection: 'ALL', productKey: 'pk' },
        strategy: { maximumInFlight: n },
      });
      const t = now();
      while (fleet.counts(batch.id).QUEUED > 0) fleet.tick();
      return ((now() - t) * 1000) / n;
    } finally {
      fleet.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const signed = await perNotice(false);
  const cached = await perNotice(true);
  const host = new FirmwareHost(new PackageFiles(mkdtempSync(join(tmpdir(), 'ota-bench-whatif-'))), {
    fleetId: 'f',
    publicUrl: 'http://192.0.2.10:1880',
    secret: 's'.repeat(64),
    expiryHours: 24,
  });
  rmSync(host.files.dir, { recursive: true, force: true });
  const fw = {
    id: 'abcdef012345',
    version: '2.0.0',
    size: 4096,
    md5: 'c'.repeat(32),
    sha256: 'd'.repeat(64),
    signMethod: 'SHA256',
    module: 'default',
    hosted: true,
  } as Firmware;
  let t = now();
  for (let i = 0; i < n; i++) host.signedUrl(fw, Date.now());
  const signOnly = ((now() - t) * 1000) / n;
  const descriptor = descriptorFor(fw, undefined, host, Date.now());
  t = now();
  for (let i = 0; i < n; i++) buildUpgradeNotice(descriptor, i);
  const buildOnly = ((now() - t) * 1000) / n;
  return { signed, cached, signOnly, buildOnly };
}

main(async (options) => {
  const n = Number(options.args.find((a) => a.startsWith('--devices='))?.slice(10) ?? (options.quick ? 3000 : 10_000));
  const rows: Row[] = [];
  const groups = [1, 16, 128];
  const results: Record<number, Record<string, Timed>> = {};
  for (const g of groups) {
    results[g] = ingest(n, g);
    log(
      NAME,
      `${g} per transaction: ${Object.entries(results[g])
        .map(([k, v]) => `${k} ${sig(v.us)} µs (CPU ${Math.round(v.cpu * 100)} %, ${sig(v.bytes / 1024)} KiB written)`)
        .join(', ')}`,
    );
  }
  for (const phase of Object.keys(results[1])) {
    const base = results[1][phase].us;
    rows.push(
      info(
        NAME,
        `${phase}: µs per report at 1 / 16 / 128 per transaction`,
        `${groups.map((g) => sig(results[g][phase].us)).join(' / ')} µs`,
        `${sig(base)} µs`,
        groups.map((g) => `${(base / results[g][phase].us).toFixed(1)}×`).join(' / '),
      ),
    );
  }
  for (const phase of Object.keys(results[1])) {
    rows.push(
      info(
        NAME,
        `${phase}: KiB written per report at 1 / 16 / 128 per transaction`,
        groups.map((g) => sig(results[g][phase].bytes / 1024)).join(' / '),
      ),
    );
  }
  const l = lookups(n);
  rows.push(
    info(
      NAME,
      'activeTask: current statement vs partial index',
      `${sig(l.partialIndex)} µs`,
      `${sig(l.current)} µs`,
      `${(l.current / l.partialIndex).toFixed(1)}×`,
    ),
  );
  rows.push(info(NAME, 'primary-key lookup (devices), for scale', `${sig(l.primaryKey)} µs`));
  rows.push(
    info(
      NAME,
      'empty transaction; 1-row UPDATE alone / 64 per txn',
      `${sig(l.emptyTxn)}; ${sig(l.update1)} / ${sig(l.update64)} µs`,
    ),
  );
  const f = await fanout(n);
  rows.push(
    info(
      NAME,
      'fan-out pass: µs per notice, URL signed per notice vs cached',
      `${sig(f.cached)} µs`,
      `${sig(f.signed)} µs`,
      `${(f.signed / f.cached).toFixed(2)}×`,
    ),
  );
  rows.push(
    info(NAME, 'per notice: HMAC URL signing; buildUpgradeNotice', `${sig(f.signOnly)}; ${sig(f.buildOnly)} µs`),
  );
  const byTask: number[] = [];
  const asOne: number[] = [];
  for (let round = 0; round < 5; round++) {
    byTask.push(notifyPasses(2 * n, false));
    asOne.push(notifyPasses(2 * n, true));
  }
  const pass = { byTask: median(byTask), uniform: median(asOne) };
  rows.push(
    info(
      NAME,
      'a pass of 500 notices on the store: µs per task, uniform change vs task by task',
      `${sig(pass.uniform)} µs`,
      `${sig(pass.byTask)} µs`,
      `${(pass.byTask / pass.uniform).toFixed(2)}×`,
    ),
  );
  const variants = {
    name: { thread: [] as Writes[], inline: [] as Writes[] },
    random: { thread: [] as Writes[], inline: [] as Writes[] },
  };
  for (let round = 0; round < 3; round++)
    for (const order of ['name', 'random'] as const) {
      variants[order].thread.push(await writesAlone(2 * n, order, true));
      variants[order].inline.push(await writesAlone(2 * n, order, false));
    }
  const medians = (runs: Writes[]): Writes => ({
    started: median(runs.map((a) => a.started)),
    succeeded: median(runs.map((a) => a.succeeded)),
  });
  const writes = {
    name: { thread: medians(variants.name.thread), inline: medians(variants.name.inline) },
    random: { thread: medians(variants.random.thread), inline: medians(variants.random.inline) },
  };
  for (const order of ['name', 'random'] as const) {
    const { thread, inline } = writes[order];
    rows.push(
      info(
        NAME,
        `a state change's writes alone, 64 per txn, ${order} order: µs per report (N→IP; IP→SUCCEEDED), checkpoint thread vs inside the commits`,
        `${sig(thread.started)}; ${sig(thread.succeeded)} µs`,
        `${sig(inline.started)}; ${sig(inline.succeeded)} µs`,
        `${(inline.started / thread.started).toFixed(2)}×; ${(inline.succeeded / thread.succeeded).toFixed(2)}×`,
      ),
    );
  }
  rows.push(
    info(
      NAME,
      'so a thread that only wrote them would carry at most (reports/s), name / random order',
      `${sig(1e6 / writes.name.thread.started)}; ${sig(1e6 / writes.name.thread.succeeded)} / ${sig(1e6 / writes.random.thread.started)}; ${sig(1e6 / writes.random.thread.succeeded)}`,
    ),
  );
  return { name: NAME, rows, details: { devices: n, ingest: results, lookups: l, fanout: f, pass, writes } };
});
