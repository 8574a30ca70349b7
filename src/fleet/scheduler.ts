/**
 * The scheduler: one pass over the open batches — start planned ones, end those past their
 * schedule, retry, recover after a restart, re-notify, push within the rate — and over timeouts,
 * also of the tasks still in flight in aborted batches (`core.drainingBatches`).
 * Deadlines are stored on the tasks (dueAt); the pass returns when it must run again, and the
 * timer is only a wake-up.
 */
import { FleetCore } from './core';
import { RateLimiter } from './rate';
import { Recovery, RECOVERY_DELAY_MS, RECOVERY_REASON } from './recovery';
import { inFlightWindow } from './settings';
import { cancelNotYetNotified } from './settle';
import { isOpenBatch } from './states';
import { stopsTheRun } from './replay-store';
import type { Batch } from './types';

export interface SchedulerState {
  limiters: Map<number, { perMinute: number; tokens: number; last: number }>;
  recovery: Map<number, number>;
}

/** Pushes (or retries, re-notices, timeouts) per batch per pass, so a large batch never blocks the event loop. */
export const PER_PASS = 500;

export class Scheduler {
  private readonly limiters = new Map<number, RateLimiter>();
  private running = false;
  private recovery: Recovery;

  constructor(private readonly core: FleetCore) {
    this.recovery = new Recovery(core.clock.now(), core.recoveryDelayMs ?? RECOVERY_DELAY_MS, core.openBatches.keys());
  }

  /** One pass. Returns nothing; arms the next wake-up itself. */
  pass(): void {
    if (this.running) return;
    this.running = true;
    const core = this.core;
    let next = Infinity;
    try {
      const now = core.clock.now();
      for (const batch of [...core.openBatches.values()])
        next = Math.min(next, this.runTimeouts(batch, now), this.runBatch(batch, now));
      for (const batch of [...core.drainingBatches.values()]) next = Math.min(next, this.runDraining(batch, now));
    } catch (err) {
      // A unit of work that runs again (replay-store.ts) is not a failure of the pass.
      if (stopsTheRun(err)) throw err;
      core.emit('warning', `scheduler: ${(err as Error).message}`);
      next = Math.min(next, core.clock.now() + 5000);
    } finally {
      this.running = false;
    }
    if (next < Infinity) core.wake(next - core.clock.now());
  }

  /** The scheduler's memory: rate buckets and recovery cursors (a unit of work that may run again restores it). */
  snapshot(): SchedulerState {
    const limiters = new Map<number, { perMinute: number; tokens: number; last: number }>();
    for (const [id, l] of this.limiters) limiters.set(id, { perMinute: l.perMinute, ...l.state() });
    return { limiters, recovery: this.recovery.state() };
  }

  restore(state: SchedulerState): void {
    this.limiters.clear();
    for (const [id, l] of state.limiters) {
      const limiter = new RateLimiter(l.perMinute, l.last);
      limiter.restore(l);
      this.limiters.set(id, limiter);
    }
    this.recovery.restore(state.recovery);
  }

  /** Recovery starts again at `startedAt` (a process that took over the scheduling): NOTIFIED tasks from before get one more notice. */
  recoverFrom(startedAt: number): void {
    this.recovery = new Recovery(
      startedAt,
      this.core.recoveryDelayMs ?? RECOVERY_DELAY_MS,
      this.core.openBatches.keys(),
    );
  }

  /** The batches open at this start, learned in the first unit of a fleet whose store answers only inside units. */
  recoverOpenBatches(): void {
    this.recovery.include(this.core.openBatches.keys());
  }

  forget(batchId: number): void {
    this.limiters.delete(batchId);
    this.recovery.finish(batchId);
  }

  private runBatch(batch: Batch, now: number): number {
    const core = this.core;
    const { strategy } = batch;
    if (batch.state === 'PLANNED') {
      if ((strategy.scheduleStart ?? 0) > now) return strategy.scheduleStart as number;
      batch = core.run((work) => core.changeBatch(work, batch, 'start', null));
    }
    if (strategy.scheduleFinish !== undefined && strategy.scheduleFinish <= now) {
      this.finishSchedule(batch);
      return Infinity;
    }
    const finish = strategy.scheduleFinish ?? Infinity;
    if (batch.state !== 'IN_PROGRESS') return finish;
    // The verification gate, for a batch that starts (or restarts) with firmware no longer verified.
    const refusal = core.gateRefusalOf(batch);
    if (refusal) {
      core.run((work) => core.changeBatch(work, batch, 'pause', refusal));
      return finish;
    }
    const retries = this.runRetries(batch, now);
    const recovered = this.runRecovery(batch, now);
    // Until the recovery is through, the tasks it has yet to reach are not re-noticed as retries.
    const renotices = this.recovery.isPending(batch.id) ? Infinity : this.runRenotices(batch, now);
    return Math.min(finish, retries, recovered, renotices, this.runPushes(batch, now));
  }

  /**
   * An aborted batch: its tasks in flight finish, or fail unanswered or by timeout, and it sends
   * nothing more. A device that rebooted before answering went back to QUEUED: canceled like the
   * tasks the abort found not yet notified.
   */
  private runDraining(batch: Batch, now: number): number {
    const core = this.core;
    const c = core.countsOf(batch.id);
    if (c.CONFIRM + c.QUEUED > 0) core.run((work) => cancelNotYetNotified(core, work, batch));
    return Math.min(this.runTimeouts(batch, now), this.runRenotices(batch, now));
  }

  /** At scheduleFinish, unfinished tasks are canceled and the batch completes. */
  private finishSchedule(batch: Batch): void {
    const core = this.core;
    const at = new Date(batch.strategy.scheduleFinish as number).toISOString();
    core.run((work) => {
      for (const task of core.tasksFor(batch, undefined, ['CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS'])) {
        core.apply(work, task, 'cancel', { reason: `the batch's schedule finished at ${at}`, dueAt: null });
      }
      core.clearPendingRetries(batch);
      core.changeBatch(work, batch, 'complete', `the schedule finished at ${at}`);
    });
    this.forget(batch.id);
  }

  /** Failed tasks whose retry time came go back to QUEUED (unless the device is busy elsewhere). */
  private runRetries(batch: Batch, now: number): number {
    const core = this.core;
    // The live counts say when there is nothing to ask the store (here and in the two below).
    if (core.countsOf(batch.id).FAILED === 0) return Infinity;
    const due = core.store.dueTasks(batch.id, 'FAILED', now, PER_PASS);
    if (due.length) {
      core.run((work) => {
        for (const task of due) {
          const other = core.activeTask(task, task.module);
          if (other) {
            core.updateTask(task, {
              dueAt: null,
              reason: `${task.reason}; retry skipped: the device has a task in batch ${other.batchId}`,
            });
            work.touched.set(batch.id, { newFailure: true, ...work.touched.get(batch.id), finished: true });
          } else {
            core.apply(work, task, 'retry', { dueAt: now, retries: task.retries + 1 });
          }
        }
      });
    }
    return due.length === PER_PASS ? now : (core.store.nextDue(batch.id, 'FAILED') ?? Infinity);
  }

  /**
   * After a restart, each NOTIFIED task stored before it gets one more notice (its first may never
   * have left), within the batch's rate, using none of its retries; a page at a time from the store.
   */
  private runRecovery(batch: Batch, now: number): number {
    const core = this.core;
    const recovery = this.recovery;
    if (!recovery.isPending(batch.id)) return Infinity;
    // Just started: a notice sent now could meet an mqtt out still connecting, which drops it.
    if (now < recovery.resumeAt) return recovery.resumeAt;
    const egress = core.egressFor(batch);
    if (!egress) {
      core.warnNoEgress();
      return Infinity; // attachEgress wakes the scheduler
    }
    const limiter = this.limiterFor(batch, now);
    if (limiter && limiter.nextAt(now) > now) return limiter.nextAt(now);
    const pageSize = limiter ? Math.min(limiter.burst, PER_PASS) : PER_PASS;
    const page = core.store.tasksUnchangedSince(
      batch.id,
      'NOTIFIED',
      recovery.startedAt,
      recovery.cursorOf(batch.id),
      pageSize,
    );
    const granted = limiter ? limiter.take(now, page.length) : page.length;
    const due = page.slice(0, granted);
    if (due.length) {
      const notices = core.noticesOf(batch);
      core.run((work) => {
        for (const task of due) {
          const next = core.apply(work, task, 'renotify', {
            ...core.noticePatch(task, batch),
            reason: RECOVERY_REASON,
          });
          core.queueNotice(work, next, batch, egress, notices);
        }
      });
      recovery.advance(batch.id, due[due.length - 1].id);
    }
    if (page.length < pageSize && due.length === page.length) {
      recovery.finish(batch.id);
      return Infinity;
    }
    return limiter ? limiter.nextAt(core.clock.now()) : now;
  }

  /** Notices left unanswered: sent again while retries remain (and the batch was not aborted), then the task fails. */
  private runRenotices(batch: Batch, now: number): number {
    const core = this.core;
    if (core.countsOf(batch.id).NOTIFIED === 0) return Infinity;
    const due = core.store.dueTasks(batch.id, 'NOTIFIED', now, PER_PASS);
    if (due.length) {
      const aborted = !isOpenBatch(batch.state);
      const egress = aborted ? undefined : core.egressFor(batch);
      const notices = egress ? core.noticesOf(batch) : undefined;
      core.run((work) => {
        for (const task of due) {
          if (task.retries >= batch.strategy.retryCount) {
            core.apply(work, task, 'fail', { reason: `no answer to ${task.attempts} notice(s)`, dueAt: null });
          } else if (aborted) {
            core.apply(work, task, 'fail', {
              reason: `no answer to ${task.attempts} notice(s), and the batch was aborted: no more are sent`,
              dueAt: null,
            });
          } else if (egress && notices) {
            const next = core.apply(work, task, 'renotify', {
              ...core.noticePatch(task, batch),
              retries: task.retries + 1,
            });
            core.queueNotice(work, next, batch, egress, notices);
          }
        }
      });
      if (!egress && !aborted) core.warnNoEgress();
    }
    return due.length === PER_PASS ? now : (core.store.nextDue(batch.id, 'NOTIFIED') ?? Infinity);
  }

  /** QUEUED tasks that are due get their notice, within maximumPerMinute. */
  private runPushes(batch: Batch, now: number): number {
    const core = this.core;
    if (core.countsOf(batch.id).QUEUED === 0) return Infinity;
    const first = core.store.nextDue(batch.id, 'QUEUED');
    if (first === undefined) return Infinity;
    if (first > now) return first;
    const egress = core.egressFor(batch);
    if (!egress) {
      core.warnNoEgress();
      return Infinity; // attachEgress wakes the scheduler
    }
    const limiter = this.limiterFor(batch, now);
    let allowed = PER_PASS;
    const window = inFlightWindow(batch.strategy, core.firmwareOf(batch.firmwareId));
    if (window) {
      // Devices notified but not done download now: a window keeps the package server out of overload.
      const counts = core.countsOf(batch.id);
      allowed = Math.max(0, Math.min(allowed, window - counts.NOTIFIED - counts.IN_PROGRESS));
      if (allowed === 0) return Infinity; // a task that finishes wakes the scheduler
    }
    if (limiter) allowed = limiter.take(now, allowed);
    let pushed = 0;
    if (allowed > 0) {
      const due = core.store.dueTasks(batch.id, 'QUEUED', now, allowed);
      pushed = due.length;
      const notices = core.noticesOf(batch);
      core.run((work) => {
        const notified = core.applyToMany(work, due, 'notify', (task, at) => core.noticePatch(task, batch, at));
        for (const task of notified) core.queueNotice(work, task, batch, egress, notices);
      });
    }
    const remaining = core.store.nextDue(batch.id, 'QUEUED');
    if (remaining === undefined) return Infinity;
    // Rate-limited: wake when a pass' worth of pushes (up to 100 ms of the rate) may go, not for each one.
    if (limiter) return Math.max(remaining, limiter.nextAt(core.clock.now(), Math.min(limiter.burst, PER_PASS)));
    return pushed === allowed ? now : remaining;
  }

  private limiterFor(batch: Batch, now: number): RateLimiter | undefined {
    const perMinute = batch.strategy.maximumPerMinute;
    if (!perMinute) return undefined;
    let limiter = this.limiters.get(batch.id);
    if (!limiter) this.limiters.set(batch.id, (limiter = new RateLimiter(perMinute, now)));
    return limiter;
  }

  /** IN_PROGRESS tasks past timeoutInMinutes fail, in any open batch (paused too) or aborted one; timeouts are not retried. */
  private runTimeouts(batch: Batch, now: number): number {
    const core = this.core;
    const minutes = batch.strategy.timeoutInMinutes;
    if (!minutes || core.countsOf(batch.id).IN_PROGRESS === 0) return Infinity;
    const due = core.store.dueTasks(batch.id, 'IN_PROGRESS', now, PER_PASS);
    if (due.length) {
      core.run((work) => {
        for (const task of due) {
          core.apply(work, task, 'timeout', {
            reason: `timed out: no success within ${minutes} minute(s) of the first progress report`,
            dueAt: null,
          });
        }
      });
    }
    return due.length === PER_PASS ? now : (core.store.nextDue(batch.id, 'IN_PROGRESS') ?? Infinity);
  }
}
