/**
 * The task and batch state machines, each one table: from-state × event → to-state. Anything not
 * in a table is refused with a reason. Names are the platform's own (ota-protocol.md).
 */
export const TASK_STATES = ['CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELED'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States in which a task still holds its device (one such task per device and module). */
export const ACTIVE_TASK_STATES: readonly TaskState[] = ['CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS'];

export type TaskEvent =
  | 'confirm' // a flow or a user approved the install
  | 'notify' // the notice was sent
  | 'renotify' // no answer in time: the notice is sent again (a retry)
  | 'rebooted' // the device reported its old version before answering: push it again
  | 'progress' // a T3 step 0..100
  | 'fail' // a T3 step -1..-4, a version mismatch, or notices left unanswered
  | 'succeed' // the device reported the destination version
  | 'timeout' // no success within timeoutInMinutes of the first T3
  | 'cancel' // the batch (or its abort), a user or the schedule ended it
  | 'retry' // the retry policy queues a failed task again
  | 'reupgrade'; // a user queues a failed or canceled task again

const TASK_TABLE: Record<TaskState, Partial<Record<TaskEvent, TaskState>>> = {
  CONFIRM: { confirm: 'QUEUED', succeed: 'SUCCEEDED', cancel: 'CANCELED' },
  QUEUED: { notify: 'NOTIFIED', succeed: 'SUCCEEDED', cancel: 'CANCELED' },
  NOTIFIED: {
    renotify: 'NOTIFIED',
    rebooted: 'QUEUED',
    progress: 'IN_PROGRESS',
    fail: 'FAILED',
    succeed: 'SUCCEEDED',
    cancel: 'CANCELED',
  },
  IN_PROGRESS: { progress: 'IN_PROGRESS', fail: 'FAILED', timeout: 'FAILED', succeed: 'SUCCEEDED', cancel: 'CANCELED' },
  SUCCEEDED: {},
  FAILED: { retry: 'QUEUED', reupgrade: 'QUEUED' },
  CANCELED: { reupgrade: 'QUEUED' },
};

export type Outcome<S> = { ok: true; to: S } | { ok: false; reason: string };

export function nextTaskState(from: TaskState, event: TaskEvent): Outcome<TaskState> {
  const to = TASK_TABLE[from][event];
  if (to) return { ok: true, to };
  const allowed = Object.keys(TASK_TABLE[from]);
  return {
    ok: false,
    reason:
      `a ${from} task cannot take "${event}"` +
      (allowed.length ? ` (it can take: ${allowed.join(', ')})` : ` (${from} is final)`),
  };
}

export function isActiveTask(state: TaskState): boolean {
  return ACTIVE_TASK_STATES.includes(state);
}

export const BATCH_STATES = ['CREATING', 'PLANNED', 'IN_PROGRESS', 'PAUSED', 'COMPLETED', 'CANCELED'] as const;
export type BatchState = (typeof BATCH_STATES)[number];

export type BatchEvent =
  | 'plan' // its last task is stored and its start is scheduled later
  | 'start'
  | 'pause'
  | 'resume'
  | 'complete'
  | 'cancel' // a user ended it: every active task is canceled
  | 'abort' // its abort threshold was crossed: tasks not yet notified are canceled, those in flight finish
  | 'reopen';

const BATCH_TABLE: Record<BatchState, Partial<Record<BatchEvent, BatchState>>> = {
  // A large batch's tasks are stored a slice at a time (batch-creation.ts); it sends nothing until
  // the last one is stored. A cancel stops the creation and removes the tasks stored so far.
  CREATING: { plan: 'PLANNED', start: 'IN_PROGRESS', cancel: 'CANCELED' },
  PLANNED: { start: 'IN_PROGRESS', complete: 'COMPLETED', cancel: 'CANCELED' },
  IN_PROGRESS: { pause: 'PAUSED', complete: 'COMPLETED', cancel: 'CANCELED', abort: 'CANCELED' },
  PAUSED: { resume: 'IN_PROGRESS', complete: 'COMPLETED', cancel: 'CANCELED', abort: 'CANCELED' },
  // A re-upgrade of a task of a completed batch opens it again.
  COMPLETED: { reopen: 'IN_PROGRESS' },
  CANCELED: {},
};

export function nextBatchState(from: BatchState, event: BatchEvent): Outcome<BatchState> {
  const to = BATCH_TABLE[from][event];
  if (to) return { ok: true, to };
  const allowed = Object.keys(BATCH_TABLE[from]);
  return {
    ok: false,
    reason:
      `a ${from} batch cannot ${event}` + (allowed.length ? ` (it can: ${allowed.join(', ')})` : ` (${from} is final)`),
  };
}

export function isOpenBatch(state: BatchState): boolean {
  return state === 'PLANNED' || state === 'IN_PROGRESS' || state === 'PAUSED';
}

export type TaskCounts = Record<TaskState, number>;

export function emptyCounts(): TaskCounts {
  return { CONFIRM: 0, QUEUED: 0, NOTIFIED: 0, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 };
}
