/**
 * One change made the same way to many tasks: a scheduler pass that sends 500 notices moves 500
 * QUEUED tasks to NOTIFIED, each with one more attempt, the same deadline and the same time. A
 * store writes such a change in one or two statements for the whole pass (SQLite: the rows, then
 * their transitions; PostgreSQL: both in one), where task by task it takes one or two per task
 * (BENCHMARKS.md section 3).
 *
 * The change is read off what the state table produced (`applyEvent`), never computed apart from
 * it: when any task changed in another way, there is no uniform change and each is saved alone.
 */
import { FleetError } from './errors';
import type { TaskState } from './states';
import type { Task } from './types';

export interface UniformTaskChange {
  /** The tasks, in the order their transitions are logged. */
  taskIds: number[];
  from: TaskState;
  to: TaskState;
  /** Added to each task's attempts. */
  attemptsAdded: number;
  dueAt: number | null;
  /** Each task's updatedAt and each transition's time. */
  at: number;
}

/** What a uniform change may change; every other field of a task stays as it was. */
export const CHANGED_FIELDS = ['state', 'attempts', 'dueAt', 'updatedAt'] as const;

/** The fields a uniform change leaves alone (the store keeps them from the row as stored). */
export const KEPT_FIELDS = [
  'id',
  'batchId',
  'productKey',
  'deviceName',
  'module',
  'srcVersion',
  'reason',
  'step',
  'retries',
  'wave',
  'startedAt',
  'createdAt',
] as const satisfies readonly (keyof Task)[];

/**
 * The change that took each `before[i]` to `after[i]`, when it is one change for all of them: one
 * state to one other state, the same number of attempts added, the same deadline and time, and
 * nothing else changed. Undefined otherwise (and for no tasks, or a state kept: a re-notice).
 */
export function uniformChange(before: readonly Task[], after: readonly Task[]): UniformTaskChange | undefined {
  if (before.length === 0 || before.length !== after.length) return undefined;
  const change: UniformTaskChange = {
    taskIds: [],
    from: before[0].state,
    to: after[0].state,
    attemptsAdded: after[0].attempts - before[0].attempts,
    dueAt: after[0].dueAt,
    at: after[0].updatedAt,
  };
  if (change.from === change.to) return undefined;
  for (let i = 0; i < before.length; i++) {
    const was = before[i];
    const is = after[i];
    if (
      was.state !== change.from ||
      is.state !== change.to ||
      is.attempts - was.attempts !== change.attemptsAdded ||
      is.dueAt !== change.dueAt ||
      is.updatedAt !== change.at
    ) {
      return undefined;
    }
    for (const field of KEPT_FIELDS) if (is[field] !== was[field]) return undefined;
    change.taskIds.push(was.id);
  }
  return change;
}

/** The error a store gives when only `found` of the change's tasks were in its `from` state (it saved none). */
export function notAsExpected(change: UniformTaskChange, found: number): FleetError {
  const n = change.taskIds.length;
  return new FleetError('OTA_STORE', `${n - found} of ${n} tasks were not ${change.from} as expected; none was saved`);
}
