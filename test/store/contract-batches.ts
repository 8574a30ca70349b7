/** The contract's batch part: batch records, their deletion, and the task counts per batch and state. */
import should from 'should';
import {
  emptyCounts,
  TASK_STATES,
  type AsyncFleetStore,
  type Batch,
  type BatchState,
  type TaskCounts,
} from '../../src/fleet';
import { changed, freshStore, insertAndRead, names, newBatch, newTask, type OpenStore } from './contract-fixtures';

/** A map's entries by key, comparable with `eql`. */
export const entries = <V>(map: Map<number, V>): [number, V][] => [...map.entries()].sort((a, b) => a[0] - b[0]);

/** The counts of a batch as a count of its tasks (read one by one), without the batches that have none. */
export async function countedByHand(store: AsyncFleetStore, batchIds: number[]): Promise<[number, TaskCounts][]> {
  const out: [number, TaskCounts][] = [];
  for (const id of [...batchIds].sort((a, b) => a - b)) {
    const tasks = await store.tasksOf(id, { limit: 1_000_000 });
    if (tasks.length === 0) continue;
    const counts = emptyCounts();
    for (const t of tasks) counts[t.state]++;
    out.push([id, counts]);
  }
  return out;
}

export function describeBatches(open: OpenStore): void {
  const store = freshStore(open);

  describe('batches', function () {
    const detailed = newBatch({
      firmwareId: 'fw2',
      type: 'dynamic',
      state: 'PAUSED',
      targets: { selection: 'GRAY', productKey: 'pk2', percent: 30, tag: 'lab', srcVersions: ['1.0.0', '1.1.0'] },
      strategy: {
        maximumPerMinute: 60,
        maximumInFlight: 10,
        scheduleStart: 1_000,
        scheduleFinish: 9_000,
        retryInterval: 5,
        retryCount: 3,
        timeoutInMinutes: 30,
        overwrite: 'replace',
        needConfirm: true,
        downloadProtocol: 'mqtt',
        abort: { failurePercent: 20, minDevices: 5 },
        waves: [5, 25, 100],
        waveSuccessPercent: 90,
        extData: { channel: 'beta' },
      },
      reason: 'paused by a user',
      wave: 1,
      direct: true,
      allowUnverified: true,
      egress: 'node-7',
      createdAt: 1_700_000_000_150,
      updatedAt: 1_700_000_000_160,
    });

    it('inserted batches get increasing ids and are read back exactly', async function () {
      const plain = newBatch();
      const first = await store().insertBatch(plain);
      const second = await store().insertBatch(detailed);
      should(second).be.above(first);
      should(await store().batch(first)).eql({ id: first, ...plain });
      should(await store().batch(second)).eql({ id: second, ...detailed });
      should(await store().batch(second + 1000)).be.undefined();
    });

    it('the list holds every batch by id; the open ones are those planned, in progress or paused', async function () {
      const states: BatchState[] = ['CREATING', 'PLANNED', 'IN_PROGRESS', 'PAUSED', 'COMPLETED', 'CANCELED'];
      const inserted: Batch[] = [];
      for (const state of states) {
        const batch = newBatch({ state });
        inserted.push({ id: await store().insertBatch(batch), ...batch });
      }
      should(await store().listBatches()).eql(inserted);
      should(await store().openBatches()).eql(inserted.slice(1, 4));
    });

    it('an update saves state, reason, wave, egress and time, keeps the rest, and clears an absent reason or egress', async function () {
      const id = await store().insertBatch(detailed);
      const saved = { id, ...detailed };
      await store().updateBatch({
        ...saved,
        firmwareId: 'other',
        type: 'verify',
        targets: { selection: 'ALL', productKey: 'pk9' },
        direct: false,
        allowUnverified: false,
        createdAt: 1,
        state: 'IN_PROGRESS',
        reason: 'resumed',
        wave: 2,
        egress: 'node-8',
        updatedAt: 300,
      });
      should(await store().batch(id)).eql({
        ...saved,
        state: 'IN_PROGRESS',
        reason: 'resumed',
        wave: 2,
        egress: 'node-8',
        updatedAt: 300,
      });
      const { reason, egress, ...rest } = saved;
      should([reason, egress]).eql(['paused by a user', 'node-7']);
      await store().updateBatch({ ...rest, state: 'COMPLETED', updatedAt: 400 });
      should(await store().batch(id)).eql({ ...rest, state: 'COMPLETED', updatedAt: 400 });
    });

    it('batches using a firmware are counted, all of them or only the open ones', async function () {
      for (const state of ['IN_PROGRESS', 'COMPLETED', 'CANCELED', 'PAUSED', 'CREATING'] as BatchState[]) {
        await store().insertBatch(newBatch({ firmwareId: 'fw1', state }));
      }
      await store().insertBatch(newBatch({ firmwareId: 'fw2', state: 'PLANNED' }));
      should(await store().batchesUsingFirmware('fw1', false)).equal(5);
      should(await store().batchesUsingFirmware('fw1', true)).equal(2);
      should(await store().batchesUsingFirmware('fw2', true)).equal(1);
      should(await store().batchesUsingFirmware('fw3', false)).equal(0);
    });

    it("deleting a batch's tasks removes at most the limit and answers how many, of that batch only", async function () {
      const a = await store().insertBatch(newBatch({ state: 'CREATING' }));
      const b = await store().insertBatch(newBatch());
      await store().insertTasks(names(7).map((n) => newTask(a, n)));
      await store().insertTasks(names(3).map((n) => newTask(b, n)));
      should(await store().deleteTasksOfBatch(a, 5)).equal(5);
      should(await store().tasksOf(a, {})).have.length(2);
      should(await store().deleteTasksOfBatch(a, 5)).equal(2);
      should(await store().deleteTasksOfBatch(a, 5)).equal(0);
      should(await store().tasksOf(a, {})).eql([]);
      should(await store().tasksOf(b, {})).have.length(3);
    });

    it('a deleted batch is gone from the lists and leaves no counts', async function () {
      const a = await store().insertBatch(newBatch({ state: 'CREATING' }));
      const b = await store().insertBatch(newBatch());
      await store().insertTasks(names(3).map((n) => newTask(a, n)));
      await store().insertTasks([newTask(b, 'dev01')]);
      should(await store().deleteTasksOfBatch(a, 10)).equal(3);
      await store().deleteBatch(a);
      should(await store().batch(a)).be.undefined();
      should((await store().listBatches()).map((x) => x.id)).eql([b]);
      should(entries(await store().countsByBatch())).eql([[b, { ...emptyCounts(), QUEUED: 1 }]]);
      should(entries(await store().countsByBatch(a))).eql([]);
    });
  });

  describe('task counts per batch', function () {
    it('an empty store, and a batch without tasks, have no counts', async function () {
      should(entries(await store().countsByBatch())).eql([]);
      const id = await store().insertBatch(newBatch());
      should(entries(await store().countsByBatch())).eql([]);
      should(entries(await store().countsByBatch(id))).eql([]);
    });

    it('inserted tasks are counted per batch and state, every state named', async function () {
      const a = await store().insertBatch(newBatch());
      const b = await store().insertBatch(newBatch());
      await store().insertTasks([
        ...names(3).map((n) => newTask(a, n)),
        ...names(2, 'cfm').map((n) => newTask(a, n, { state: 'CONFIRM' })),
      ]);
      await store().insertTasks(names(2).map((n) => newTask(b, n, { state: 'NOTIFIED' })));
      should(entries(await store().countsByBatch())).eql([
        [a, { CONFIRM: 2, QUEUED: 3, NOTIFIED: 0, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 }],
        [b, { CONFIRM: 0, QUEUED: 0, NOTIFIED: 2, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 }],
      ]);
      should(entries(await store().countsByBatch(b))).eql([
        [b, { CONFIRM: 0, QUEUED: 0, NOTIFIED: 2, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 }],
      ]);
      should(entries(await store().countsByBatch(b + 1000))).eql([]);
    });

    it('the counts follow state changes and deletes, and equal a count of the tasks themselves', async function () {
      const a = await store().insertBatch(newBatch());
      const b = await store().insertBatch(newBatch());
      const tasksA = await insertAndRead(
        store(),
        a,
        names(12).map((n) => newTask(a, n)),
      );
      const tasksB = await insertAndRead(
        store(),
        b,
        names(4).map((n) => newTask(b, n, { state: 'CONFIRM' })),
      );
      // Each task of a walks a few states; b's tasks are confirmed, one finishes.
      for (const [i, task] of tasksA.entries()) {
        let t = task;
        for (const state of TASK_STATES.slice(2, 2 + (i % 6))) {
          t = changed(t, { state, updatedAt: t.updatedAt + 1 });
          await store().saveTask(t);
        }
      }
      for (const task of tasksB) await store().saveTask(changed(task, { state: 'QUEUED' }));
      await store().saveTask(changed(tasksB[0], { state: 'SUCCEEDED' }));
      await store().saveStep(tasksA[3].id, 40, 500);
      should(entries(await store().countsByBatch())).eql(await countedByHand(store(), [a, b]));
      should(entries(await store().countsByBatch(a))).eql([
        [a, { CONFIRM: 0, QUEUED: 2, NOTIFIED: 2, IN_PROGRESS: 2, SUCCEEDED: 2, FAILED: 2, CANCELED: 2 }],
      ]);
      should(entries(await store().countsByBatch(b))).eql([[b, { ...emptyCounts(), QUEUED: 3, SUCCEEDED: 1 }]]);
      should(await store().deleteTasksOfBatch(b, 10)).equal(4);
      should(entries(await store().countsByBatch())).eql(await countedByHand(store(), [a, b]));
      should(entries(await store().countsByBatch(b))).eql([]);
    });

    it('a saved task in its own state, or a step, changes no count', async function () {
      const a = await store().insertBatch(newBatch());
      const [t] = await insertAndRead(store(), a, [newTask(a, 'dev01', { state: 'IN_PROGRESS' })]);
      await store().saveTask(changed(t, { step: 50, attempts: 2, updatedAt: 300 }));
      await store().saveStep(t.id, 60, 400);
      should(entries(await store().countsByBatch())).eql([[a, { ...emptyCounts(), IN_PROGRESS: 1 }]]);
    });
  });
}
