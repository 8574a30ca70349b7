/** The contract's task part: inserts, reads, pages, saves and transitions, deadlines and waves. */
import should from 'should';
import {
  emptyCounts,
  TASK_STATES,
  type AsyncFleetStore,
  type NewTask,
  type Task,
  type TaskQuery,
  type TaskState,
  type Transition,
  type UniformTaskChange,
} from '../../src/fleet';
import {
  byId,
  changed,
  device,
  freshStore,
  ids,
  insertAndRead,
  names,
  newBatch,
  newTask,
  SOME_STATES,
  sharedStore,
  type OpenStore,
} from './contract-fixtures';
import { entries } from './contract-batches';

/** Task i of a varied batch: every field differs from the defaults somewhere. */
function variedTask(batchId: number, i: number): NewTask {
  return newTask(batchId, `dev${String(i).padStart(3, '0')}`, {
    module: i % 4 === 0 ? 'mcu' : 'default',
    srcVersion: i % 5 === 0 ? null : `1.${i % 3}.0`,
    state: TASK_STATES[i % TASK_STATES.length],
    reason: i % 7 === 0 ? `reason ${i}` : null,
    step: i % 6 === 0 ? null : (i % 105) - 4,
    attempts: i % 4,
    retries: i % 3,
    wave: i % 3,
    dueAt: i % 2 === 0 ? 10_000 + i * 10 : null,
    startedAt: i % 3 === 0 ? 1_700_000_000_000 + i : null,
    createdAt: 100 + i,
    updatedAt: 200 + i,
  });
}

/** Every task of one state, read by `taskPage`: from `next` when the page stopped early, from the last task when full. */
async function walkTaskPages(store: AsyncFleetStore, batchId: number, query: TaskQuery, limit: number) {
  const all: Task[] = [];
  for (let after: number | undefined, pages = 0; ; pages++) {
    if (pages > 1000) throw new Error('the pages never end');
    const page = await store.taskPage(batchId, { ...query, limit, after });
    should(page.tasks.length).be.belowOrEqual(limit);
    for (const t of page.tasks) should(t.id).be.above(after ?? -Infinity);
    all.push(...page.tasks);
    if (page.next !== undefined) after = page.next;
    else if (page.tasks.length >= limit) after = page.tasks[page.tasks.length - 1].id;
    else return all;
  }
}

/** The transition of a task's change, as the store hands it back. */
function transitionOf(
  task: Task,
  from: TaskState | null,
  to: TaskState,
  at: number,
  reason: string | null = null,
): Transition {
  return {
    taskId: task.id,
    batchId: task.batchId,
    productKey: task.productKey,
    deviceName: task.deviceName,
    module: task.module,
    from,
    to,
    reason,
    step: task.step,
    attempts: task.attempts,
    at,
  };
}

export function describeTasks(open: OpenStore): void {
  describe('task inserts and reads', function () {
    const store = freshStore(open);

    it('a large insert stores every task exactly, in order, with increasing ids', async function () {
      const batchId = await store().insertBatch(newBatch());
      const given = Array.from({ length: 250 }, (_, i) => variedTask(batchId, i));
      await store().insertTasks(given);
      const read = await store().tasksOf(batchId, { limit: 1000 });
      should(read).eql(given.map((t, i) => ({ id: read[i].id, ...t })));
      for (let i = 1; i < read.length; i++) should(read[i].id).be.above(read[i - 1].id);
      should(await store().task(read[137].id)).eql(read[137]);
    });

    it('a small insert after it gets higher ids, and an empty one stores nothing', async function () {
      const batchId = await store().insertBatch(newBatch());
      const first = await insertAndRead(
        store(),
        batchId,
        names(3).map((n) => newTask(batchId, n)),
      );
      await store().insertTasks([]);
      const second = await insertAndRead(
        store(),
        batchId,
        names(2, 'x').map((n) => newTask(batchId, n)),
      );
      should(ids(second)[0]).be.above(ids(first)[2]);
      should(await store().tasksOf(batchId, {})).eql([...first, ...second]);
      should(await store().task(ids(second)[1] + 1000)).be.undefined();
    });

    it('a second task of one device module in one batch is refused, and a transaction keeps none of the insert', async function () {
      const batchId = await store().insertBatch(newBatch());
      const other = await store().insertBatch(newBatch());
      await store().insertTasks([
        newTask(batchId, 'dev01'),
        newTask(other, 'dev01'),
        newTask(batchId, 'dev01', { module: 'mcu' }),
      ]);
      const tasks = names(150).map((n) => newTask(batchId, n));
      tasks[120] = newTask(batchId, 'dev01');
      await should(store().transaction((tx) => tx.insertTasks(tasks))).be.rejected();
      should((await store().tasksOf(batchId, {})).map((t) => [t.deviceName, t.module])).eql([
        ['dev01', 'default'],
        ['dev01', 'mcu'],
      ]);
      should(entries(await store().countsByBatch(batchId))).eql([[batchId, { ...emptyCounts(), QUEUED: 2 }]]);
    });

    it('an insert refused for a duplicate, outside a transaction, stores none of its tasks', async function () {
      const batchId = await store().insertBatch(newBatch());
      const tasks = names(150).map((n) => newTask(batchId, n));
      tasks[120] = tasks[5];
      await should(store().insertTasks(tasks)).be.rejected();
      should(await store().tasksOf(batchId, {})).eql([]);
      should(entries(await store().countsByBatch(batchId))).eql([]);
    });

    it('a list without a limit holds at most 1,000 tasks', async function () {
      const batchId = await store().insertBatch(newBatch());
      await store().insertTasks(Array.from({ length: 1001 }, (_, i) => newTask(batchId, `dev${i}`)));
      should(await store().tasksOf(batchId, {})).have.length(1000);
      should(await store().tasksOf(batchId, { limit: 2000 })).have.length(1001);
    });

    it("a batch's task of a device is found by module, or without one as its first", async function () {
      const a = await store().insertBatch(newBatch());
      const b = await store().insertBatch(newBatch());
      const [mcu, main] = await insertAndRead(store(), a, [
        newTask(a, 'dev01', { module: 'mcu' }),
        newTask(a, 'dev01', { module: 'default' }),
      ]);
      const [other] = await insertAndRead(store(), b, [newTask(b, 'dev01', { state: 'NOTIFIED' })]);
      should(await store().taskOf(a, device('dev01'), 'default')).eql(main);
      should(await store().taskOf(a, device('dev01'), 'mcu')).eql(mcu);
      should(await store().taskOf(a, device('dev01'))).eql(mcu);
      should(await store().taskOf(b, device('dev01'))).eql(other);
      should(await store().taskOf(b, device('dev01'), 'mcu')).be.undefined();
      should(await store().taskOf(a, device('dev02'))).be.undefined();
      should(await store().taskOf(a, device('dev01', 'pk2'))).be.undefined();
    });

    it("a device's tasks of every batch and module are listed by id, and only its own", async function () {
      const a = await store().insertBatch(newBatch());
      const b = await store().insertBatch(newBatch());
      const inA = await insertAndRead(store(), a, [
        newTask(a, 'dev01', { state: 'SUCCEEDED' }),
        newTask(a, 'dev02'),
        newTask(a, 'dev01', { module: 'mcu', state: 'FAILED' }),
        newTask(a, 'dev01', { productKey: 'pk2' }),
      ]);
      const inB = await insertAndRead(store(), b, [newTask(b, 'dev01', { state: 'CONFIRM' })]);
      should(await store().tasksOfDevice(device('dev01'))).eql([inA[0], inA[2], inB[0]]);
      should(await store().tasksOfDevice(device('dev01', 'pk2'))).eql([inA[3]]);
      should(await store().tasksOfDevice(device('dev09'))).eql([]);
    });
  });

  describe('active tasks', function () {
    const store = freshStore(open);
    let a: number, b: number, c: number;
    let t: Record<string, Task>;

    beforeEach(async function () {
      a = await store().insertBatch(newBatch());
      b = await store().insertBatch(newBatch());
      c = await store().insertBatch(newBatch());
      const [a01, a01mcu, a02, a03, pk2] = await insertAndRead(store(), a, [
        newTask(a, 'dev01', { state: 'QUEUED' }),
        newTask(a, 'dev01', { module: 'mcu', state: 'CONFIRM' }),
        newTask(a, 'dev02', { state: 'FAILED' }),
        newTask(a, 'dev03', { state: 'IN_PROGRESS', step: 30 }),
        newTask(a, 'dev01', { productKey: 'pk2', state: 'NOTIFIED' }),
      ]);
      const [b01, b02] = await insertAndRead(store(), b, [
        newTask(b, 'dev01', { state: 'NOTIFIED' }),
        newTask(b, 'dev02', { state: 'CANCELED' }),
      ]);
      const [c01] = await insertAndRead(store(), c, [newTask(c, 'dev01', { state: 'SUCCEEDED' })]);
      t = { a01, a01mcu, a02, a03, pk2, b01, b02, c01 };
    });

    it("the active task of a device's module is its newest active one; a finished one is none", async function () {
      should(await store().activeTask(device('dev01'), 'default')).eql(t.b01);
      should(await store().activeTask(device('dev01'), 'mcu')).eql(t.a01mcu);
      should(await store().activeTask(device('dev03'), 'default')).eql(t.a03);
      should(await store().activeTask(device('dev02'), 'default')).be.undefined();
      should(await store().activeTask(device('dev01', 'pk2'), 'default')).eql(t.pk2);
      should(await store().activeTask(device('dev04'), 'default')).be.undefined();
    });

    it("a device's active tasks of every module and batch are listed by id", async function () {
      should(await store().activeTasks(device('dev01'))).eql([t.a01, t.a01mcu, t.b01]);
      should(await store().activeTasks(device('dev02'))).eql([]);
    });

    it("a product's active tasks of one module are mapped by device name, each its newest", async function () {
      const map = await store().activeTasksOf('pk1', 'default');
      should([...map.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1))).eql([
        ['dev01', t.b01],
        ['dev03', t.a03],
      ]);
      should([...(await store().activeTasksOf('pk1', 'mcu')).entries()]).eql([['dev01', t.a01mcu]]);
      should((await store().activeTasksOf('pk3', 'default')).size).equal(0);
    });

    it('a task that finishes stops being active', async function () {
      await store().saveTask(changed(t.b01, { state: 'SUCCEEDED', updatedAt: 300 }));
      should(await store().activeTask(device('dev01'), 'default')).eql(t.a01);
      should(ids(await store().activeTasks(device('dev01')))).eql([t.a01.id, t.a01mcu.id]);
    });
  });

  describe("a batch's task lists and pages", function () {
    // These tests only read.
    const store = sharedStore(open);
    let batchId: number;
    let all: Task[];

    before(async function () {
      batchId = await store().insertBatch(newBatch());
      const other = await store().insertBatch(newBatch());
      await store().insertTasks(names(5).map((n) => newTask(other, n)));
      all = await insertAndRead(
        store(),
        batchId,
        names(40).map((n, i) => newTask(batchId, n, { state: SOME_STATES[i % 5], wave: i % 2 })),
      );
      await store().insertTasks(names(5, 'late').map((n) => newTask(other, n)));
    });

    const inState = (state: TaskState) => all.filter((t) => t.state === state);

    it('the list is by id, cut by a limit and an offset', async function () {
      should(await store().tasksOf(batchId, {})).eql(all);
      should(await store().tasksOf(batchId, { limit: 5 })).eql(all.slice(0, 5));
      should(await store().tasksOf(batchId, { limit: 5, offset: 30 })).eql(all.slice(30, 35));
      should(await store().tasksOf(batchId, { offset: 38 })).eql(all.slice(38));
      should(await store().tasksOf(batchId, { offset: 40 })).eql([]);
    });

    it('a page after a task id starts right after it', async function () {
      should(await store().tasksOf(batchId, { after: all[9].id, limit: 3 })).eql(all.slice(10, 13));
      should(await store().tasksOf(batchId, { after: all[39].id })).eql([]);
      should(await store().tasksOf(batchId, { after: 0 })).eql(all);
    });

    it('a state filters the list, with a limit, an offset or a cursor', async function () {
      should(await store().tasksOf(batchId, { state: 'NOTIFIED' })).eql(inState('NOTIFIED'));
      should(await store().tasksOf(batchId, { state: 'NOTIFIED', limit: 3, offset: 2 })).eql(
        inState('NOTIFIED').slice(2, 5),
      );
      should(await store().tasksOf(batchId, { state: 'FAILED', after: all[20].id, limit: 2 })).eql(
        inState('FAILED')
          .filter((t) => t.id > all[20].id)
          .slice(0, 2),
      );
      should(await store().tasksOf(batchId, { state: 'CANCELED' })).eql([]);
    });

    it('a page without a state, or with an offset, is the same page of the list', async function () {
      const plain = await store().taskPage(batchId, { limit: 7, after: all[2].id });
      should(plain.tasks).eql(all.slice(3, 10));
      should(plain.next).be.undefined();
      const offset = await store().taskPage(batchId, { state: 'QUEUED', offset: 2, limit: 3 });
      should(offset.tasks).eql(inState('QUEUED').slice(2, 5));
      should(offset.next).be.undefined();
    });

    it('pages of one state, walked by their cursors, hold exactly its tasks in id order', async function () {
      for (const state of [...SOME_STATES, 'CANCELED' as const]) {
        for (const limit of [1, 3, 8, 100]) {
          should(ids(await walkTaskPages(store(), batchId, { state }, limit))).eql(ids(inState(state)));
        }
      }
      should(await walkTaskPages(store(), batchId, { state: 'QUEUED' }, 3)).eql(inState('QUEUED'));
    });

    it('every task of one state is read at once, in any order', async function () {
      should([...(await store().tasksInState(batchId, 'IN_PROGRESS'))].sort(byId)).eql(inState('IN_PROGRESS'));
      should(await store().tasksInState(batchId, 'CONFIRM')).eql([]);
    });

    it('a wave counts its tasks per state, every state named', async function () {
      const counts = emptyCounts();
      for (const t of all) if (t.wave === 1) counts[t.state]++;
      should(await store().waveCounts(batchId, 1)).eql(counts);
      should(counts).eql({ ...emptyCounts(), QUEUED: 4, NOTIFIED: 4, IN_PROGRESS: 4, SUCCEEDED: 4, FAILED: 4 });
      should(await store().waveCounts(batchId, 7)).eql(emptyCounts());
    });
  });

  describe('saving tasks and their transitions', function () {
    const store = freshStore(open);
    let batchId: number;
    let task: Task;

    beforeEach(async function () {
      batchId = await store().insertBatch(newBatch());
      [task] = await insertAndRead(store(), batchId, [newTask(batchId, 'dev01', { state: 'IN_PROGRESS', step: 10 })]);
    });

    it('a step saves the step and the time only, and writes no transition', async function () {
      await store().saveStep(task.id, 42, 555);
      should(await store().task(task.id)).eql({ ...task, step: 42, updatedAt: 555 });
      await store().saveStep(task.id, null, 556);
      should(await store().task(task.id)).eql({ ...task, step: null, updatedAt: 556 });
      should(await store().transitions({ taskId: task.id })).eql([]);
    });

    it('a saved task keeps its identity and takes every other field, without a transition when none is given', async function () {
      const saved = changed(task, {
        srcVersion: '0.9',
        state: 'FAILED',
        reason: 'timeout',
        step: -2,
        attempts: 3,
        retries: 1,
        wave: 2,
        dueAt: 9_000,
        startedAt: 8_000,
        updatedAt: 700,
      });
      await store().saveTask({
        ...saved,
        batchId: batchId + 1000,
        productKey: 'pk9',
        deviceName: 'other',
        module: 'mcu',
        createdAt: 1,
      });
      should(await store().task(task.id)).eql(saved);
      should(await store().transitions({})).eql([]);
    });

    it('a saved task with its transition stores both, the transition naming the device', async function () {
      const failed = changed(task, { state: 'FAILED', reason: 'step -1', step: -1, attempts: 1, updatedAt: 800 });
      const transition = transitionOf(failed, 'IN_PROGRESS', 'FAILED', 800, 'step -1');
      await store().saveTask(failed, transition);
      should(await store().task(task.id)).eql(failed);
      should(await store().transitions({ taskId: task.id })).eql([transition]);
    });
  });

  describe('transitions', function () {
    const store = freshStore(open);
    it('are read by task, by batch or all, oldest first, up to a limit', async function () {
      const a = await store().insertBatch(newBatch());
      const b = await store().insertBatch(newBatch());
      const [a1, a2] = await insertAndRead(store(), a, [newTask(a, 'dev01'), newTask(a, 'dev02', { module: 'mcu' })]);
      const [b1] = await insertAndRead(store(), b, [newTask(b, 'dev01', { productKey: 'pk2' })]);
      const written: Transition[] = [];
      const save = async (t: Task, to: TaskState, at: number) => {
        const next = changed(t, { state: to, updatedAt: at, attempts: t.attempts + 1 });
        const tr = transitionOf(next, t.state, to, at, `to ${to}`);
        await store().saveTask(next, tr);
        written.push(tr);
        return next;
      };
      const a1n = await save(a1, 'NOTIFIED', 1_700_000_000_001);
      const b1n = await save(b1, 'NOTIFIED', 2);
      await save(a2, 'CANCELED', 3);
      await save(a1n, 'IN_PROGRESS', 4);
      await save(b1n, 'SUCCEEDED', 5);
      should(await store().transitions({})).eql(written);
      should(await store().transitions({ limit: 2 })).eql(written.slice(0, 2));
      should(await store().transitions({ batchId: a })).eql([written[0], written[2], written[3]]);
      should(await store().transitions({ batchId: b, limit: 1 })).eql([written[1]]);
      should(await store().transitions({ taskId: a1.id })).eql([written[0], written[3]]);
      should(await store().transitions({ taskId: b1.id })).eql([written[1], written[4]]);
      should(await store().transitions({ taskId: a1.id, limit: 1 })).eql([written[0]]);
      should(await store().transitions({ batchId: b + 1000 })).eql([]);
    });
  });

  describe('a uniform change (one pass of notices)', function () {
    const store = freshStore(open);
    let batchId: number;
    let queued: Task[];
    let other: Task;

    beforeEach(async function () {
      batchId = await store().insertBatch(newBatch());
      // Fields that differ from task to task, which the change must keep as they are.
      queued = await insertAndRead(
        store(),
        batchId,
        [0, 1, 2, 3].map((i) =>
          newTask(batchId, `dev0${i}`, {
            srcVersion: i === 2 ? null : `1.${i}.0`,
            reason: i === 1 ? 'retried' : null,
            step: i === 3 ? -1 : null,
            attempts: i,
            retries: i % 2,
            wave: i,
            dueAt: 40 + i,
            startedAt: i === 3 ? 1_700_000_000_000 : null,
            createdAt: 100 + i,
            updatedAt: 200 + i,
          }),
        ),
      );
      [other] = await insertAndRead(store(), batchId, [newTask(batchId, 'dev09', { state: 'NOTIFIED', attempts: 1 })]);
    });

    /** The tasks in this order taken QUEUED → NOTIFIED at `at`, one attempt more, an answer due at `dueAt` (none: null). */
    const notified = (tasks: Task[], dueAt: number | null = 5_000, at = 900) => {
      const next = tasks.map((t) => changed(t, { state: 'NOTIFIED', attempts: t.attempts + 1, dueAt, updatedAt: at }));
      const change: UniformTaskChange = {
        taskIds: ids(tasks),
        from: 'QUEUED',
        to: 'NOTIFIED',
        attemptsAdded: 1,
        dueAt,
        at,
      };
      return {
        next,
        change,
        transitions: next.map((t, i) => transitionOf(t, tasks[i].state, 'NOTIFIED', at, t.reason)),
      };
    };

    it('saves every task as the change makes it, each keeping its other fields, and logs the transitions in the given order', async function () {
      const order = [queued[2], queued[0], queued[3]];
      const { next, change, transitions } = notified(order);
      await store().saveUniformChange(change);
      for (const t of next) should(await store().task(t.id)).eql(t);
      should(await store().task(queued[1].id)).eql(queued[1]);
      should(await store().task(other.id)).eql(other);
      should(await store().transitions({ batchId })).eql(transitions);
      should(entries(await store().countsByBatch(batchId))).eql([
        [batchId, { ...emptyCounts(), QUEUED: 1, NOTIFIED: 4 }],
      ]);
    });

    it("logs a large pass's transitions in the pass's order, not the rows' (300 tasks, every other one, backwards)", async function () {
      const more = await insertAndRead(
        store(),
        batchId,
        Array.from({ length: 600 }, (_, i) => newTask(batchId, `bulk${String(i).padStart(3, '0')}`)),
      );
      const order = more.filter((_, i) => i % 2 === 1).reverse();
      const { change, transitions } = notified(order);
      await store().saveUniformChange(change);
      should((await store().transitions({ batchId, limit: 1000 })).map((t) => t.taskId)).eql(ids(order));
      should((await store().transitions({ batchId, limit: 1000 }))[299]).eql(transitions[299]);
    });

    it('clears the deadline when the change has none (a batch without retries waits for no answer)', async function () {
      const { next, change, transitions } = notified([queued[1], queued[3]], null, 950);
      await store().saveUniformChange(change);
      for (const t of next) should(await store().task(t.id)).eql(t);
      should(await store().transitions({ batchId })).eql(transitions);
    });

    it('saves none when a task is not in the state the change starts from, and says how many were not', async function () {
      const { change } = notified([queued[0], other, queued[1]]);
      await should(store().saveUniformChange(change)).be.rejectedWith(
        /1 of 3 tasks were not QUEUED as expected; none was saved/,
      );
      should(await store().tasksOf(batchId, { limit: 10 })).eql([...queued, other]);
      should(await store().transitions({ batchId })).eql([]);
      should(entries(await store().countsByBatch(batchId))).eql([
        [batchId, { ...emptyCounts(), QUEUED: 4, NOTIFIED: 1 }],
      ]);
    });
  });

  describe('deadlines, recovery and waves', function () {
    const store = freshStore(open);
    let batchId: number;
    let q: Task[];
    let n: Task;
    let otherBatch: Task;

    beforeEach(async function () {
      batchId = await store().insertBatch(newBatch());
      const other = await store().insertBatch(newBatch());
      q = await insertAndRead(store(), batchId, [
        newTask(batchId, 'dev01', { dueAt: 50, updatedAt: 100, wave: 0 }),
        newTask(batchId, 'dev02', { dueAt: null, updatedAt: 300, wave: 1 }),
        newTask(batchId, 'dev03', { dueAt: 10, updatedAt: 150, wave: 0 }),
        newTask(batchId, 'dev04', { dueAt: 30, updatedAt: 100, wave: 1 }),
        newTask(batchId, 'dev05', { dueAt: 10, updatedAt: 400, wave: 0 }),
        newTask(batchId, 'dev06', { dueAt: 70, updatedAt: 120, wave: 1 }),
        newTask(batchId, 'dev07', { dueAt: null, updatedAt: 100, wave: 1 }),
      ]);
      [n] = await insertAndRead(store(), batchId, [
        newTask(batchId, 'dev08', { state: 'NOTIFIED', dueAt: 5, updatedAt: 50, wave: 1 }),
      ]);
      [otherBatch] = await insertAndRead(store(), other, [newTask(other, 'dev01', { dueAt: 1, wave: 1 })]);
    });

    it('due tasks are those of the state whose deadline has come, earliest first, then by id, up to a limit', async function () {
      should(await store().dueTasks(batchId, 'QUEUED', 50, 10)).eql([q[2], q[4], q[3], q[0]]);
      should(await store().dueTasks(batchId, 'QUEUED', 1000, 2)).eql([q[2], q[4]]);
      should(await store().dueTasks(batchId, 'QUEUED', 9, 10)).eql([]);
      should(await store().dueTasks(batchId, 'NOTIFIED', 5, 10)).eql([n]);
      should(await store().dueTasks(batchId, 'FAILED', 1000, 10)).eql([]);
    });

    it('the next deadline is the earliest of the state; none when no task of it has one', async function () {
      should(await store().nextDue(batchId, 'QUEUED')).equal(10);
      should(await store().nextDue(batchId, 'NOTIFIED')).equal(5);
      should(await store().nextDue(batchId, 'FAILED')).be.undefined();
      await store().saveTask(changed(n, { dueAt: null }));
      should(await store().nextDue(batchId, 'NOTIFIED')).be.undefined();
    });

    it('tasks unchanged since a time are listed by id after a cursor, a page at a time', async function () {
      should(await store().tasksUnchangedSince(batchId, 'QUEUED', 150, 0, 10)).eql([q[0], q[3], q[5], q[6]]);
      should(await store().tasksUnchangedSince(batchId, 'QUEUED', 150, 0, 2)).eql([q[0], q[3]]);
      should(await store().tasksUnchangedSince(batchId, 'QUEUED', 150, q[3].id, 2)).eql([q[5], q[6]]);
      should(await store().tasksUnchangedSince(batchId, 'QUEUED', 150, q[6].id, 2)).eql([]);
      should(await store().tasksUnchangedSince(batchId, 'NOTIFIED', 51, 0, 10)).eql([n]);
      should(await store().tasksUnchangedSince(batchId, 'NOTIFIED', 50, 0, 10)).eql([]);
    });

    it('opening a wave makes its queued tasks without a deadline due, and answers how many', async function () {
      should(await store().openWave(batchId, 1, 900)).equal(2);
      should(await store().tasksOf(batchId, {})).eql([
        ...q.map((t) => (t.wave === 1 && t.dueAt === null ? { ...t, dueAt: 900 } : t)),
        n,
      ]);
      should(await store().task(otherBatch.id)).eql(otherBatch);
      should(await store().openWave(batchId, 1, 950)).equal(0);
      should(await store().openWave(batchId, 5, 950)).equal(0);
      should(entries(await store().countsByBatch(batchId))).eql([
        [batchId, { ...emptyCounts(), QUEUED: 7, NOTIFIED: 1 }],
      ]);
    });
  });
}
