/**
 * A uniform change is read off what the state table produced: when it is found, making it (as a
 * store does, from each task's stored row) gives exactly the tasks the state table gave; when any
 * task changed in another way, none is found and each task is saved alone.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import {
  appliedOrRefused,
  CHANGED_FIELDS,
  Fleet,
  KEPT_FIELDS,
  ManualClock,
  Outgoing,
  SqliteStore,
  Task,
  TaskPatch,
  Transition,
  uniformChange,
  UniformTaskChange,
} from '../../src/fleet';
import { externalFirmware, reportFleet } from '../helpers/fleet';
import { newTask } from './task-rows';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 1414;

const queuedTask: fc.Arbitrary<Task> = fc.record({
  id: fc.integer({ min: 1, max: 2 ** 40 }),
  batchId: fc.integer({ min: 1, max: 1000 }),
  productKey: fc.constantFrom('pk1', 'pk2'),
  deviceName: fc.string({ minLength: 1, maxLength: 12 }),
  module: fc.constantFrom('default', 'mcu'),
  srcVersion: fc.option(fc.constantFrom('1.0.0', '1.1.0'), { nil: null }),
  state: fc.constant('QUEUED' as const),
  reason: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
  step: fc.option(fc.integer({ min: -4, max: 100 }), { nil: null }),
  attempts: fc.nat({ max: 9 }),
  retries: fc.nat({ max: 5 }),
  wave: fc.nat({ max: 3 }),
  dueAt: fc.option(fc.nat({ max: 10_000 }), { nil: null }),
  startedAt: fc.option(fc.nat({ max: 10_000 }), { nil: null }),
  createdAt: fc.nat({ max: 10_000 }),
  updatedAt: fc.nat({ max: 10_000 }),
});

/** A pass of notices as the scheduler makes one: QUEUED → NOTIFIED, one attempt more, one deadline. */
function notify(tasks: Task[], at: number, dueAt: number | null): Task[] {
  return tasks.map((t) => {
    const patch: TaskPatch = { attempts: t.attempts + 1, dueAt };
    return appliedOrRefused(t, 'notify', patch, at).task;
  });
}

/** The change made as a store makes it: from the stored row, only the changed fields written. */
function made(change: UniformTaskChange, stored: Task): Task {
  return {
    ...stored,
    state: change.to,
    attempts: stored.attempts + change.attemptsAdded,
    dueAt: change.dueAt,
    updatedAt: change.at,
  };
}

describe('a uniform change of many tasks', function () {
  it('names every field of a task as kept or changed', function () {
    const task: Task = { id: 1, ...newTask(1, 'dev', 'QUEUED') };
    should([...KEPT_FIELDS, ...CHANGED_FIELDS].sort()).eql(Object.keys(task).sort());
  });

  it('made from the stored tasks, gives exactly what the state table gave, in order (300 runs)', function () {
    fc.assert(
      fc.property(
        fc.array(queuedTask, { minLength: 1, maxLength: 20 }),
        fc.nat({ max: 100_000 }),
        fc.option(fc.nat({ max: 100_000 }), { nil: null }),
        (tasks, at, dueAt) => {
          const next = notify(tasks, at, dueAt);
          const change = uniformChange(tasks, next);
          should(change).not.be.undefined();
          should(change!.taskIds).eql(tasks.map((t) => t.id));
          should(tasks.map((t) => made(change!, t))).eql(next);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('is not found when any one task changed in another way', function () {
    fc.assert(
      fc.property(
        fc.array(queuedTask, { minLength: 2, maxLength: 10 }),
        fc.nat(),
        fc.constantFrom<(t: Task) => Task>(
          (t) => ({ ...t, reason: `${t.reason ?? ''}!` }),
          (t) => ({ ...t, step: (t.step ?? 0) + 1 }),
          (t) => ({ ...t, retries: t.retries + 1 }),
          (t) => ({ ...t, startedAt: (t.startedAt ?? 0) + 1 }),
          (t) => ({ ...t, srcVersion: 'other' }),
          (t) => ({ ...t, attempts: t.attempts + 1 }),
          (t) => ({ ...t, dueAt: (t.dueAt ?? 0) + 1 }),
          (t) => ({ ...t, updatedAt: t.updatedAt + 1 }),
          (t) => ({ ...t, state: 'CANCELED' }),
        ),
        (tasks, pick, alter) => {
          const next = notify(tasks, 500, 900);
          const i = pick % next.length;
          next[i] = alter(next[i]);
          should(uniformChange(tasks, next)).be.undefined();
        },
      ),
      { seed: SEED + 1, numRuns: 200 },
    );
  });

  describe('is not found', function () {
    const [a, b] = fc.sample(queuedTask, { seed: SEED, numRuns: 2 });

    it('for tasks that started in different states', function () {
      const notified: Task = { ...b, state: 'NOTIFIED' };
      const again: Task = { ...notified, attempts: notified.attempts + 1, dueAt: 9, updatedAt: 5 };
      should(uniformChange([a, notified], [notify([a], 5, 9)[0], again])).be.undefined();
    });

    it('for a state kept (a notice sent again)', function () {
      should(uniformChange([a], [{ ...a, attempts: a.attempts + 1, updatedAt: 5 }])).be.undefined();
    });

    it('for no tasks, or fewer tasks after than before', function () {
      should(uniformChange([], [])).be.undefined();
      should(uniformChange([a, b], notify([a], 5, 9))).be.undefined();
    });
  });
});

describe('a scheduler pass of notices', function () {
  let dir: string;
  let fleet: Fleet;
  let changes: UniformTaskChange[];
  let sent: Outgoing[];
  let transitions: Transition[];
  let clock: ManualClock;

  beforeEach(function () {
    clock = new ManualClock();
    dir = mkdtempSync(join(tmpdir(), 'ota-uniform-pass-'));
    const store = new SqliteStore(join(dir, 'fleet.sqlite'));
    const save = store.saveUniformChange.bind(store);
    changes = [];
    store.saveUniformChange = (change) => {
      changes.push(change);
      save(change);
    };
    fleet = new Fleet({ store, clock, name: 'test' });
    sent = [];
    transitions = [];
    fleet.on('send', (out) => sent.push(...out));
    fleet.on('task', (tr) => transitions.push(tr));
    fleet.attachEgress('push-1');
  });
  afterEach(function () {
    fleet.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is saved as one uniform change per 500 tasks, each task and event as the state table made them', function () {
    reportFleet(fleet, 1200, '1.0.0');
    const batch = fleet.createBatch({
      firmwareId: externalFirmware(fleet).id,
      type: 'static',
      targets: { selection: 'ALL' },
      strategy: { retryCount: 1, retryInterval: 5 },
    });
    const at = clock.now();
    clock.advance(0);
    should(changes.map((c) => c.taskIds.length)).eql([500, 500, 200]);
    for (const c of changes)
      should(c).match({ from: 'QUEUED', to: 'NOTIFIED', attemptsAdded: 1, dueAt: at + 5 * 60_000, at });
    const ids = changes.flatMap((c) => c.taskIds);
    should(transitions.map((tr) => tr.taskId)).eql(ids);
    const tasks = fleet.tasks(batch.id, { limit: 2000 });
    should(new Set(tasks.map((t) => t.id))).eql(new Set(ids));
    for (const t of tasks) should(t).match({ state: 'NOTIFIED', attempts: 1, dueAt: at + 5 * 60_000, updatedAt: at });
    const byId = new Map(tasks.map((t) => [t.id, t.deviceName]));
    should(sent.map((o) => o.device.deviceName)).eql(ids.map((id) => byId.get(id)));
  });
});
