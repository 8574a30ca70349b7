/**
 * The store's operations in SQL for PostgreSQL, run through a `Runner`: the pool (each operation
 * alone, its own commit) or one connection inside a transaction. Every operation answers what
 * SqliteStore answers for the same call: the same order (text by its bytes, the "C" collation),
 * the same pages and cursors, undefined where SQLite answers undefined.
 *
 * Inside a transaction the reads of rows the unit of work may then write (task, taskOf,
 * activeTask(s), dueTasks, batch, getMeta) lock them (FOR UPDATE): under READ COMMITTED a second
 * writer of the same task waits at its read, then reads the committed row, so no read-modify-write
 * loses an update (docs/stores.md). The statements themselves are in pg-sql.ts.
 */
import type { DeviceRef } from '../protocol';
import type { CredentialRecord, DeviceCredential } from './credentials';
import {
  BatchRow,
  DeviceRow,
  FirmwareRow,
  firmwareValues,
  newTaskValues,
  TaskRow,
  toBatch,
  toDevice,
  toFirmware,
  toTask,
  toTransition,
  transitionValues,
  TransitionRow,
  taskUpdateValues,
} from './rows';
import { C, DEVICE_SCAN, S, Statement, TASK_INSERT_ROWS, TASK_SCAN } from './pg-sql';
import { emptyCounts, TaskState } from './states';
import type {
  AsyncStoreOperations,
  CandidatePage,
  CandidateQuery,
  CredentialQuery,
  DevicePage,
  DeviceQuery,
  NewBatch,
  NewTask,
  TaskPage,
  TaskQuery,
} from './store';
import type { Batch, DeviceModule, Firmware, Task, Transition, Verification, VersionCount } from './types';
import { notAsExpected, UniformTaskChange } from './uniform-change';

export type { Statement };

export interface Runner {
  query<R>(statement: Statement, values: unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /** Runs fn in one transaction on one connection (this one, when already inside a transaction). */
  atomic<T>(fn: (runner: Runner) => Promise<T>): Promise<T>;
  /** Inside a transaction: reads of rows to be written lock them. */
  readonly locking: boolean;
}

interface CandidateRow {
  device_name: string;
  version: string | null;
  active_id: number | null;
}

/** Keeps the rows whose version passes the query's filters (as SqliteStore does, after reading). */
function versionFilter(q: CandidateQuery): (version: string | null) => boolean {
  const src = q.srcVersions && q.srcVersions.length ? new Set(q.srcVersions) : undefined;
  return (v) => v !== q.excludeVersion && (!src || (v !== null && src.has(v)));
}

/** The WHERE of a device query, its parameters numbered after `args`. */
function deviceWhere(q: DeviceQuery, args: unknown[]): string {
  const clauses: string[] = [];
  const p = (value: unknown) => `$${args.push(value)}`;
  if (q.productKey) clauses.push(`product_key = ${p(q.productKey)}`);
  if (q.module) clauses.push(`module = ${p(q.module)}`);
  if (q.version) clauses.push(`version = ${p(q.version)}`);
  if (q.search) clauses.push(`strpos(device_name, ${p(q.search)}) > 0`);
  if (q.after) {
    // A row value compares as the primary key orders, so the index search starts at the cursor.
    if (q.after.productKey === q.productKey) {
      clauses.push(`(device_name, module) > (${p(q.after.deviceName)}, ${p(q.after.module)})`);
    } else {
      clauses.push(
        `(product_key, device_name, module) > (${p(q.after.productKey)}, ${p(q.after.deviceName)}, ${p(q.after.module)})`,
      );
    }
  }
  return clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
}

const DEVICE_ORDER = 'ORDER BY product_key, device_name, module';

/** A list of tasks as the 15 column arrays of one INSERT … SELECT FROM unnest. */
function taskColumns(tasks: NewTask[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 15 }, () => new Array<unknown>(tasks.length));
  tasks.forEach((t, i) => {
    const row = newTaskValues(t);
    for (let c = 0; c < 15; c++) cols[c][i] = row[c];
  });
  return cols;
}

export class PgOperations implements AsyncStoreOperations {
  constructor(protected readonly run: Runner) {}

  private async rows<R>(s: Statement, values: unknown[]): Promise<R[]> {
    return (await this.run.query<R>(s, values)).rows;
  }

  private async first<R>(s: Statement, values: unknown[]): Promise<R | undefined> {
    return (await this.run.query<R>(s, values)).rows[0];
  }

  private async changes(s: Statement, values: unknown[]): Promise<number> {
    return (await this.run.query(s, values)).rowCount;
  }

  private async tasks(pair: [Statement, Statement], values: unknown[]): Promise<Task[]> {
    return (await this.rows<TaskRow>(pair[this.run.locking ? 1 : 0], values)).map(toTask);
  }

  private async oneTask(pair: [Statement, Statement], values: unknown[]): Promise<Task | undefined> {
    return (await this.tasks(pair, values))[0];
  }

  async getMeta(key: string): Promise<string | undefined> {
    if (!this.run.locking) return (await this.first<{ value: string }>(S.getMeta, [key]))?.value;
    await this.run.query(S.lockMeta, [key]);
    return (await this.first<{ value: string }>(S.getMetaLocked, [key]))?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.run.query(S.setMeta, [key, value]);
  }

  async recordVersion(device: DeviceRef, module: string, version: string, at: number): Promise<void> {
    await this.run.query(S.upsertDevice, [device.productKey, device.deviceName, module, version, at]);
  }

  async deviceVersion(device: DeviceRef, module: string): Promise<string | undefined> {
    return (await this.first<{ version: string }>(S.getVersion, [device.productKey, device.deviceName, module]))
      ?.version;
  }

  async deviceModules(device: DeviceRef): Promise<DeviceModule[]> {
    return (await this.rows<DeviceRow>(S.deviceModules, [device.productKey, device.deviceName])).map(toDevice);
  }

  async listDevices(q: DeviceQuery): Promise<DeviceModule[]> {
    const args: unknown[] = [];
    const where = deviceWhere(q, args);
    const text = `SELECT * FROM devices ${where} ${DEVICE_ORDER} LIMIT $${args.length + 1} OFFSET $${args.length + 2}`;
    return (await this.rows<DeviceRow>({ text, what: 'list devices' }, [...args, q.limit ?? 1000, q.offset ?? 0])).map(
      toDevice,
    );
  }

  /** As SqliteStore.devicePage: a filtered page reads at most DEVICE_SCAN devices from its cursor. */
  async devicePage(q: DeviceQuery): Promise<DevicePage> {
    if ((!q.version && !q.search) || q.offset) return { devices: await this.listDevices(q) };
    const limit = q.limit ?? 1000;
    const args: unknown[] = [];
    const scan = deviceWhere({ ...q, version: undefined, search: undefined }, args);
    const scanArgs = args.length;
    const match = deviceWhere({ version: q.version, search: q.search }, args);
    const text = `SELECT * FROM (SELECT * FROM devices ${scan} ${DEVICE_ORDER} LIMIT $${args.length + 1}) s
      ${match} ${DEVICE_ORDER} LIMIT $${args.length + 2}`;
    const devices = (await this.rows<DeviceRow>({ text, what: 'device page' }, [...args, DEVICE_SCAN, limit])).map(
      toDevice,
    );
    if (devices.length >= limit) return { devices };
    const lastText = `SELECT product_key, device_name, module FROM devices ${scan} ${DEVICE_ORDER} LIMIT 1 OFFSET $${scanArgs + 1}`;
    const last = await this.first<DeviceRow>({ text: lastText, what: 'device page end' }, [
      ...args.slice(0, scanArgs),
      DEVICE_SCAN - 1,
    ]);
    return last
      ? { devices, next: { productKey: last.product_key, deviceName: last.device_name, module: last.module } }
      : { devices };
  }

  async countDevices(q: DeviceQuery): Promise<number> {
    const args: unknown[] = [];
    const where = deviceWhere({ ...q, after: undefined }, args);
    return (await this.first<{ n: number }>(
      { text: `SELECT COUNT(*) AS n FROM devices ${where}`, what: 'count devices' },
      args,
    ))!.n;
  }

  async versionDistribution(productKey?: string): Promise<VersionCount[]> {
    const rows = productKey
      ? await this.rows<VersionCount & { product_key: string }>(S.versionCountsOf, [productKey])
      : await this.rows<VersionCount & { product_key: string }>(S.versionCountsAll, []);
    return rows.map((r) => ({ productKey: r.product_key, module: r.module, version: r.version, count: r.count }));
  }

  async setTags(device: DeviceRef, tags: string[]): Promise<void> {
    await this.run.atomic(async (r) => {
      await r.query(S.deleteTags, [device.productKey, device.deviceName]);
      await r.query(S.insertTags, [device.productKey, device.deviceName, tags]);
    });
  }

  async tagsOf(device: DeviceRef): Promise<string[]> {
    return (await this.rows<{ tag: string }>(S.tagsOf, [device.productKey, device.deviceName])).map((r) => r.tag);
  }

  async hasTag(device: DeviceRef, tag: string): Promise<boolean> {
    return (await this.first(S.hasTag, [device.productKey, tag, device.deviceName])) !== undefined;
  }

  async candidates(q: CandidateQuery): Promise<{ deviceName: string; version: string | null }[]> {
    const rows = q.devices
      ? await this.rows<CandidateRow>(C.plainListed, [q.productKey, q.module, q.devices])
      : q.tag !== undefined
        ? await this.rows<CandidateRow>(C.plainTagged, [q.productKey, q.module, q.tag])
        : await this.rows<CandidateRow>(C.plainAll, [q.productKey, q.module]);
    const keep = versionFilter(q);
    return rows.filter((r) => keep(r.version)).map((r) => ({ deviceName: r.device_name, version: r.version }));
  }

  async candidatePage(q: CandidateQuery, after: string | null, limit: number): Promise<CandidatePage> {
    let rows: CandidateRow[];
    let next: string | null = null;
    if (q.devices) {
      rows = await this.rows<CandidateRow>(C.listed, [q.productKey, q.module, q.devices]);
    } else {
      rows =
        q.tag !== undefined
          ? await this.rows<CandidateRow>(C.tagged, [q.productKey, q.module, q.tag, after ?? '', limit])
          : await this.rows<CandidateRow>(C.all, [q.productKey, q.module, after ?? '', limit]);
      if (rows.length === limit) next = rows[rows.length - 1].device_name;
    }
    const keep = versionFilter(q);
    const candidates = rows
      .filter((r) => keep(r.version))
      .map((r) => ({ deviceName: r.device_name, version: r.version, activeTaskId: r.active_id }));
    return { candidates, next };
  }

  async putCredentials(credentials: DeviceCredential[], at: number): Promise<void> {
    // One statement cannot write a row twice: the last secret given for a device wins, as in SQLite.
    const last = new Map<string, DeviceCredential>();
    for (const c of credentials) last.set(JSON.stringify([c.productKey, c.deviceName]), c);
    const list = [...last.values()];
    if (!list.length) return;
    await this.run.query(S.putCredentials, [
      list.map((c) => c.productKey),
      list.map((c) => c.deviceName),
      list.map((c) => c.deviceSecret),
      at,
    ]);
  }

  async deleteCredential(device: DeviceRef): Promise<boolean> {
    return (await this.changes(S.deleteCredential, [device.productKey, device.deviceName])) > 0;
  }

  async deviceSecret(device: DeviceRef): Promise<string | undefined> {
    return (await this.first<{ device_secret: string }>(S.deviceSecret, [device.productKey, device.deviceName]))
      ?.device_secret;
  }

  async listCredentials(q: CredentialQuery): Promise<CredentialRecord[]> {
    const limit = q.limit ?? 1000;
    const offset = q.offset ?? 0;
    const rows = q.productKey
      ? await this.rows<CredentialRow>(S.credentialsOf, [q.productKey, limit, offset])
      : await this.rows<CredentialRow>(S.credentialsAll, [limit, offset]);
    return rows.map((r) => ({ productKey: r.product_key, deviceName: r.device_name, createdAt: r.created_at }));
  }

  async insertFirmware(fw: Firmware): Promise<void> {
    await this.run.query(S.insertFirmware, firmwareValues(fw));
  }

  async firmware(id: string): Promise<Firmware | undefined> {
    const row = await this.first<FirmwareRow>(S.firmware, [id]);
    return row && toFirmware(row);
  }

  async firmwareByVersion(productKey: string, module: string, version: string): Promise<Firmware | undefined> {
    const row = await this.first<FirmwareRow>(S.firmwareByVersion, [productKey, module, version]);
    return row && toFirmware(row);
  }

  async firmwareByStream(streamId: number): Promise<Firmware | undefined> {
    const row = await this.first<FirmwareRow>(S.firmwareByStream, [streamId]);
    return row && toFirmware(row);
  }

  async listFirmware(productKey?: string): Promise<Firmware[]> {
    const rows = productKey
      ? await this.rows<FirmwareRow>(S.productFirmware, [productKey])
      : await this.rows<FirmwareRow>(S.allFirmware, []);
    return rows.map(toFirmware);
  }

  async setVerification(id: string, verification: Verification): Promise<void> {
    await this.run.query(S.setVerification, [verification, id]);
  }

  async setFirmwareUrl(id: string, url: string): Promise<void> {
    await this.run.query(S.setFirmwareUrl, [url, id]);
  }

  async deleteFirmware(id: string): Promise<void> {
    await this.run.query(S.deleteFirmware, [id]);
  }

  async nextStreamId(): Promise<number> {
    return (await this.first<{ last: number }>(S.nextStreamId, []))!.last;
  }

  async nextReleaseSequence(productKey: string, module: string): Promise<number> {
    return (await this.first<{ last: number }>(S.nextSequence, [productKey, module]))!.last;
  }

  async verifiedFirmwareByDigest(
    productKey: string,
    digest: { sha256?: string; md5?: string },
  ): Promise<Firmware | undefined> {
    const row = digest.sha256
      ? await this.first<FirmwareRow>(S.verifiedBySha256, [productKey, digest.sha256])
      : digest.md5
        ? await this.first<FirmwareRow>(S.verifiedByMd5, [productKey, digest.md5])
        : undefined;
    return row && toFirmware(row);
  }

  async firmwareUsingFile(sha256: string): Promise<number> {
    return (await this.first<{ n: number }>(S.filesUsed, [sha256]))?.n ?? 0;
  }

  async insertBatch(b: NewBatch): Promise<number> {
    const row = await this.first<{ id: number }>(S.insertBatch, [
      b.firmwareId,
      b.type,
      b.state,
      JSON.stringify(b.targets),
      JSON.stringify(b.strategy),
      b.reason ?? null,
      b.wave,
      b.direct,
      b.allowUnverified,
      b.egress ?? null,
      b.createdAt,
      b.updatedAt,
    ]);
    return row!.id;
  }

  async batch(id: number): Promise<Batch | undefined> {
    const row = await this.first<BatchRow>(this.run.locking ? S.batchLocked : S.batch, [id]);
    return row && toBatch(row);
  }

  async listBatches(): Promise<Batch[]> {
    return (await this.rows<BatchRow>(S.allBatches, [])).map(toBatch);
  }

  async openBatches(): Promise<Batch[]> {
    return (await this.rows<BatchRow>(S.openBatches, [])).map(toBatch);
  }

  async updateBatch(b: Batch): Promise<void> {
    await this.run.query(S.updateBatch, [b.state, b.reason ?? null, b.wave, b.egress ?? null, b.updatedAt, b.id]);
  }

  async batchesUsingFirmware(firmwareId: string, openOnly: boolean): Promise<number> {
    return (await this.first<{ n: number }>(openOnly ? S.openBatchesUsing : S.batchesUsing, [firmwareId]))?.n ?? 0;
  }

  /** TASK_INSERT_ROWS tasks per statement (column arrays through unnest), all in one transaction. */
  async insertTasks(tasks: NewTask[]): Promise<void> {
    if (!tasks.length) return;
    await this.run.atomic(async (r) => {
      for (let i = 0; i < tasks.length; i += TASK_INSERT_ROWS) {
        await r.query(S.insertTasks, taskColumns(tasks.slice(i, i + TASK_INSERT_ROWS)));
      }
    });
  }

  async deleteTasksOfBatch(batchId: number, limit: number): Promise<number> {
    return this.changes(S.deleteTasks, [batchId, limit]);
  }

  /** Removes a batch whose tasks are already deleted, and its (zero) counters. */
  async deleteBatch(batchId: number): Promise<void> {
    await this.run.atomic(async (r) => {
      await r.query(S.deleteCounts, [batchId]);
      await r.query(S.deleteBatch, [batchId]);
    });
  }

  async task(id: number): Promise<Task | undefined> {
    return this.oneTask(S.task, [id]);
  }

  async taskOf(batchId: number, device: DeviceRef, module?: string): Promise<Task | undefined> {
    return module === undefined
      ? this.oneTask(S.taskOfAnyModule, [batchId, device.productKey, device.deviceName])
      : this.oneTask(S.taskOf, [batchId, device.productKey, device.deviceName, module]);
  }

  async activeTask(device: DeviceRef, module: string): Promise<Task | undefined> {
    return this.oneTask(S.activeTask, [device.productKey, device.deviceName, module]);
  }

  async activeTasks(device: DeviceRef): Promise<Task[]> {
    return this.tasks(S.activeTasks, [device.productKey, device.deviceName]);
  }

  async activeTasksOf(productKey: string, module: string): Promise<Map<string, Task>> {
    const map = new Map<string, Task>();
    for (const row of await this.rows<TaskRow>(S.activeTasksOf, [productKey, module])) map.set(row[3], toTask(row));
    return map;
  }

  async tasksOf(batchId: number, q: TaskQuery): Promise<Task[]> {
    const limit = q.limit ?? 1000;
    const offset = q.offset ?? 0;
    const after = q.after ?? -1;
    const rows = q.state
      ? await this.rows<TaskRow>(S.tasksOfState, [batchId, q.state, after, limit, offset])
      : await this.rows<TaskRow>(S.tasksOfAll, [batchId, after, limit, offset]);
    return rows.map(toTask);
  }

  /**
   * As SqliteStore.taskPage: a page of one state reads at most TASK_SCAN tasks from its cursor.
   * Where that stretch ends is looked up only when the page is short (where SQLite's answer names
   * it as `next`): a full page never reads on to the end of the stretch.
   */
  async taskPage(batchId: number, q: TaskQuery): Promise<TaskPage> {
    if (!q.state || q.offset) return { tasks: await this.tasksOf(batchId, q) };
    const limit = q.limit ?? 1000;
    const after = q.after ?? -1;
    const rows = await this.rows<TaskRow>(S.taskPageOfState, [batchId, after, TASK_SCAN, q.state, limit]);
    const tasks = rows.map(toTask);
    if (tasks.length >= limit) return { tasks };
    const end = (await this.first<{ id: number }>(S.taskScanEnd, [batchId, after, TASK_SCAN - 1]))?.id;
    return end === undefined ? { tasks } : { tasks, next: end };
  }

  async tasksInState(batchId: number, state: TaskState): Promise<Task[]> {
    return (await this.rows<TaskRow>(S.tasksInState, [batchId, state])).map(toTask);
  }

  async tasksOfDevice(device: DeviceRef): Promise<Task[]> {
    return (await this.rows<TaskRow>(S.tasksOfDevice, [device.productKey, device.deviceName])).map(toTask);
  }

  async saveStep(taskId: number, step: number | null, at: number): Promise<void> {
    await this.run.query(S.saveStep, [step, at, taskId]);
  }

  async saveTask(t: Task, tr?: Transition): Promise<void> {
    const task = taskUpdateValues(t);
    await (tr
      ? this.run.query(S.saveTaskWithTransition, [...task, ...transitionValues(tr)])
      : this.run.query(S.saveTask, task));
  }

  /** One statement: every row and its transition, or none when a task is not in the change's state (an error). */
  async saveUniformChange(change: UniformTaskChange): Promise<void> {
    const { taskIds, from, to, attemptsAdded, dueAt, at } = change;
    const written = await this.changes(S.saveUniform, [to, attemptsAdded, dueAt, at, taskIds, from]);
    if (written === taskIds.length) return;
    const found = (await this.first<{ n: number }>(S.countInState, [taskIds, from]))?.n ?? 0;
    throw notAsExpected(change, found);
  }

  async countsByBatch(batchId?: number): Promise<Map<number, Record<TaskState, number>>> {
    const map = new Map<number, Record<TaskState, number>>();
    const rows =
      batchId === undefined
        ? await this.rows<CountRow>(S.countsAll, [])
        : await this.rows<CountRow>(S.countsOne, [batchId]);
    for (const r of rows) {
      let counts = map.get(r.batch_id);
      if (!counts) map.set(r.batch_id, (counts = emptyCounts()));
      counts[r.state] = r.n;
    }
    return map;
  }

  async dueTasks(batchId: number, state: TaskState, now: number, limit: number): Promise<Task[]> {
    return this.tasks(S.dueTasks, [batchId, state, now, limit]);
  }

  async tasksUnchangedSince(
    batchId: number,
    state: TaskState,
    before: number,
    afterId: number,
    limit: number,
  ): Promise<Task[]> {
    return (await this.rows<TaskRow>(S.tasksUnchangedSince, [batchId, state, afterId, before, limit])).map(toTask);
  }

  async nextDue(batchId: number, state: TaskState): Promise<number | undefined> {
    return (await this.first<{ t: number | null }>(S.nextDue, [batchId, state]))?.t ?? undefined;
  }

  async openWave(batchId: number, wave: number, at: number): Promise<number> {
    return this.changes(S.openWave, [at, batchId, wave]);
  }

  async waveCounts(batchId: number, wave: number): Promise<Record<TaskState, number>> {
    const counts = emptyCounts();
    for (const r of await this.rows<{ state: TaskState; n: number }>(S.waveCounts, [batchId, wave])) {
      counts[r.state] = r.n;
    }
    return counts;
  }

  async transitions(q: { taskId?: number; batchId?: number; limit?: number }): Promise<Transition[]> {
    const limit = q.limit ?? 1000;
    const rows =
      q.taskId !== undefined
        ? await this.rows<TransitionRow>(S.transitionsOfTask, [q.taskId, limit])
        : q.batchId !== undefined
          ? await this.rows<TransitionRow>(S.transitionsOfBatch, [q.batchId, limit])
          : await this.rows<TransitionRow>(S.transitionsAll, [limit]);
    return rows.map(toTransition);
  }
}

interface CredentialRow {
  product_key: string;
  device_name: string;
  created_at: number;
}

interface CountRow {
  batch_id: number;
  state: TaskState;
  n: number;
}

const SAVEPOINT_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * The operations of one transaction, with savepoints: part of it undone while the rest goes on
 * (a nested unit of work). After a failed statement only a rollback to a savepoint lets the
 * transaction go on (PostgreSQL refuses everything else until then).
 */
export class PgTransaction extends PgOperations {
  private async savepointVerb(verb: string, name: string): Promise<void> {
    if (!SAVEPOINT_NAME.test(name)) throw new Error(`"${name}" is not a savepoint name`);
    await this.run.query({ text: `${verb} ${name}`, what: `${verb} ${name}` }, []);
  }

  savepoint(name: string): Promise<void> {
    return this.savepointVerb('SAVEPOINT', name);
  }

  release(name: string): Promise<void> {
    return this.savepointVerb('RELEASE SAVEPOINT', name);
  }

  rollbackTo(name: string): Promise<void> {
    return this.savepointVerb('ROLLBACK TO SAVEPOINT', name);
  }
}
