/**
 * A large batch, created a slice at a time so that no turn of the event loop holds it long.
 *
 * The batch is stored first, in state CREATING. Then, one short transaction per turn
 * (setImmediate between them): its candidates are read by pages of the devices' primary key into
 * a compact list (candidate-list.ts: each one's name, version and the id of the task holding the
 * device now, in typed arrays and byte buffers), put in the batch's order (planner.ts
 * `candidateOrder`: the same seed gives the same order as the one-shot path), and their tasks are
 * built and inserted `sliceSize` at a time. The last step, one transaction, cancels the pending
 * tasks of other batches that the `replace` policy takes over and moves the batch to PLANNED or
 * IN_PROGRESS: nothing outside the batch changes before it.
 *
 * All or nothing: while CREATING, the batch's tasks belong to no device (core.ts `activeTask`
 * passes over them, the scheduler never sees the batch). A process stopped in the middle leaves a
 * CREATING batch, which the next start removes with its tasks, a slice at a time
 * (`removeUnfinished`): as if it had never been asked for. A cancel by a user stops the creation,
 * removes the tasks stored so far and leaves the batch CANCELED, with none.
 */
import { CandidateList } from './candidate-list';
import { CreatingBatch, FleetCore } from './core';
import { refused } from './errors';
import { candidateOrder, Candidate, planSlice, TaskContext } from './planner';
import type { BatchRequest } from './settings';
import { isActiveTask } from './states';
import type { CandidatePage, CandidateQuery } from './store';
import type { Batch, BatchView, Firmware, Task } from './types';

/** Tasks per slice: 8 ms median of planning and inserting on a 2-core machine (BENCHMARKS.md section 8). */
export const DEFAULT_SLICE_SIZE = 2000;

/** Candidates read per turn, as a multiple of the slice size (reading one costs about a third of inserting it). */
const READ_PAGES_PER_SLICE = 2;

/** Slices between two checkpoints of the write-ahead log. */
const SLICES_PER_CHECKPOINT = 2;

/** The most `batch` events a creation emits per second (each slice would be 50 to 100 a second). */
const PROGRESS_EVERY_MS = 250;

export interface CreationPlan {
  request: BatchRequest;
  firmware: Firmware;
  query: CandidateQuery;
  /** A differential package also keeps only these source versions (checked after the query). */
  diffSources?: string[];
  sliceSize: number;
  now: number;
}

type Phase = 'read' | 'insert' | 'checkpoint' | 'finish' | 'remove' | 'ended';

export class Creation implements CreatingBatch {
  readonly productKey: string;
  readonly module: string;
  creation: { done: number; total: number | null } = { done: 0, total: null };
  /** Resolves with the batch once it left CREATING (PLANNED, IN_PROGRESS or CANCELED). */
  readonly settled: Promise<BatchView>;

  private phase: Phase = 'read';
  /** Each candidate's name, version and the task holding its module when read (0: none). */
  private candidates = new CandidateList();
  private cursor: string | null = null;
  private listedAt = 0;
  private order: Uint32Array = new Uint32Array(0);
  private context: TaskContext | undefined;
  /** Pending tasks of other batches the `replace` policy takes over, canceled in the last step. */
  private replaced: number[] = [];
  /** Why the tasks are being removed: a user's cancel keeps the batch (CANCELED); anything else removes it. */
  private removal: { reason: string; keep: boolean; error?: unknown } | undefined;
  private lastProgress = 0;
  private slicesSinceCheckpoint = 0;
  private resolve!: (view: BatchView) => void;
  private reject!: (err: unknown) => void;

  constructor(
    private readonly core: FleetCore,
    readonly batchId: number,
    private readonly plan: CreationPlan | undefined,
    productKey: string,
    module: string,
  ) {
    this.productKey = productKey;
    this.module = module;
    this.settled = new Promise<BatchView>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A caller that never waits must not see an unhandled rejection.
    this.settled.catch(() => undefined);
    core.creating.set(batchId, this);
  }

  /** Takes the first page of candidates, already read (`listed`: how many listed devices it covered). */
  take(page: CandidatePage, listed: number): void {
    this.append(page.candidates);
    this.cursor = page.next;
    this.listedAt = listed;
  }

  /** Stops the creation at the next turn and removes what it stored; the batch ends CANCELED. */
  cancel(reason: string): void {
    if (this.phase === 'ended' || this.removal) return;
    this.removal = { reason, keep: true };
    this.phase = 'remove';
  }

  /** Removes the batch and its tasks (a creation a previous process did not finish). */
  removeAll(reason: string): void {
    this.removal = { reason, keep: false };
    this.phase = 'remove';
  }

  /** Runs the next step at the next turn, and so on until the batch is complete or removed. */
  schedule(): void {
    setImmediate(() => this.step());
  }

  private step(): void {
    if (this.core.isClosed)
      return this.end(
        undefined,
        new Error(`the fleet closed while batch ${this.batchId} was being created; the next start removes it`),
      );
    try {
      if (this.phase === 'read') this.read();
      else if (this.phase === 'insert') this.insert();
      else if (this.phase === 'checkpoint') this.checkpoint();
      else if (this.phase === 'finish') this.finish();
      else if (this.phase === 'remove') this.remove();
    } catch (err) {
      if (this.core.isClosed || this.phase === 'remove') return this.end(undefined, err);
      this.removal = { reason: `creation failed: ${(err as Error).message}`, keep: false, error: err };
      this.phase = 'remove';
    }
    if (this.phase !== 'ended') this.schedule();
  }

  private append(candidates: { deviceName: string; version: string | null; activeTaskId: number | null }[]): void {
    const diff = this.plan?.diffSources;
    for (const c of candidates) {
      if (diff && (c.version === null || !diff.includes(c.version))) continue;
      this.candidates.push(c.deviceName, c.version, c.activeTaskId ?? 0);
    }
  }

  private read(): void {
    const plan = this.plan as CreationPlan;
    const size = plan.sliceSize * READ_PAGES_PER_SLICE;
    const listed = plan.query.devices;
    if (listed) {
      if (this.listedAt < listed.length) {
        const chunk = listed.slice(this.listedAt, this.listedAt + size);
        this.append(this.core.store.candidatePage({ ...plan.query, devices: chunk }, null, chunk.length).candidates);
        this.listedAt += chunk.length;
      }
      if (this.listedAt < listed.length) return;
    } else if (this.cursor !== null) {
      const page = this.core.store.candidatePage(plan.query, this.cursor, size);
      this.append(page.candidates);
      this.cursor = page.next;
      if (this.cursor !== null) return;
    }
    const { targets, strategy, type } = plan.request;
    if (this.candidates.length === 0 && type !== 'dynamic') throw refused(noMatch(plan));
    this.order = candidateOrder(this.candidates.length, targets, strategy, plan.now ^ this.batchId);
    this.context = {
      batchId: this.batchId,
      productKey: this.productKey,
      module: this.module,
      strategy,
      now: plan.now,
      total: this.order.length,
    };
    this.creation = { done: 0, total: this.order.length };
    this.phase = 'insert';
    this.progress(true);
  }

  private insert(): void {
    const plan = this.plan as CreationPlan;
    const context = this.context as TaskContext;
    const from = this.creation.done;
    const to = Math.min(this.order.length, from + plan.sliceSize);
    const chosen: Candidate[] = [];
    const active = new Map<string, Task>();
    for (let k = from; k < to; k++) {
      const i = this.order[k];
      chosen.push({ deviceName: this.candidates.deviceName(i), version: this.candidates.version(i) });
      // Read again now: the task may have ended since its device was read.
      const activeId = this.candidates.activeTaskId(i);
      const other = activeId ? this.core.store.task(activeId) : undefined;
      if (other && isActiveTask(other.state) && !this.core.creating.has(other.batchId))
        active.set(other.deviceName, other);
    }
    const { tasks, replaced } = planSlice(context, chosen, from, active);
    this.core.run((work) => {
      this.core.insertTasks(work, tasks);
      // Nothing to settle until the batch is complete.
      work.touched.delete(this.batchId);
    });
    for (const task of replaced) this.replaced.push(task.id);
    this.creation = { done: to, total: this.order.length };
    if (to === this.order.length) {
      this.release();
      this.phase = 'finish';
    } else if (++this.slicesSinceCheckpoint >= SLICES_PER_CHECKPOINT) this.phase = 'checkpoint';
    this.progress(false);
  }

  /**
   * A turn of its own that copies the slices just written from the write-ahead log into the
   * database: otherwise every 4 MB of them a commit would meet the store's automatic checkpoint
   * of the whole log, the longest pause of the creation.
   */
  private checkpoint(): void {
    this.core.store.checkpoint();
    this.slicesSinceCheckpoint = 0;
    this.phase = 'insert';
  }

  /** The candidate list is no longer needed once every task is stored. */
  private release(): void {
    this.candidates = new CandidateList();
    this.order = new Uint32Array(0);
  }

  private finish(): void {
    const plan = this.plan as CreationPlan;
    const core = this.core;
    const batch = core.run((work) => {
      core.creating.delete(this.batchId);
      try {
        for (const id of this.replaced) {
          const other = core.store.task(id);
          if (!other || !isActiveTask(other.state)) continue;
          if (other.state !== 'IN_PROGRESS') {
            core.apply(work, other, 'cancel', { reason: `replaced by batch ${this.batchId}`, dueAt: null });
            continue;
          }
          // It started upgrading while this batch was created: a running task is never replaced.
          const mine = core.store.taskOf(this.batchId, other, this.module);
          if (mine && isActiveTask(mine.state))
            core.apply(work, mine, 'cancel', {
              reason: `overwrite refused: the device started upgrading in batch ${other.batchId} while this batch was created, and a running task is never replaced`,
              dueAt: null,
            });
        }
        if (plan.request.type === 'verify') core.setVerification(work, plan.firmware, 'verifying');
        const current = core.batchRecord(this.batchId);
        const later =
          plan.request.strategy.scheduleStart !== undefined && plan.request.strategy.scheduleStart > core.clock.now();
        const next = core.changeBatch(work, current, later ? 'plan' : 'start', null);
        work.touched.set(this.batchId, { newFailure: false, ...work.touched.get(this.batchId), finished: true });
        return next;
      } catch (err) {
        core.creating.set(this.batchId, this);
        throw err;
      }
    });
    core.wake(0);
    this.end(batch);
  }

  private remove(): void {
    const core = this.core;
    const slice = this.plan?.sliceSize ?? core.batchSliceSize ?? DEFAULT_SLICE_SIZE;
    const removed = core.run(() => core.store.deleteTasksOfBatch(this.batchId, slice));
    if (removed > 0) return;
    const removal = this.removal as NonNullable<Creation['removal']>;
    const batch = core.run((work) => {
      core.creating.delete(this.batchId);
      core.resetCounts(this.batchId, removal.keep);
      const current = core.batchRecord(this.batchId);
      if (!removal.keep) {
        core.store.deleteBatch(this.batchId);
        return undefined;
      }
      return core.changeBatch(work, current, 'cancel', removal.reason);
    });
    if (!batch) core.emit('warning', `batch ${this.batchId} was removed: ${removal.reason}`);
    this.end(batch, removal.error);
  }

  private end(batch: Batch | undefined, error?: unknown): void {
    this.phase = 'ended';
    this.release();
    this.core.creating.delete(this.batchId);
    // As it is now: settling after the last step may have completed it already.
    if (batch) this.resolve(this.core.view(this.core.batchRecord(batch.id)));
    else
      this.reject(
        error ?? refused(`batch ${this.batchId} was removed: ${this.removal?.reason ?? 'its creation stopped'}`),
      );
  }

  /** A `batch` event with the progress, at most every PROGRESS_EVERY_MS. */
  private progress(force: boolean): void {
    // Wall time, not the fleet's clock: this paces events for their listeners, it decides nothing.
    const now = Date.now();
    if (!force && now - this.lastProgress < PROGRESS_EVERY_MS) return;
    this.lastProgress = now;
    this.core.emit('batch', {
      batchId: this.batchId,
      from: 'CREATING',
      to: 'CREATING',
      reason: null,
      counts: { ...this.core.countsOf(this.batchId) },
      at: this.core.clock.now(),
      creation: { ...this.creation },
    });
  }
}

function noMatch(plan: CreationPlan): string {
  return noMatchingDevice(plan.request.targets.productKey, plan.firmware, plan.query.srcVersions);
}

/** The refusal of a batch no device matches. */
export function noMatchingDevice(productKey: string, firmware: Firmware, srcVersions: string[] | undefined): string {
  return (
    `no device of product ${productKey} (module ${firmware.module}) matches the targets ` +
    `(devices already at version ${firmware.version} are left out${srcVersions ? `; source versions: ${srcVersions.join(', ')}` : ''})`
  );
}

/** Removes the batches a stopped process left CREATING, a slice at a time, after this start. */
export function removeUnfinished(core: FleetCore, batches: Batch[]): void {
  for (const batch of batches) {
    if (batch.state !== 'CREATING') continue;
    const module = core.store.firmware(batch.firmwareId)?.module ?? '';
    const creation = new Creation(core, batch.id, undefined, batch.targets.productKey, module);
    creation.removeAll('the process stopped while it was being created');
    creation.schedule();
  }
}
