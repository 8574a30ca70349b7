import should from 'should';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miss, ReplayDivergence, Replay, SqliteStore, type TaskState } from '../../src/fleet';
import { promisedStore } from '../../src/fleet/async-store';
import type { FleetStore } from '../../src/fleet/store';
import { insertBatch, newTask } from './task-rows';

const dev = (n: number) => ({ productKey: 'pk1', deviceName: `d${n}` });

/** A ReplayStore over a SQLite file behind promises, and the same file read directly. */
function openReplay(dir: string, name = 'replay.sqlite') {
  const sqlite = new SqliteStore(join(dir, name));
  const replay = new Replay(promisedStore(sqlite));
  return { sqlite, replay, store: replay.store };
}

describe('Replay: the synchronous domain on a store that answers with promises', function () {
  let dir: string;
  let sqlite: SqliteStore;
  let replay: Replay;
  let store: FleetStore;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-replay-'));
    ({ sqlite, replay, store } = openReplay(dir));
  });

  afterEach(function () {
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a read sees the writes of its own unit that came before it', async function () {
    const seen = await replay.run(() => {
      store.recordVersion(dev(1), 'default', '1.0.0', 10);
      const first = store.deviceVersion(dev(1), 'default');
      store.recordVersion(dev(1), 'default', '2.0.0', 20);
      return [first, store.deviceVersion(dev(1), 'default')];
    });
    should(seen).eql(['1.0.0', '2.0.0']);
    should(sqlite.deviceVersion(dev(1), 'default')).equal('2.0.0');
    should(sqlite.versionDistribution()).eql([{ productKey: 'pk1', module: 'default', version: '2.0.0', count: 1 }]);
  });

  it('runs the unit again once per answer it lacks, and sends each write once', async function () {
    const before = { ...replay.stats };
    await replay.run(() => {
      store.recordVersion(dev(1), 'default', '1.0.0', 10);
      store.deviceVersion(dev(1), 'default');
      store.tagsOf(dev(1));
      store.setTags(dev(1), ['lab']);
    });
    should(replay.stats.runs - before.runs).equal(3);
    should(replay.stats.fetches - before.fetches).equal(2);
    should(replay.stats.writes - before.writes).equal(2);
    should(sqlite.tagsOf(dev(1))).eql(['lab']);
  });

  it('keeps an answer across writes to other tables, and fetches it again after a write to its own', async function () {
    const before = replay.stats.fetches;
    const tags = await replay.run(() => {
      const a = store.tagsOf(dev(1));
      store.recordVersion(dev(1), 'default', '1.0.0', 10);
      const b = store.tagsOf(dev(1));
      store.setTags(dev(1), ['x']);
      const c = store.tagsOf(dev(1));
      return [a, b, c];
    });
    should(tags).eql([[], [], ['x']]);
    should(replay.stats.fetches - before).equal(2);
  });

  it('an id the store hands out (a new batch) is taken once, however often the unit runs', async function () {
    const id = await replay.run(() => {
      const batchId = store.insertBatch(batchRecord());
      store.insertTasks([newTask(batchId, 'd1', 'QUEUED')]);
      const task = store.taskOf(batchId, dev(1), 'default');
      store.saveTask(
        { ...(task as NonNullable<typeof task>), state: 'NOTIFIED', attempts: 1, updatedAt: 5 },
        transition(task!.id, batchId, 'QUEUED', 'NOTIFIED'),
      );
      return batchId;
    });
    should(sqlite.listBatches().map((b) => b.id)).eql([id]);
    should(sqlite.tasksOf(id, {}).map((t) => [t.deviceName, t.state, t.attempts])).eql([['d1', 'NOTIFIED', 1]]);
    should(sqlite.transitions({ batchId: id }).map((t) => [t.from, t.to])).eql([['QUEUED', 'NOTIFIED']]);
  });

  it('a unit that fails leaves nothing, even the writes sent before a fetch', async function () {
    await should(
      replay.run(() => {
        store.recordVersion(dev(1), 'default', '1.0.0', 10);
        store.tagsOf(dev(1));
        throw new Error('refused by the domain');
      }),
    ).be.rejectedWith('refused by the domain');
    should(sqlite.deviceVersion(dev(1), 'default')).be.undefined();
    // The store is free for the next unit.
    await replay.run(() => store.recordVersion(dev(2), 'default', '1.0.0', 10));
    should(sqlite.deviceVersion(dev(2), 'default')).equal('1.0.0');
  });

  it('a miss the domain catches still stops the run and is fetched', async function () {
    const version = await replay.run(() => {
      try {
        store.deviceVersion(dev(1), 'default');
      } catch (err) {
        should(err).be.instanceOf(Miss);
      }
      return 'done';
    });
    should(version).equal('done');
  });

  it('a unit that writes differently when run again is rolled back and refused', async function () {
    sqlite.recordVersion(dev(1), 'default', '0.1.0', 1);
    let runs = 0;
    await should(
      replay.run(() => {
        runs++;
        store.recordVersion(dev(2), 'default', `v${runs}`, 10);
        store.deviceVersion(dev(1), 'default');
      }),
    ).be.rejectedWith(ReplayDivergence);
    should(sqlite.deviceVersion(dev(2), 'default')).be.undefined();
    should(replay.stats.restarts).equal(1);
  });

  it('a nested transaction that fails drops its own writes and keeps the rest of the unit', async function () {
    await replay.run(() => {
      store.recordVersion(dev(1), 'default', '1.0.0', 10);
      try {
        store.transaction(() => {
          store.recordVersion(dev(2), 'default', '1.0.0', 10);
          throw new Error('refused');
        });
      } catch {
        // the domain goes on with the next operation, as a group commit does
      }
      store.recordVersion(dev(3), 'default', '1.0.0', 10);
    });
    should([1, 2, 3].map((n) => sqlite.deviceVersion(dev(n), 'default'))).eql(['1.0.0', undefined, '1.0.0']);
  });

  it('a nested transaction that fails after a fetch inside it is undone on the server, and the unit goes on', async function () {
    const seen = await replay.run(() => {
      store.recordVersion(dev(1), 'default', '1.0.0', 10);
      try {
        store.transaction(() => {
          store.recordVersion(dev(2), 'default', '1.0.0', 10);
          store.tagsOf(dev(2));
          throw new Error('refused');
        });
      } catch {
        // the unit goes on
      }
      const after = store.deviceVersion(dev(2), 'default');
      store.recordVersion(dev(3), 'default', '1.0.0', 10);
      return after;
    });
    should(seen).be.undefined();
    should([1, 2, 3].map((n) => sqlite.deviceVersion(dev(n), 'default'))).eql(['1.0.0', undefined, '1.0.0']);
    should(sqlite.versionDistribution()).eql([{ productKey: 'pk1', module: 'default', version: '1.0.0', count: 2 }]);
  });

  it('units take turns: each sees the one before it committed', async function () {
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        replay.run(() => {
          const seen = store.countDevices({});
          store.recordVersion(dev(n), 'default', '1.0.0', n);
          return seen;
        }),
      ),
    );
    should(results).eql([0, 1, 2, 3]);
  });

  it('refuses a read outside a unit of work, saying where reads belong', function () {
    should(() => store.deviceVersion(dev(1), 'default')).throw(/only inside a unit of work/);
  });

  it('gives the same state and answers as the SQLite store for any sequence of units', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(unitArb, { minLength: 1, maxLength: 12 }), async (units) => {
        const runDir = mkdtempSync(join(tmpdir(), 'ota-replay-prop-'));
        const direct = new SqliteStore(join(runDir, 'direct.sqlite'));
        const other = openReplay(runDir);
        try {
          const batchA = insertBatch(direct);
          const batchB = insertBatch(other.sqlite);
          should(batchA).equal(batchB);
          for (const unit of units) {
            const expected = attemptUnit(() => applyUnit(direct, batchA, unit), direct);
            const actual = await other.replay
              .run(() => applyUnit(other.store, batchB, unit))
              .then(
                (value) => ({ ok: true, value }),
                (err: Error) => ({ ok: false, value: err.message }),
              );
            should(actual).eql(expected);
          }
          should(snapshot(other.sqlite, batchB)).eql(snapshot(direct, batchA));
        } finally {
          direct.close();
          other.sqlite.close();
          rmSync(runDir, { recursive: true, force: true });
        }
      }),
      { numRuns: 25, seed: 20261206 },
    );
  });
});

type Step =
  | { kind: 'nested'; steps: Step[]; fail: boolean }
  | { kind: 'report'; device: number; version: string }
  | { kind: 'add'; device: number }
  | { kind: 'move'; device: number; to: TaskState }
  | { kind: 'read'; device: number }
  | { kind: 'refuse' };

const simpleStepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('report' as const),
    device: fc.integer({ min: 1, max: 4 }),
    version: fc.constantFrom('1', '2', '3'),
  }),
  fc.record({ kind: fc.constant('add' as const), device: fc.integer({ min: 1, max: 4 }) }),
  fc.record({
    kind: fc.constant('move' as const),
    device: fc.integer({ min: 1, max: 4 }),
    to: fc.constantFrom<TaskState>('NOTIFIED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED'),
  }),
  fc.record({ kind: fc.constant('read' as const), device: fc.integer({ min: 1, max: 4 }) }),
  fc.constant({ kind: 'refuse' as const }),
);

/** A nested transaction of `inner` steps that fails or not. */
const nestedArb = (inner: fc.Arbitrary<Step>): fc.Arbitrary<Step> =>
  fc.record({
    kind: fc.constant('nested' as const),
    steps: fc.array(inner, { minLength: 1, maxLength: 4 }),
    fail: fc.boolean(),
  });

const innerArb = simpleStepArb.filter((s) => s.kind !== 'refuse');

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: simpleStepArb, weight: 4 },
  {
    arbitrary: nestedArb(fc.oneof({ arbitrary: innerArb, weight: 3 }, { arbitrary: nestedArb(innerArb), weight: 1 })),
    weight: 1,
  },
);

const unitArb = fc.array(stepArb, { minLength: 1, maxLength: 6 });

/** One unit of work, written as the domain writes them: reads, decisions on what was read, writes. */
function applyUnit(store: FleetStore, batchId: number, steps: Step[]): unknown[] {
  const answers: unknown[] = [];
  for (const step of steps) {
    if (step.kind === 'nested') {
      try {
        store.transaction(() => {
          answers.push(...applyUnit(store, batchId, step.steps));
          if (step.fail) throw new Error('the nested unit refused');
        });
      } catch (err) {
        answers.push((err as Error).message);
      }
    } else if (step.kind === 'report') {
      answers.push(store.deviceVersion(dev(step.device), 'default') ?? null);
      store.recordVersion(dev(step.device), 'default', step.version, answers.length);
    } else if (step.kind === 'add') {
      if (store.taskOf(batchId, dev(step.device), 'default')) answers.push('has one');
      else store.insertTasks([newTask(batchId, `d${step.device}`, 'QUEUED')]);
    } else if (step.kind === 'move') {
      const task = store.activeTask(dev(step.device), 'default');
      answers.push(task?.state ?? null);
      if (task)
        store.saveTask({ ...task, state: step.to, updatedAt: 7 }, transition(task.id, batchId, task.state, step.to));
    } else if (step.kind === 'read') {
      answers.push(store.countsByBatch(batchId).get(batchId) ?? null, store.versionDistribution());
    } else {
      throw new Error('the unit refused');
    }
  }
  return answers;
}

function attemptUnit(fn: () => unknown, store: SqliteStore): { ok: boolean; value: unknown } {
  try {
    return { ok: true, value: store.transaction(fn) };
  } catch (err) {
    return { ok: false, value: (err as Error).message };
  }
}

function snapshot(store: SqliteStore, batchId: number) {
  return {
    devices: store.listDevices({}),
    versions: store.versionDistribution(),
    tasks: store.tasksOf(batchId, {}),
    counts: store.countsByBatch(),
    transitions: store.transitions({}),
  };
}

function transition(taskId: number, batchId: number, from: TaskState, to: TaskState) {
  return {
    taskId,
    batchId,
    productKey: 'pk1',
    deviceName: '',
    module: 'default',
    from,
    to,
    reason: null,
    step: null,
    attempts: 0,
    at: 7,
  };
}

function batchRecord() {
  return {
    firmwareId: 'fw',
    type: 'static' as const,
    state: 'IN_PROGRESS' as const,
    targets: { selection: 'ALL' as const, productKey: 'pk1' },
    strategy: {
      retryInterval: 1,
      retryCount: 0,
      overwrite: 'keep' as const,
      needConfirm: false,
      downloadProtocol: 'https' as const,
      waveSuccessPercent: 0,
    },
    wave: 0,
    direct: false,
    allowUnverified: false,
    createdAt: 1,
    updatedAt: 1,
  };
}
