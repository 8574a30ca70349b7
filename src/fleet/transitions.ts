/**
 * The one way a task changes: `applyEvent` checks the event against the state table and returns
 * the new task and the transition record, or a refusal. It is pure; the fleet persists the result
 * in a transaction and emits the transition after the commit.
 */
import { refused } from './errors';
import { nextTaskState, TaskEvent } from './states';
import type { Task, Transition } from './types';

/** Fields an event may set along with the state. */
export interface TaskPatch {
  reason?: string | null;
  step?: number | null;
  dueAt?: number | null;
  startedAt?: number | null;
  attempts?: number;
  retries?: number;
  srcVersion?: string | null;
}

export type Applied = { ok: true; task: Task; transition: Transition } | { ok: false; reason: string };

export function applyEvent(task: Task, event: TaskEvent, patch: TaskPatch, at: number): Applied {
  const outcome = nextTaskState(task.state, event);
  if (!outcome.ok) return outcome;
  const next: Task = { ...task, state: outcome.to, updatedAt: at };
  setDefined(next, patch);
  // A task that leaves FAILED or CANCELED starts clean; one that reaches a final state has no deadline.
  if (outcome.to === 'QUEUED' && (task.state === 'FAILED' || task.state === 'CANCELED')) {
    next.step = null;
    next.startedAt = null;
    if (patch.reason === undefined) next.reason = null;
  }
  if ((outcome.to === 'SUCCEEDED' || outcome.to === 'CANCELED') && patch.dueAt === undefined) next.dueAt = null;
  return {
    ok: true,
    task: next,
    transition: {
      taskId: task.id,
      batchId: task.batchId,
      productKey: task.productKey,
      deviceName: task.deviceName,
      module: task.module,
      from: task.state,
      to: outcome.to,
      reason: next.reason,
      step: next.step,
      attempts: next.attempts,
      at,
    },
  };
}

/** An event the state table accepted: the task after it, and its transition. */
export type Changed = Extract<Applied, { ok: true }>;

/** The state table's answer for an event, or its refusal thrown (OTA_REFUSED). */
export function appliedOrRefused(task: Task, event: TaskEvent, patch: TaskPatch, at: number): Changed {
  const applied = applyEvent(task, event, patch, at);
  if (!applied.ok) throw refused(applied.reason);
  return applied;
}

/** Sets on the task what the patch defines (undefined leaves a field as it is), in place. */
function setDefined(task: Task, patch: TaskPatch): void {
  const out = task as unknown as Record<string, unknown>;
  for (const key in patch) {
    const value = (patch as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
}
