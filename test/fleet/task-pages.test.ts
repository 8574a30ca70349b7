/** Keyset pages of a batch's tasks and of the devices: every row once, in order, while rows are added. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { DeviceKey, SqliteStore, Task, TaskState } from '../../src/fleet';
import { insertBatch, newTask } from './task-rows';

describe('the SQLite store: pages by cursor', function () {
  // Batches of tens of thousands of tasks: seconds, more on a busy disk.
  this.timeout(60_000);
  let dir: string;
  let store: SqliteStore;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-pages-'));
    store = new SqliteStore(join(dir, 'fleet.sqlite'));
  });
  afterEach(function () {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stateOf = (i: number): TaskState => (['QUEUED', 'SUCCEEDED', 'FAILED'] as const)[i % 3];

  /** Walks a batch's tasks a page at a time, calling `between` after each page. */
  function walk(batchId: number, limit: number, state?: TaskState, between?: () => void): Task[][] {
    const pages: Task[][] = [];
    let after: number | undefined;
    for (;;) {
      const page = store.tasksOf(batchId, { state, limit, after });
      pages.push(page);
      if (page.length < limit) return pages;
      after = page[page.length - 1].id;
      between?.();
    }
  }

  it('the pages of a batch hold each of its tasks once, by id, and none of another batch', function () {
    const one = insertBatch(store);
    const two = insertBatch(store);
    store.insertTasks(Array.from({ length: 250 }, (_, i) => newTask(i % 2 ? one : two, `d${i}`, stateOf(i))));
    const pages = walk(one, 30);
    const ids = pages.flat().map((t) => t.id);
    should(ids).eql(store.tasksOf(one, { limit: 1000 }).map((t) => t.id));
    should(ids.length).equal(125);
    should(ids).eql([...ids].sort((a, b) => a - b));
    should(pages.flat().every((t) => t.batchId === one)).be.true();
    should(pages.slice(0, -1).every((p) => p.length === 30)).be.true();
  });

  it('the pages of one state hold each task in that state once, by id', function () {
    const batchId = insertBatch(store);
    store.insertTasks(Array.from({ length: 200 }, (_, i) => newTask(batchId, `d${i}`, stateOf(i))));
    for (const state of ['QUEUED', 'SUCCEEDED', 'FAILED'] as const) {
      const paged = walk(batchId, 7, state).flat();
      should(paged.map((t) => t.id)).eql(
        store
          .tasksOf(batchId, { limit: 1000 })
          .filter((t) => t.state === state)
          .map((t) => t.id),
      );
    }
  });

  it('tasks added while the pages are read appear once, after those read before them', function () {
    const batchId = insertBatch(store);
    store.insertTasks(Array.from({ length: 100 }, (_, i) => newTask(batchId, `d${i}`, 'QUEUED')));
    let added = 0;
    const pages = walk(batchId, 10, undefined, () => {
      if (added < 50) store.insertTasks([newTask(batchId, `late${added++}`, 'QUEUED')]);
    });
    const ids = pages.flat().map((t) => t.id);
    should(new Set(ids).size).equal(ids.length);
    should(ids).eql([...ids].sort((a, b) => a - b));
    should(ids.length).equal(100 + added);
  });

  it('offset still skips tasks, counted from the cursor', function () {
    const batchId = insertBatch(store);
    store.insertTasks(Array.from({ length: 20 }, (_, i) => newTask(batchId, `d${i}`, 'QUEUED')));
    const all = store.tasksOf(batchId, {});
    should(store.tasksOf(batchId, { after: all[4].id, offset: 3, limit: 2 }).map((t) => t.id)).eql([
      all[8].id,
      all[9].id,
    ]);
  });

  /** Walks a batch's pages as a client does: a full page continues from its last task, a short one from `next`, if any. */
  function walkPages(batchId: number, limit: number, state: TaskState, between?: () => void): Task[][] {
    const pages: Task[][] = [];
    let after: number | undefined;
    for (;;) {
      const { tasks, next } = store.taskPage(batchId, { state, limit, after });
      pages.push(tasks);
      if (tasks.length === limit) after = tasks[tasks.length - 1].id;
      else if (next !== undefined) after = next;
      else return pages;
      between?.();
    }
  }

  it('the pages of one state read a bounded part of the batch: short pages say where the next starts, and together hold each task in that state once, by id', function () {
    const batchId = insertBatch(store);
    const other = insertBatch(store);
    const stateAt = (i: number): TaskState => (i % 1000 === 3 ? 'FAILED' : i % 2 ? 'QUEUED' : 'SUCCEEDED');
    store.transaction(() =>
      store.insertTasks(
        Array.from({ length: 120_000 }, (_, i) => newTask(i % 5 === 4 ? other : batchId, `d${i}`, stateAt(i))),
      ),
    );
    let added = 0;
    for (const state of ['FAILED', 'QUEUED'] as const) {
      const pages = walkPages(batchId, 400, state, () => {
        // Tasks of every state keep arriving while the pages are read.
        if (added < 300) store.insertTasks([newTask(batchId, `late${added++}`, stateAt(added))]);
      });
      should(pages.some((p) => p.length < 400 && p !== pages[pages.length - 1])).equal(state === 'FAILED');
      const ids = pages.flat().map((t) => t.id);
      should(ids).eql(
        store
          .tasksOf(batchId, { limit: 1_000_000 })
          .filter((t) => t.state === state)
          .map((t) => t.id),
      );
      should(pages.flat().every((t) => t.batchId === batchId && t.state === state)).be.true();
    }
    should(added).be.above(100); // tasks arrived during both walks
  });

  it('a page of a rare state stops after a bounded read and gives the last task read as the next cursor', function () {
    const batchId = insertBatch(store);
    const rare = new Set([7, 55_555]);
    store.transaction(() =>
      store.insertTasks(
        Array.from({ length: 60_000 }, (_, i) => newTask(batchId, `d${i}`, rare.has(i) ? 'FAILED' : 'SUCCEEDED')),
      ),
    );
    const all = store.tasksOf(batchId, { limit: 100_000 });
    const first = store.taskPage(batchId, { state: 'FAILED', limit: 10 });
    should(first.tasks.map((t) => t.deviceName)).eql(['d7']);
    should(first.next).equal(all[49_999].id);
    const second = store.taskPage(batchId, { state: 'FAILED', limit: 10, after: first.next });
    should(second.tasks.map((t) => t.deviceName)).eql(['d55555']);
    should(second.next).be.undefined();
    const full = store.taskPage(batchId, { state: 'SUCCEEDED', limit: 3 });
    should(full.tasks.map((t) => t.deviceName)).eql(['d0', 'd1', 'd2']);
    should(full.next).be.undefined();
    should(store.taskPage(batchId, { limit: 2 })).eql({ tasks: all.slice(0, 2) });
  });

  it('the tasks in one state are every task of the batch in that state, read whole', function () {
    const batchId = insertBatch(store);
    const other = insertBatch(store);
    store.insertTasks(Array.from({ length: 300 }, (_, i) => newTask(i % 4 ? batchId : other, `d${i}`, stateOf(i))));
    for (const state of ['QUEUED', 'SUCCEEDED', 'FAILED', 'CANCELED'] as const) {
      const expected = store
        .tasksOf(batchId, { limit: 1000 })
        .filter((t) => t.state === state)
        .map((t) => t.id);
      should(
        store
          .tasksInState(batchId, state)
          .map((t) => t.id)
          .sort((a, b) => a - b),
      ).eql(expected);
    }
  });

  /** Walks the devices a page at a time by cursor. */
  function walkDevices(q: { productKey?: string; module?: string }, limit: number, between?: () => void) {
    const rows: DeviceKey[] = [];
    let after: DeviceKey | undefined;
    for (;;) {
      const page = store.listDevices({ ...q, limit, after });
      rows.push(...page);
      if (page.length < limit) return rows.map((d) => `${d.productKey}/${d.deviceName}/${d.module}`);
      after = page[page.length - 1];
      between?.();
    }
  }

  it('the device pages hold each device module once, by product key, device name and module', function () {
    for (const pk of ['pk1', 'pk2'])
      for (let i = 0; i < 40; i++)
        for (const m of ['default', 'MCU']) store.recordVersion({ productKey: pk, deviceName: `d${i}` }, m, '1.0.0', 1);
    const every = store.listDevices({ limit: 1000 }).map((d) => `${d.productKey}/${d.deviceName}/${d.module}`);
    should(every.length).equal(160);
    should(walkDevices({}, 7)).eql(every);
    should(walkDevices({ productKey: 'pk2' }, 9)).eql(every.filter((k) => k.startsWith('pk2/')));
    should(walkDevices({ productKey: 'pk1', module: 'MCU' }, 5)).eql(
      every.filter((k) => k.startsWith('pk1/') && k.endsWith('/MCU')),
    );
  });

  it('devices reporting while the pages are read appear once when they sort after the page read, and the count ignores the cursor', function () {
    for (let i = 0; i < 50; i++)
      store.recordVersion({ productKey: 'pk1', deviceName: `d${String(i).padStart(2, '0')}` }, 'default', '1.0.0', 1);
    let n = 0;
    const rows = walkDevices({ productKey: 'pk1' }, 8, () =>
      store.recordVersion({ productKey: 'pk1', deviceName: `e${String(n++).padStart(2, '0')}` }, 'default', '1.0.0', 2),
    );
    should(new Set(rows).size).equal(rows.length);
    should(rows).eql([...rows].sort());
    should(rows.length).equal(store.countDevices({ productKey: 'pk1' }));
    should(
      store.countDevices({ productKey: 'pk1', after: { productKey: 'pk1', deviceName: 'd40', module: 'default' } }),
    ).equal(50 + n);
  });
  it('a page filtered by a rare version reads a bounded part of the list and says where the next one starts', function () {
    const name = (i: number) => `d${String(i).padStart(5, '0')}`;
    const rare = new Set([7, 55_555]);
    store.transaction(() => {
      for (let i = 0; i < 60_000; i++)
        store.recordVersion({ productKey: 'pk1', deviceName: name(i) }, 'default', rare.has(i) ? '9.9.9' : '1.0.0', 1);
    });
    const first = store.devicePage({ productKey: 'pk1', version: '9.9.9', limit: 10 });
    should(first.devices.map((d) => d.deviceName)).eql([name(7)]);
    should(first.next).eql({ productKey: 'pk1', deviceName: name(49_999), module: 'default' });
    const second = store.devicePage({ productKey: 'pk1', version: '9.9.9', limit: 10, after: first.next });
    should(second.devices.map((d) => d.deviceName)).eql([name(55_555)]);
    should(second.next).be.undefined();
    const byName = store.devicePage({ productKey: 'pk1', search: 'd5555', limit: 10 });
    should(byName.devices.map((d) => d.deviceName)).eql([]);
    should(
      store
        .devicePage({ productKey: 'pk1', search: 'd5555', limit: 10, after: byName.next })
        .devices.map((d) => d.deviceName),
    ).eql([
      name(55_550),
      name(55_551),
      name(55_552),
      name(55_553),
      name(55_554),
      name(55_555),
      name(55_556),
      name(55_557),
      name(55_558),
      name(55_559),
    ]);
    const common = store.devicePage({ productKey: 'pk1', version: '1.0.0', limit: 3 });
    should(common.devices.map((d) => d.deviceName)).eql([name(0), name(1), name(2)]);
    should(common.next).be.undefined();
  });
});
