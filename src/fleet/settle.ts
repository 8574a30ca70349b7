/**
 * After a batch's tasks change: the verification result of a verify batch, the abort threshold,
 * waves, and completion; for a batch that ended, whether it still has tasks in flight. Runs after
 * the commit of the change, and opens a unit of work of its own only when one of these has
 * something to do (most progress reports need none).
 */
import { FleetCore, Touched, Work } from './core';
import { inFlightWindow } from './settings';
import type { TaskCounts } from './states';
import type { Batch } from './types';

/** How long a download window with too little room waits for more before a pass fills it. */
export const WINDOW_FILL_MS = 50;

/**
 * A download window that just got room: the next devices are pushed at once when a twentieth of
 * the window is free, else a little later, so a stream of devices finishing one by one costs one
 * scheduler pass (and its queries) per few dozen notices, not one each.
 */
export function windowWakeDelay(window: number, counts: TaskCounts): number {
  const room = window - counts.NOTIFIED - counts.IN_PROGRESS;
  return room >= Math.max(1, Math.floor(window / 20)) ? 0 : WINDOW_FILL_MS;
}

export function settleBatch(core: FleetCore, batchId: number, touched: Touched): void {
  const batch = core.openBatches.get(batchId);
  if (!batch) {
    // An aborted batch drains until its last task in flight finishes.
    if (touched.finished) core.trackDraining(batchId);
    return;
  }
  const counts = core.countsOf(batchId);
  const firmware = core.firmwareOf(batch.firmwareId);
  const window = inFlightWindow(batch.strategy, firmware);
  if (touched.finished && window && counts.QUEUED > 0) core.wake(windowWakeDelay(window, counts));
  const active = counts.CONFIRM + counts.QUEUED + counts.NOTIFIED + counts.IN_PROGRESS;
  const checkVerify = batch.type === 'verify' && counts.FAILED > 0 && firmware.verification !== 'verify-failed';
  const checkAbort =
    batch.strategy.abort !== undefined &&
    touched.newFailure &&
    (batch.state === 'IN_PROGRESS' || batch.state === 'PAUSED');
  const changed = touched.finished === true || touched.resumed === true;
  const checkWaves =
    changed && batch.strategy.waves !== undefined && batch.state === 'IN_PROGRESS' && waveFinished(core, batch);
  const checkEnd =
    changed && active === 0 && batch.type !== 'dynamic' && (batch.state === 'IN_PROGRESS' || batch.state === 'PAUSED');
  if (!checkVerify && !checkAbort && !checkWaves && !checkEnd) return;

  const pendingRetries = core.store.dueTasks(
    batchId,
    'FAILED',
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER,
  ).length;
  const finalFailures = counts.FAILED - pendingRetries;
  core.run((work) => {
    let current = batch;
    if (checkVerify && finalFailures > 0) core.setVerification(work, firmware, 'verify-failed');
    if (checkAbort) current = abortIfOverThreshold(core, work, current, counts, finalFailures);
    let force = touched.resumed === true;
    while (current.state === 'IN_PROGRESS' && current.strategy.waves && waveFinished(core, current)) {
      current = advanceWave(core, work, current, force);
      force = false;
    }
    if (checkEnd && pendingRetries === 0 && current.state !== 'CANCELED') {
      if (current.type === 'verify') {
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        core.setVerification(work, firmware, total > 0 && counts.SUCCEEDED === total ? 'verified' : 'verify-failed');
      }
      core.changeBatch(work, current, 'complete', null);
    }
  });
  // An abort left its tasks in flight to finish (counted now that the abort has committed).
  if (!core.openBatches.has(batchId)) core.trackDraining(batchId);
}

/** The reason of a task an abort canceled. */
const ABORTED = 'aborted';

/**
 * `abort: {failurePercent, minDevices}`: when too many finished tasks failed, the batch ends
 * CANCELED, as an AWS IoT Jobs abort does: tasks not yet notified are canceled and failed ones
 * give up their retries, while devices already notified or upgrading finish, fail or time out
 * (scheduler.ts `runDraining`). No notice, re-notice or retry is sent for the batch again.
 */
function abortIfOverThreshold(core: FleetCore, work: Work, batch: Batch, counts: TaskCounts, failed: number): Batch {
  const { failurePercent, minDevices } = batch.strategy.abort as { failurePercent: number; minDevices: number };
  const finished = counts.SUCCEEDED + failed;
  const percent = finished ? (failed * 100) / finished : 0;
  if (finished < minDevices || percent < failurePercent) return batch;
  cancelNotYetNotified(core, work, batch);
  core.clearPendingRetries(batch);
  const why = `aborted: ${failed} of ${finished} finished tasks failed (${percent.toFixed(1)}%, threshold ${failurePercent}%)`;
  return core.changeBatch(work, batch, 'abort', why);
}

/** The CONFIRM and QUEUED tasks of an aborted batch are canceled: they will get no notice. */
export function cancelNotYetNotified(core: FleetCore, work: Work, batch: Batch): void {
  for (const task of core.tasksFor(batch, undefined, ['CONFIRM', 'QUEUED']))
    core.apply(work, task, 'cancel', { reason: ABORTED, dueAt: null });
}

/** The open wave has no unfinished task, and another wave follows. */
function waveFinished(core: FleetCore, batch: Batch): boolean {
  if ((batch.strategy.waves?.length ?? 0) <= batch.wave + 1) return false;
  const c = core.store.waveCounts(batch.id, batch.wave);
  return c.CONFIRM + c.QUEUED + c.NOTIFIED + c.IN_PROGRESS === 0;
}

/** Opens the next wave when the finished one reached waveSuccessPercent (or a user resumed); else holds the batch. */
function advanceWave(core: FleetCore, work: Work, batch: Batch, force: boolean): Batch {
  const c = core.store.waveCounts(batch.id, batch.wave);
  const total = c.SUCCEEDED + c.FAILED + c.CANCELED;
  const rate = total ? (c.SUCCEEDED * 100) / total : 100;
  const needed = batch.strategy.waveSuccessPercent;
  if (!force && rate < needed) {
    const reason = `wave ${batch.wave + 1} succeeded on ${rate.toFixed(1)}% of its devices, below the ${needed}% needed to go on; resume to continue anyway`;
    return core.changeBatch(work, batch, 'pause', reason);
  }
  const now = core.clock.now();
  const next: Batch = { ...batch, wave: batch.wave + 1, updatedAt: now };
  core.store.updateBatch(next);
  core.cacheBatch(next);
  core.openWave(batch.id, next.wave, now);
  core.wake(0);
  return next;
}
