import fc from 'fast-check';
import should from 'should';
import {
  candidateOrder,
  graySize,
  parseStrategy,
  planSlice,
  planTasks,
  seededRandom,
  shuffled,
  Task,
  TaskContext,
} from '../../src/fleet';
import type { Targets } from '../../src/fleet';
import { newTask } from './task-rows';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 734;

const planArb = fc.record({
  devices: fc.integer({ min: 0, max: 120 }),
  selection: fc.constantFrom('ALL', 'GRAY'),
  percent: fc.integer({ min: 1, max: 100 }),
  waves: fc.option(fc.constantFrom([10, 100], [5, 25, 100]), { nil: undefined }),
  needConfirm: fc.boolean(),
  overwrite: fc.constantFrom('keep', 'replace'),
  seed: fc.integer(),
  slice: fc.integer({ min: 1, max: 50 }),
  busy: fc.array(fc.nat(), { maxLength: 10 }),
});

function activeTask(deviceName: string, id: number, state: Task['state']): Task {
  return { ...newTask(9, deviceName, state), id, createdAt: 0, updatedAt: 0 };
}

describe('planner: the order and the slices', function () {
  it('the candidate order is the seeded shuffle of the one-shot plan, cut to the GRAY sample', function () {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer(),
        fc.integer({ min: 1, max: 100 }),
        (n, seed, percent) => {
          const items = Array.from({ length: n }, (_, i) => i);
          const gray: Targets = { selection: 'GRAY', productKey: 'pk1', percent };
          const expected = shuffled(items, seededRandom(seed)).slice(0, graySize(percent, n));
          should([...candidateOrder(n, gray, parseStrategy({}), seed)]).eql(expected);
          should([...candidateOrder(n, { selection: 'ALL', productKey: 'pk1' }, parseStrategy({}), seed)]).eql(items);
        },
      ),
      { numRuns: 200, seed: SEED },
    );
  });

  it('a plan built a slice at a time is the plan built at once (property)', function () {
    fc.assert(
      fc.property(planArb, (p) => {
        const candidates = Array.from({ length: p.devices }, (_, i) => ({
          deviceName: `d-${String(i).padStart(3, '0')}`,
          version: i % 3 ? '1.0.0' : null,
        }));
        const active = new Map<string, Task>();
        p.busy.forEach((b, k) => {
          if (p.devices === 0) return;
          const name = candidates[b % p.devices].deviceName;
          active.set(name, activeTask(name, k + 1, k % 2 ? 'IN_PROGRESS' : 'QUEUED'));
        });
        const targets: Targets = {
          selection: p.selection as Targets['selection'],
          productKey: 'pk1',
          percent: p.percent,
        };
        const strategy = parseStrategy({ waves: p.waves, needConfirm: p.needConfirm, overwrite: p.overwrite });
        const whole = planTasks({
          batchId: 3,
          productKey: 'pk1',
          module: 'default',
          targets,
          strategy,
          candidates,
          active,
          now: 1000,
          seed: p.seed,
        });
        const order = candidateOrder(candidates.length, targets, strategy, p.seed);
        const context: TaskContext = {
          batchId: 3,
          productKey: 'pk1',
          module: 'default',
          strategy,
          now: 1000,
          total: order.length,
        };
        const sliced = { tasks: [] as unknown[], replaced: [] as Task[] };
        for (let from = 0; from < order.length; from += p.slice) {
          const chosen = [...order.subarray(from, from + p.slice)].map((i) => candidates[i]);
          const plan = planSlice(context, chosen, from, active);
          sliced.tasks.push(...plan.tasks);
          sliced.replaced.push(...plan.replaced);
        }
        should(sliced).eql(whole);
      }),
      { numRuns: 300, seed: SEED },
    );
  });
});
