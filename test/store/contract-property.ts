/**
 * The contract's property: whatever devices report and whatever happens to tasks, in any order,
 * some of it in transactions that roll back, the version distribution and the task counts per
 * batch equal what the committed steps imply. One store for every run: each run has its own
 * product key and its own batches, so runs also check that counters keep to their product and batch.
 */
import fc from 'fast-check';
import should from 'should';
import {
  emptyCounts,
  TASK_STATES,
  type AsyncFleetStore,
  type AsyncStoreOperations,
  type Task,
  type TaskCounts,
  type TaskState,
  type VersionCount,
} from '../../src/fleet';
import { changed, newBatch, newTask, type OpenStore } from './contract-fixtures';
import { entries } from './contract-batches';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 909;
const RUNS = 50;

const DEVICES = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];
const MODULES = ['default', 'mcu'];
const VERSIONS = ['1.0.0', '1.0.1', '1.1.0', '2.0.0'];
const BATCHES = 3;

type Step =
  | { kind: 'report'; deviceName: string; module: string; version: string; rolledBack: boolean }
  | { kind: 'insert'; batch: number; devices: string[]; state: TaskState; rolledBack: boolean }
  | { kind: 'change'; pick: number; state: TaskState }
  | { kind: 'delete'; batch: number; limit: number };

const state = fc.constantFrom(...TASK_STATES);
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('report' as const),
      deviceName: fc.constantFrom(...DEVICES),
      module: fc.constantFrom(...MODULES),
      version: fc.constantFrom(...VERSIONS),
      rolledBack: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      batch: fc.nat({ max: BATCHES - 1 }),
      devices: fc.uniqueArray(fc.constantFrom(...DEVICES), { minLength: 1, maxLength: 4 }),
      state,
      rolledBack: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('change' as const), pick: fc.nat(), state }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      batch: fc.nat({ max: BATCHES - 1 }),
      limit: fc.integer({ min: 1, max: 3 }),
    }),
  },
);

/** What the committed steps leave: each device module's version, and each task as last saved. */
interface Model {
  versions: Map<string, VersionCount & { deviceName: string }>;
  tasks: Map<number, Task>;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The distribution a model implies, in the store's order. */
function modelDistribution(model: Model): VersionCount[] {
  const counts = new Map<string, VersionCount>();
  for (const { productKey, module, version } of model.versions.values()) {
    const key = JSON.stringify([productKey, module, version]);
    const c = counts.get(key) ?? { productKey, module, version, count: 0 };
    c.count++;
    counts.set(key, c);
  }
  return [...counts.values()].sort(
    (a, b) =>
      cmp(a.productKey, b.productKey) || cmp(a.module, b.module) || b.count - a.count || cmp(a.version, b.version),
  );
}

/** The counts a model implies, without the batches that have no task. */
function modelCounts(model: Model, batchIds: number[]): [number, TaskCounts][] {
  const counts = new Map<number, TaskCounts>();
  for (const t of model.tasks.values()) {
    const c = counts.get(t.batchId) ?? emptyCounts();
    c[t.state]++;
    counts.set(t.batchId, c);
  }
  return [...batchIds]
    .sort((a, b) => a - b)
    .flatMap((id) => (counts.has(id) ? [[id, counts.get(id) as TaskCounts]] : []));
}

/** Runs a step's writes alone, or in a transaction that then rolls back. */
async function maybeRolledBack(
  store: AsyncFleetStore,
  rolledBack: boolean,
  write: (ops: AsyncStoreOperations) => Promise<void>,
): Promise<void> {
  if (!rolledBack) return write(store);
  await should(
    store.transaction(async (tx) => {
      await write(tx);
      throw new Error('rolled back on purpose');
    }),
  ).be.rejectedWith('rolled back on purpose');
}

export function describeProperty(open: OpenStore): void {
  it('after any reports, task inserts, state changes and deletes, the distribution and the counts are what they imply', async function () {
    this.timeout(120_000);
    const store = await open();
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
          const productKey = `prop${run++}`;
          const batchIds: number[] = [];
          for (let i = 0; i < BATCHES; i++) batchIds.push(await store.insertBatch(newBatch()));
          const model: Model = { versions: new Map(), tasks: new Map() };
          for (const s of steps) {
            if (s.kind === 'report') {
              const at = model.versions.size;
              await maybeRolledBack(store, s.rolledBack, (ops) =>
                ops.recordVersion({ productKey, deviceName: s.deviceName }, s.module, s.version, at),
              );
              if (!s.rolledBack) {
                const key = JSON.stringify([s.deviceName, s.module]);
                model.versions.set(key, {
                  productKey,
                  deviceName: s.deviceName,
                  module: s.module,
                  version: s.version,
                  count: 1,
                });
              }
            } else if (s.kind === 'insert') {
              const batchId = batchIds[s.batch];
              const held = new Set(
                [...model.tasks.values()].filter((t) => t.batchId === batchId).map((t) => t.deviceName),
              );
              const fresh = s.devices.filter((d) => !held.has(d));
              await maybeRolledBack(store, s.rolledBack, (ops) =>
                ops.insertTasks(fresh.map((d) => newTask(batchId, d, { productKey, state: s.state }))),
              );
              if (!s.rolledBack) {
                for (const t of await store.tasksOf(batchId, { limit: 1000 })) model.tasks.set(t.id, t);
              }
            } else if (s.kind === 'change') {
              const tasks = [...model.tasks.values()];
              if (tasks.length === 0) continue;
              const task = changed(tasks[s.pick % tasks.length], { state: s.state });
              await store.saveTask(task);
              model.tasks.set(task.id, task);
            } else {
              const batchId = batchIds[s.batch];
              const had = [...model.tasks.values()].filter((t) => t.batchId === batchId).length;
              should(await store.deleteTasksOfBatch(batchId, s.limit)).equal(Math.min(had, s.limit));
              // Which tasks a delete takes is the store's choice: the model follows what is left.
              for (const t of [...model.tasks.values()]) if (t.batchId === batchId) model.tasks.delete(t.id);
              for (const t of await store.tasksOf(batchId, { limit: 1000 })) model.tasks.set(t.id, t);
            }
          }
          should(await store.versionDistribution(productKey)).eql(modelDistribution(model));
          const all = entries(await store.countsByBatch()).filter(([id]) => batchIds.includes(id));
          should(all).eql(modelCounts(model, batchIds));
          for (const id of batchIds) {
            should(entries(await store.countsByBatch(id))).eql(modelCounts(model, [id]));
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
    } finally {
      await store.close();
    }
  });
}
