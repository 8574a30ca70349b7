/**
 * A uniform change is read off what the state table produced: when it is found, making it (as a
 * store does, from each task's stored row) gives exactly the tasks the state table gave; when any
 * task changed in another way, none is found and each task is saved alone.
 */
import fc from 'fast-check';
import should from 'should';
import {
  applyEvent,
  CHANGED_FIELDS,
  KEPT_FIELDS,
  Task,
  TaskPatch,
  uniformChange,
  UniformTaskChange,
} from '../../src/fleet';

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
    const applied = applyEvent(t, 'notify', patch, at);
    if (!applied.ok) throw new Error(applied.reason);
    return applied.task;
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
    const task: Task = {
      id: 1,
      batchId: 1,
      productKey: 'pk1',
      deviceName: 'dev',
      module: 'default',
      srcVersion: null,
      state: 'QUEUED',
      reason: null,
      step: null,
      attempts: 0,
      retries: 0,
      wave: 0,
      dueAt: null,
      startedAt: null,
      createdAt: 0,
      updatedAt: 0,
    };
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

  it('is not found for tasks that started in different states, for a state kept, or for no tasks', function () {
    const [a, b] = fc.sample(queuedTask, { seed: SEED, numRuns: 2 });
    const notified = { ...b, state: 'NOTIFIED' as const };
    should(
      uniformChange(
        [a, notified],
        [notify([a], 5, 9)[0], { ...notified, attempts: notified.attempts + 1, dueAt: 9, updatedAt: 5 }],
      ),
    ).be.undefined();
    should(uniformChange([a], [{ ...a, attempts: a.attempts + 1, updatedAt: 5 }])).be.undefined();
    should(uniformChange([], [])).be.undefined();
    should(uniformChange([a, b], notify([a], 5, 9))).be.undefined();
  });
});
