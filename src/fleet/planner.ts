/**
 * Which tasks a new batch gets: target sampling (GRAY), waves, and the overwrite policy against
 * tasks other batches hold. Pure: the fleet feeds it candidates and active tasks from the store.
 */
import type { Strategy, Targets } from './settings';
import type { NewTask } from './store';
import type { Task } from './types';

export interface Candidate {
  deviceName: string;
  version: string | null;
}

export interface PlanInput {
  batchId: number;
  productKey: string;
  module: string;
  targets: Targets;
  strategy: Strategy;
  candidates: Candidate[];
  /** Active tasks of other batches for the same product and module, by device name. */
  active: Map<string, Task>;
  now: number;
  seed: number;
}

export interface Plan {
  tasks: NewTask[];
  /** Pending tasks of other batches that the `replace` policy cancels. */
  replaced: Task[];
}

/** mulberry32: a small seeded PRNG, so a batch's sample is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(items: T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** GRAY: the percentage of the matching devices, rounded down, at least one. */
export function graySize(percent: number, total: number): number {
  if (total === 0) return 0;
  return Math.min(total, Math.max(1, Math.floor((percent / 100) * total)));
}

/** The wave of the task at `index` of `total`, for cumulative percentages like [5, 25, 100]. */
export function waveOf(index: number, total: number, waves: number[] | undefined): number {
  if (!waves) return 0;
  for (let w = 0; w < waves.length; w++) {
    const end = Math.max(w === 0 ? 1 : 0, Math.ceil((waves[w] / 100) * total));
    if (index < end) return w;
  }
  return waves.length - 1;
}

/**
 * The order in which the candidates get tasks, as indices into the candidate list: as listed, or
 * shuffled by the batch's seed for GRAY and waves, and cut to GRAY's sample. The same seed gives the same
 * order however the tasks are then built (all at once, or a slice at a time).
 */
export function candidateOrder(total: number, targets: Targets, strategy: Strategy, seed: number): Uint32Array {
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  if (targets.selection !== 'GRAY' && !strategy.waves) return order;
  const random = seededRandom(seed);
  // The swaps of `shuffled`, on indices: compact (4 bytes a device) for a million candidates.
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return targets.selection === 'GRAY' ? order.subarray(0, graySize(targets.percent ?? 100, total)) : order;
}

/** What every task of a batch shares. */
export interface TaskContext {
  batchId: number;
  productKey: string;
  module: string;
  strategy: Strategy;
  now: number;
  /** How many tasks the batch gets (the waves are shares of it). */
  total: number;
}

/**
 * The tasks of consecutive candidates in the batch's order, the first at `startIndex`; `active`
 * holds the active tasks other batches have for these devices, by device name.
 */
export function planSlice(
  context: TaskContext,
  chosen: Candidate[],
  startIndex: number,
  active: Map<string, Task>,
): Plan {
  const { strategy, now } = context;
  const startAt = Math.max(now, strategy.scheduleStart ?? now);
  const tasks: NewTask[] = [];
  const replaced: Task[] = [];
  chosen.forEach((c, i) => {
    const wave = waveOf(startIndex + i, context.total, strategy.waves);
    const task: NewTask = {
      batchId: context.batchId,
      productKey: context.productKey,
      deviceName: c.deviceName,
      module: context.module,
      srcVersion: c.version,
      state: strategy.needConfirm ? 'CONFIRM' : 'QUEUED',
      reason: null,
      step: null,
      attempts: 0,
      retries: 0,
      wave,
      dueAt: strategy.needConfirm || wave > 0 ? null : startAt,
      startedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    const other = active.get(c.deviceName);
    if (other) {
      if (strategy.overwrite === 'replace' && other.state !== 'IN_PROGRESS') {
        replaced.push(other);
      } else {
        task.state = 'FAILED';
        task.dueAt = null;
        task.reason =
          other.state === 'IN_PROGRESS'
            ? `overwrite refused: the device is upgrading in batch ${other.batchId}, and a running task is never replaced`
            : `overwrite refused: the device has a ${other.state} task in batch ${other.batchId} (overwrite policy "keep")`;
      }
    }
    tasks.push(task);
  });
  return { tasks, replaced };
}

/** The whole plan at once: the candidates' order, then every task. */
export function planTasks(input: PlanInput): Plan {
  const order = candidateOrder(input.candidates.length, input.targets, input.strategy, input.seed);
  const chosen = Array.from(order, (i) => input.candidates[i]);
  const context: TaskContext = {
    batchId: input.batchId,
    productKey: input.productKey,
    module: input.module,
    strategy: input.strategy,
    now: input.now,
    total: chosen.length,
  };
  return planSlice(context, chosen, 0, input.active);
}
