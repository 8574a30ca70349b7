/**
 * The fleet's shared state and its primitives: units of work, the one way tasks and batches
 * change, caches, counts, egress and the wake-up timer. The operations live in ingest.ts,
 * batches.ts, catalog.ts, scheduler.ts and settle.ts; fleet.ts puts them behind one API.
 *
 * Each operation is one unit of work: a store transaction, then (only after the commit) the
 * events it produced. So an event, a sent notice or a `done()` always describes durable state.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { buildTopic, DeviceRef, MqttMessage, noticeIdSource, upgradeNoticeTemplate } from '../protocol';
import { ActiveTasks } from './active-tasks';
import { Clock, systemClock, TimerHandle } from './clock';
import { FleetError, notFound, refused } from './errors';
import { gateRefusal, isVerified } from './gate';
import { descriptorFor, PackageHost } from './notices';
import {
  ACTIVE_TASK_STATES,
  BatchEvent,
  BatchState,
  emptyCounts,
  isOpenBatch,
  nextBatchState,
  TaskCounts,
  TaskEvent,
  TaskState,
} from './states';
import type { FleetStore, NewTask } from './store';
import { appliedOrRefused, Changed, TaskPatch } from './transitions';
import { uniformChange } from './uniform-change';
import type { Batch, BatchCreation, BatchView, DeviceModule, Firmware, Task, Transition, Verification } from './types';

export interface FleetSettings {
  /** Non-verify batches refuse firmware that is not verified (or not-required). */
  requireVerification: boolean;
}

export interface Outgoing {
  message: MqttMessage;
  device: DeviceRef;
  batchId?: number;
  /** The id of the ota-push node that must send it. */
  egress: string;
}

export interface BatchChange {
  batchId: number;
  from: BatchState | null;
  to: BatchState;
  reason: string | null;
  counts: TaskCounts;
  at: number;
  /** A CREATING batch's progress (from and to are both CREATING while it is stored a slice at a time). */
  creation?: BatchCreation;
}

/** A batch being stored a slice at a time (batch-creation.ts): its tasks are not yet any device's. */
export interface CreatingBatch {
  productKey: string;
  module: string;
  creation: BatchCreation;
  /** Resolves with the batch once it left CREATING (complete, or CANCELED); rejects when it was removed. */
  readonly settled: Promise<BatchView>;
  /** Stops the creation and removes the tasks stored so far; the batch ends CANCELED. */
  cancel(reason: string): void;
}

export interface TaskOutcome {
  batchId?: number;
  state?: TaskState;
  reason?: string | null;
  /** Why the report moved no task (there was none, or it did not apply). */
  ignored?: string;
}

export interface FleetEvents {
  task: [Transition];
  batch: [BatchChange];
  send: [Outgoing[]];
  device: [DeviceModule];
  /** A firmware record added, changed (verification) or deleted. */
  firmware: [Firmware];
  /** Devices whose tags were set (a selection by tag may have changed). */
  tags: [DeviceRef[]];
  warning: [string];
}

export interface Touched {
  /** A task of the batch failed in this unit of work (abort threshold). */
  newFailure: boolean;
  /** A task of the batch reached a final state, or tasks were created (waves, completion). */
  finished?: boolean;
  /** A user resumed the batch: a wave held at its threshold opens. */
  resumed?: boolean;
}

/** What one unit of work produced; published after its transaction commits. */
export class Work {
  transitions: Transition[] = [];
  /** Tasks created, by batch and state. */
  created = new Map<number, Partial<Record<TaskState, number>>>();
  batches: BatchChange[] = [];
  sends: Outgoing[] = [];
  devices: DeviceModule[] = [];
  firmware: Firmware[] = [];
  /** Batches whose tasks changed: settled (completion, waves, abort) after the commit. */
  touched = new Map<number, Touched>();
}

export const MINUTE = 60_000;

/** The most operations one group commit takes (then it commits and starts another). */
export const GROUP_COMMIT_MAX = 256;

interface Queued {
  fn: (work: Work) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * How a fleet's units of work reach a store that answers with promises (replayed-fleet.ts): each
 * unit runs, perhaps several times, inside one transaction of that store, and what it produced is
 * published once, after the commit. Absent (the SQLite store): units run and publish at once.
 */
export interface UnitRunner {
  /** Whether a unit is running now. */
  readonly inUnit: boolean;
  /** Runs `fn` as a unit of its own, after the units asked for before it; resolves after its commit and publication. */
  unit<T>(fn: () => T): Promise<T>;
  /** Runs `fn` as a unit of its own, soon (a timer's scheduler pass, the settling after a commit); errors become warnings. */
  later(fn: () => void): void;
  /** Keeps what a unit of work of this run produced (published if this run is the one that commits). */
  produced(work: Work): void;
  /** Whether this process runs the scheduler (the lease's holder, when processes share the store). */
  readonly schedules: boolean;
  /** Whether other processes share the store (then a lease decides who schedules). */
  readonly shared: boolean;
  /** Random hex of `bytes` bytes, the same in every run of one unit (a new record's id). */
  randomHex(bytes: number): string;
  /** Throws when this process no longer holds the scheduler's lease: the pass's unit is then not committed. */
  stillSchedules(): void;
}

export interface FleetOptions {
  store: FleetStore;
  /** Units of work on a store that answers with promises (replayed-fleet.ts). */
  units?: UnitRunner;
  clock?: Clock;
  settings?: Partial<FleetSettings>;
  host?: PackageHost;
  name?: string;
  /** How long after this start the first recovery notice waits (recovery.ts); RECOVERY_DELAY_MS by default. */
  recoveryDelayMs?: number;
  /**
   * How many tasks a large batch stores per turn of the event loop (batch-creation.ts); Infinity:
   * every batch at once, in one unit of work (a benchmark of something else that needs it whole).
   */
  batchSliceSize?: number;
}

export class FleetCore extends EventEmitter<FleetEvents> {
  readonly store: FleetStore;
  /** Set when the store answers with promises: units of work run through it (see UnitRunner). */
  readonly units: UnitRunner | undefined;
  readonly clock: Clock;
  readonly settings: FleetSettings;
  host: PackageHost | undefined;
  readonly name: string;
  readonly nextNoticeId: () => number;
  /** Open batches (PLANNED, IN_PROGRESS, PAUSED), the scheduler's working set. */
  readonly openBatches = new Map<number, Batch>();
  /**
   * Batches that ended with tasks still in flight (an abort leaves NOTIFIED and IN_PROGRESS tasks
   * to finish): the scheduler still fails their unanswered notices and times them out, and sends
   * nothing. Kept in step by `trackDraining`, after each commit that finishes one of their tasks.
   */
  readonly drainingBatches = new Map<number, Batch>();
  readonly recoveryDelayMs: number | undefined;
  readonly batchSliceSize: number | undefined;
  /** Batches being created (CREATING): the scheduler, the reports and the overwrite policy pass over their tasks. */
  readonly creating = new Map<number, CreatingBatch>();

  private work: Work | undefined;
  private queued: Queued[] = [];
  private flushPending = false;
  private taskCounts = new Map<number, TaskCounts>();
  private firmwareCache = new Map<string, Firmware>();
  /**
   * The task holding each device's module, as last read or written (active-tasks.ts). Kept in
   * step by apply() and updateTask(), the only ways a task changes; dropped whole on a rollback.
   */
  private readonly activeByDevice = new ActiveTasks();
  /**
   * Whether any task may be active, by the live counts (undefined: count again). While none is, a
   * report from a device the cache does not hold needs no look in the store: the first report of
   * every device of a new fleet, and every report between batches.
   */
  private anyActive: boolean | undefined;
  private egresses: string[] = [];
  private timer: TimerHandle | undefined;
  private wakeAt = Infinity;
  private warnedNoEgress = false;
  protected closed = false;

  constructor(options: FleetOptions) {
    super();
    this.store = options.store;
    this.units = options.units;
    this.clock = options.clock ?? systemClock;
    this.settings = { requireVerification: true, ...options.settings };
    this.host = options.host;
    this.name = options.name ?? 'fleet';
    this.recoveryDelayMs = options.recoveryDelayMs;
    this.batchSliceSize = options.batchSliceSize;
    this.nextNoticeId = noticeIdSource(() => this.clock.now());
    // Through a unit runner the store answers only inside units: each unit loads these itself (beginUnit).
    if (!this.units) this.loadCaches();
  }

  /** What the fleet keeps of the store in memory: the open batches and the task counts. */
  private loadCaches(): void {
    this.taskCounts = this.store.countsByBatch();
    this.openBatches.clear();
    for (const batch of this.store.openBatches()) this.openBatches.set(batch.id, batch);
    this.drainingBatches.clear();
    for (const batchId of this.taskCounts.keys()) this.trackDraining(batchId);
  }

  /**
   * The start of each run of a unit on a store that answers with promises: other processes may
   * have changed the store since the last unit, and an earlier run of this one may have changed
   * the caches, so they are read again (from the answers of this unit).
   */
  beginUnit(): void {
    this.work = undefined;
    this.activeByDevice.clear();
    this.firmwareCache.clear();
    this.anyActive = undefined;
    this.loadCaches();
  }

  /** A random id (hex of `bytes` bytes) for a new record: through a unit runner, the same in every run of the unit. */
  newId(bytes: number): string {
    return this.units ? this.units.randomHex(bytes) : randomBytes(bytes).toString('hex');
  }

  /** The start of a run of a unit (the first, or one more): the caches, and what subclasses keep. */
  startRun(first: boolean): void {
    this.beginUnit();
    this.onRunStart(first);
  }

  /** A run of a unit starts: memory a run changes is kept at the first and put back at the others. */
  protected onRunStart(_first: boolean): void {}

  /** After the commit of a unit on a store that answers with promises: its events (counted and settled when produced: runInUnit). */
  publishCommitted(works: Work[]): void {
    for (const work of works) this.emitWork(work);
  }

  close(): void {
    this.flush();
    this.closed = true;
    this.activeByDevice.clear();
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.removeAllListeners();
    this.store.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called when the timer fires (the scheduler). */
  protected onWake(): void {}

  /** Called after each committed unit of work, for every batch whose tasks changed. */
  protected afterCommit(_batchId: number, _touched: Touched): void {}

  // ---- egress: the ota-push nodes that send what the fleet decides ------------------------

  attachEgress(id: string): void {
    if (!this.egresses.includes(id)) this.egresses.push(id);
    this.warnedNoEgress = false;
    this.wake(0);
  }

  detachEgress(id: string): void {
    this.egresses = this.egresses.filter((e) => e !== id);
  }

  get hasEgress(): boolean {
    return this.egresses.length > 0;
  }

  /** The node a batch's messages leave through: the one that started it, else the first. */
  egressFor(batch?: Batch): string | undefined {
    if (batch?.egress && this.egresses.includes(batch.egress)) return batch.egress;
    return this.egresses[0];
  }

  warnNoEgress(): void {
    if (this.warnedNoEgress) return;
    this.warnedNoEgress = true;
    this.emit(
      'warning',
      `fleet "${this.name}" has messages to send but no ota-push node is deployed for it: tasks stay QUEUED until one is`,
    );
  }

  // ---- units of work ----------------------------------------------------------------------

  run<T>(fn: (work: Work) => T): T {
    if (this.closed) throw new FleetError('OTA_STORE', `the fleet "${this.name}" is closed (redeploying?); try again`);
    if (this.work) return fn(this.work);
    if (this.units) return this.runInUnit(fn, this.units);
    const work = new Work();
    this.work = work;
    let result: T;
    try {
      result = this.store.transaction(() => fn(work));
    } catch (err) {
      this.forget(work);
      throw storeError(err);
    } finally {
      this.work = undefined;
    }
    this.publish(work);
    for (const [batchId, touched] of work.touched) this.afterCommit(batchId, touched);
    return result;
  }

  /** A unit of work inside a runner's unit: its transaction is the unit's; its events wait for the commit. */
  private runInUnit<T>(fn: (work: Work) => T, units: UnitRunner): T {
    if (!units.inUnit) throw new Error(`fleet "${this.name}": a unit of work outside the unit runner`);
    const work = new Work();
    this.work = work;
    try {
      const result = this.store.transaction(() => fn(work));
      // Counted at once, so that what the unit answers (a batch's view) includes its own changes;
      // a run that does not commit reads the counts again at the next (beginUnit).
      this.countWork(work);
      units.produced(work);
      this.work = undefined;
      // What follows a change (completion, waves, abort) goes in the same unit, as it follows at once on SQLite.
      for (const [batchId, touched] of work.touched) this.afterCommit(batchId, touched);
      return result;
    } catch (err) {
      // Undone (a nested transaction), or the run stops: the caches are read again as they now stand.
      this.beginUnit();
      throw storeError(err);
    } finally {
      this.work = undefined;
    }
  }

  /**
   * Group commit: runs `fn` in one transaction with the other operations submitted in the same
   * turn of the event loop (each in a savepoint of its own, so a refused one changes nothing and
   * fails alone), and resolves once that transaction has committed. Many reports a second then
   * cost one commit each few hundred, not one each; an answer still means durable state.
   */
  submit<T>(fn: (work: Work) => T): Promise<T> {
    if (this.closed)
      return Promise.reject(
        new FleetError('OTA_STORE', `the fleet "${this.name}" is closed (redeploying?); try again`),
      );
    if (this.units) return this.units.unit(() => this.run(fn));
    return new Promise<T>((resolve, reject) => {
      this.queued.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (this.queued.length >= GROUP_COMMIT_MAX) this.flush();
      else if (!this.flushPending) {
        this.flushPending = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what was submitted so far (see `submit`). */
  flush(): void {
    this.flushPending = false;
    const ops = this.queued;
    if (ops.length === 0) return;
    this.queued = [];
    if (this.closed) {
      for (const op of ops)
        op.reject(new FleetError('OTA_STORE', `the fleet "${this.name}" is closed (redeploying?); try again`));
      return;
    }
    let done: { op: Queued; work: Work; result: unknown }[] = [];
    let failed: { op: Queued; err: unknown }[] = [];
    // First as one plain transaction; only if an operation is refused, again with a savepoint
    // each so that one fails alone (a savepoint per operation costs more than the rest of it).
    // The plain pass shares one Work: all of it commits or none does, and it is published once
    // (one `send` for the group's messages, not one per report).
    for (const isolated of [false, true]) {
      done = [];
      failed = [];
      const shared = isolated ? undefined : new Work();
      try {
        this.store.transaction(() => {
          for (const op of ops) {
            const work = shared ?? new Work();
            this.work = work;
            try {
              done.push({ op, work, result: isolated ? this.store.transaction(() => op.fn(work)) : op.fn(work) });
            } catch (err) {
              this.forget(work);
              if (!isolated) throw new GroupRetry();
              failed.push({ op, err });
            } finally {
              this.work = undefined;
            }
          }
        });
        break;
      } catch (err) {
        for (const work of new Set(done.map((d) => d.work))) this.forget(work);
        if (err instanceof GroupRetry) continue;
        // The commit itself failed: nothing of the group is stored.
        for (const op of ops) op.reject(storeError(err));
        return;
      }
    }
    const works = [...new Set(done.map((d) => d.work))];
    const touched = mergeTouched(works);
    for (const work of works) this.publish(work);
    for (const f of failed) f.op.reject(storeError(f.err));
    for (const d of done) d.op.resolve(d.result);
    for (const [batchId, t] of touched) this.afterCommit(batchId, t);
  }

  /** A rolled-back transaction: reload what it may have changed in the caches. */
  private forget(work: Work): void {
    this.activeByDevice.clear();
    for (const fw of work.firmware) this.firmwareCache.delete(fw.id);
    for (const change of work.batches) this.openBatches.delete(change.batchId);
    for (const batch of this.store.openBatches()) this.openBatches.set(batch.id, batch);
  }

  private publish(work: Work): void {
    this.countWork(work);
    this.emitWork(work);
  }

  /** Moves the live counts by what a unit of work created and changed. */
  private countWork(work: Work): void {
    if (work.created.size > 0 || work.transitions.length > 0) this.anyActive = undefined;
    for (const [batchId, byState] of work.created) {
      const counts = this.countsOf(batchId);
      for (const [state, n] of Object.entries(byState) as [TaskState, number][]) counts[state] += n;
    }
    for (const t of work.transitions) {
      const counts = this.countsOf(t.batchId);
      if (t.from) counts[t.from]--;
      counts[t.to]++;
    }
  }

  private emitWork(work: Work): void {
    for (const d of work.devices) this.emit('device', d);
    for (const f of work.firmware) this.emit('firmware', f);
    for (const t of work.transitions) this.emit('task', t);
    for (const b of work.batches) this.emit('batch', { ...b, counts: { ...this.countsOf(b.batchId) } });
    if (work.sends.length) this.emit('send', work.sends);
  }

  /**
   * What another process sharing the store committed (replayed-fleet.ts): its events, and the
   * live counts moved by it. Nothing is sent: its notices left through that process.
   */
  publishForeign(work: Work): void {
    work.sends = [];
    this.publish(work);
  }

  /** A batch whose tasks were removed (a creation that did not finish): its counts start again, or go with it. */
  resetCounts(batchId: number, keep: boolean): void {
    this.anyActive = undefined;
    if (keep) this.taskCounts.set(batchId, emptyCounts());
    else this.taskCounts.delete(batchId);
  }

  /** The live task counts of a batch (mutated on publish; copy before handing out). */
  countsOf(batchId: number): TaskCounts {
    let counts = this.taskCounts.get(batchId);
    if (!counts) this.taskCounts.set(batchId, (counts = emptyCounts()));
    return counts;
  }

  view(batch: Batch): BatchView {
    const creating = batch.state === 'CREATING' ? this.creating.get(batch.id) : undefined;
    const view: BatchView = { ...batch, counts: { ...this.countsOf(batch.id) } };
    if (creating) view.creation = { ...creating.creation };
    return view;
  }

  // ---- the one way tasks and batches change -------------------------------------------------

  /** The task that holds a device's module now (CONFIRM, QUEUED, NOTIFIED or IN_PROGRESS). */
  activeTask(device: DeviceRef, module: string): Task | undefined {
    const cached = this.activeByDevice.get(device, module);
    if (cached) return cached;
    if (!this.mayHaveActiveTasks()) return undefined;
    let task = this.store.activeTask(device, module);
    // A batch being created holds no device yet: the report is about the task it already had.
    if (task && this.creating.has(task.batchId))
      task = this.store
        .activeTasks(device)
        .filter((t) => t.module === module && !this.creating.has(t.batchId))
        .pop();
    if (task) this.activeByDevice.remember(task);
    return task;
  }

  private mayHaveActiveTasks(): boolean {
    if (this.anyActive === undefined) {
      this.anyActive = false;
      for (const c of this.taskCounts.values()) {
        if (c.CONFIRM + c.QUEUED + c.NOTIFIED + c.IN_PROGRESS > 0) {
          this.anyActive = true;
          break;
        }
      }
    }
    return this.anyActive;
  }

  /** Is a dynamic batch open (taking devices that report a matching version)? */
  hasDynamicBatch(): boolean {
    for (const batch of this.openBatches.values())
      if (batch.type === 'dynamic' && batch.state !== 'PAUSED') return true;
    return false;
  }

  /** Makes the QUEUED tasks of a wave due; they change in the store at once, so the cache is read again. */
  openWave(batchId: number, wave: number, at: number): void {
    this.store.openWave(batchId, wave, at);
    this.activeByDevice.clear();
  }

  /** Applies an event to a task through the state table, persists it, and records it. */
  apply(work: Work, task: Task, event: TaskEvent, patch: TaskPatch = {}): Task {
    const applied = appliedOrRefused(task, event, patch, this.clock.now());
    this.save(event, applied);
    this.record(work, applied);
    return applied.task;
  }

  /**
   * Applies one event to many tasks at one moment, as `apply` does to each. When the state table
   * took them all the same way (a pass of notices: QUEUED to NOTIFIED, one attempt more, one
   * deadline), the store saves them as one uniform change: a statement or two for the whole pass.
   */
  applyToMany(work: Work, tasks: Task[], event: TaskEvent, patchOf: (task: Task, at: number) => TaskPatch): Task[] {
    const at = this.clock.now();
    const applied = tasks.map((task) => appliedOrRefused(task, event, patchOf(task, at), at));
    const next = applied.map((a) => a.task);
    const change = uniformChange(tasks, next);
    if (change) this.store.saveUniformChange(change);
    else for (const a of applied) this.save(event, a);
    for (const a of applied) this.record(work, a);
    return next;
  }

  /** Saves one applied event: progress within IN_PROGRESS as the step only; state changes (and re-notices) logged. */
  private save(event: TaskEvent, { task, transition }: Changed): void {
    const { from, to } = transition;
    if (from === to && event === 'progress') this.store.saveStep(task.id, task.step, task.updatedAt);
    else this.store.saveTask(task, from !== to || event === 'renotify' ? transition : undefined);
  }

  /** What a unit of work keeps of a task it changed: the cache, the transition, the batch touched. */
  private record(work: Work, { task, transition }: Changed): void {
    this.activeByDevice.remember(task);
    work.transitions.push(transition);
    const { to } = transition;
    const touched = work.touched.get(task.batchId) ?? { newFailure: false };
    if (to === 'FAILED') touched.newFailure = true;
    if (to === 'SUCCEEDED' || to === 'FAILED' || to === 'CANCELED') touched.finished = true;
    work.touched.set(task.batchId, touched);
  }

  /** Changes a task's data without changing its state (no transition). */
  updateTask(task: Task, patch: TaskPatch): Task {
    const next: Task = { ...task, ...patch, updatedAt: this.clock.now() } as Task;
    this.store.saveTask(next);
    this.activeByDevice.remember(next);
    return next;
  }

  /** A failure, with a retry scheduled when the batch's policy allows one (an aborted batch retries nothing). */
  fail(work: Work, task: Task, batch: Batch, reason: string, retryable: boolean, step?: number): Task {
    const { retryCount, retryInterval } = batch.strategy;
    const retry = retryable && task.retries < retryCount && isOpenBatch(batch.state);
    const dueAt = retry ? this.clock.now() + retryInterval * MINUTE : null;
    if (retry) this.wake(retryInterval * MINUTE);
    return this.apply(work, task, 'fail', { reason, dueAt, step: step ?? task.step });
  }

  insertTasks(work: Work, tasks: NewTask[]): void {
    this.store.insertTasks(tasks);
    // Found by the reports of the same unit of work, before the counts say so (publish).
    if (tasks.length > 0) this.anyActive = true;
    for (const t of tasks) {
      let byState = work.created.get(t.batchId);
      if (!byState) work.created.set(t.batchId, (byState = {}));
      byState[t.state] = (byState[t.state] ?? 0) + 1;
    }
    for (const batchId of new Set(tasks.map((t) => t.batchId))) {
      work.touched.set(batchId, { newFailure: false, ...work.touched.get(batchId), finished: true });
    }
  }

  changeBatch(work: Work, batch: Batch, event: BatchEvent, reason: string | null): Batch {
    const outcome = nextBatchState(batch.state, event);
    if (!outcome.ok) throw refused(`batch ${batch.id}: ${outcome.reason}`);
    const now = this.clock.now();
    const next: Batch = { ...batch, state: outcome.to, updatedAt: now };
    if (reason !== null) next.reason = reason;
    else delete next.reason;
    this.store.updateBatch(next);
    this.cacheBatch(next);
    work.batches.push({ batchId: batch.id, from: batch.state, to: next.state, reason, counts: emptyCounts(), at: now });
    return next;
  }

  cacheBatch(batch: Batch): void {
    if (isOpenBatch(batch.state)) this.openBatches.set(batch.id, batch);
    else this.openBatches.delete(batch.id);
  }

  /** After a commit: a batch that ended with active tasks is draining until none remain (the counts are the committed ones). */
  trackDraining(batchId: number): void {
    const c = this.countsOf(batchId);
    if (c.CONFIRM + c.QUEUED + c.NOTIFIED + c.IN_PROGRESS === 0) {
      this.drainingBatches.delete(batchId);
      return;
    }
    if (this.openBatches.has(batchId) || this.drainingBatches.has(batchId)) return;
    const batch = this.store.batch(batchId);
    if (batch && !isOpenBatch(batch.state) && batch.state !== 'CREATING') this.drainingBatches.set(batchId, batch);
  }

  batchRecord(id: number): Batch {
    const batch = this.openBatches.get(id) ?? this.drainingBatches.get(id) ?? this.store.batch(id);
    if (!batch) throw notFound(`no batch ${id} in fleet "${this.name}"`);
    return batch;
  }

  firmwareOf(id: string): Firmware {
    let fw = this.firmwareCache.get(id);
    if (!fw) {
      fw = this.store.firmware(id);
      if (!fw) throw notFound(`no firmware "${id}" in fleet "${this.name}"`);
      this.firmwareCache.set(id, fw);
    }
    return fw;
  }

  forgetFirmware(id: string): void {
    this.firmwareCache.delete(id);
  }

  setVerification(work: Work, firmware: Firmware, verification: Verification): void {
    if (firmware.verification === verification) return;
    this.store.setVerification(firmware.id, verification);
    const next = { ...firmware, verification };
    this.firmwareCache.set(firmware.id, next);
    work.firmware.push(next);
    if (isVerified(firmware) && !isVerified(next)) this.holdBatchesOf(work, next);
  }

  /** Firmware that is no longer verified: the running batches that need the gate stop sending it. */
  private holdBatchesOf(work: Work, firmware: Firmware): void {
    for (const batch of [...this.openBatches.values()]) {
      if (batch.firmwareId !== firmware.id || batch.state !== 'IN_PROGRESS') continue;
      const refusal = gateRefusal(this.settings.requireVerification, batch, firmware);
      if (refusal) this.changeBatch(work, batch, 'pause', refusal);
    }
  }

  /** Why a batch may not send notices of its firmware now (the verification gate), or undefined. */
  gateRefusalOf(batch: Batch): string | undefined {
    return gateRefusal(this.settings.requireVerification, batch, this.firmwareOf(batch.firmwareId));
  }

  /**
   * The version a re-upgraded task starts from: what the device runs now, so that a later report
   * of it reads as a reboot, not as a mismatch with the version it ran at creation. (An automatic
   * retry keeps the original: a device that reported a wrong version and does so again must fail
   * again, not wait as if it were still at its source.)
   */
  sourceVersionOf(task: Task): string | null {
    return this.store.deviceVersion(task, task.module) ?? task.srcVersion;
  }

  /** A batch's tasks in some states: all of them, or those of the given devices. */
  tasksFor(batch: Batch, devices: DeviceRef[] | undefined, states: readonly TaskState[]): Task[] {
    if (!devices) return states.flatMap((state) => this.store.tasksInState(batch.id, state));
    const tasks: Task[] = [];
    const seen = new Set<string>();
    for (const device of devices) {
      // A device named twice is acted on once.
      const key = `${device.productKey}\u0000${device.deviceName}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const task = device.productKey === batch.targets.productKey ? this.store.taskOf(batch.id, device) : undefined;
      if (!task) throw notFound(`${device.productKey}/${device.deviceName} is not in batch ${batch.id}`);
      if (states.includes(task.state)) tasks.push(task);
    }
    return tasks;
  }

  /** Failed tasks waiting for a retry are given up (the batch ended). */
  clearPendingRetries(batch: Batch): void {
    for (const task of this.store.dueTasks(batch.id, 'FAILED', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) {
      this.updateTask(task, { dueAt: null });
    }
  }

  /** What a notice sets on its task: one more attempt, and when to look again if unanswered. */
  noticePatch(task: Task, batch: Batch, now = this.clock.now()): TaskPatch {
    const { retryCount, retryInterval } = batch.strategy;
    // An unanswered notice is sent again after retryInterval minutes (fractions allowed), 1 if 0.
    const answerWithin = (retryInterval > 0 ? retryInterval : 1) * MINUTE;
    const dueAt = retryCount > 0 ? now + answerWithin : null;
    if (dueAt !== null) this.wake(answerWithin);
    return { attempts: task.attempts + 1, dueAt };
  }

  /** The T2 notices of a batch for this moment (URL freshly signed), built once for many devices. */
  noticesOf(batch: Batch): (device: DeviceRef) => MqttMessage {
    const refusal = this.gateRefusalOf(batch);
    if (refusal) throw refused(`batch ${batch.id}: ${refusal}`);
    const payloadOf = upgradeNoticeTemplate(
      descriptorFor(this.firmwareOf(batch.firmwareId), batch.strategy, this.host, this.clock.now()),
    );
    return (device) => ({ topic: buildTopic('upgrade', device), payload: payloadOf(this.nextNoticeId()), qos: 1 });
  }

  /** Queues the T2 notice of a task. */
  queueNotice(work: Work, task: Task, batch: Batch, egress: string, notices = this.noticesOf(batch)): void {
    const device = { productKey: task.productKey, deviceName: task.deviceName };
    work.sends.push({ message: notices(device), device, batchId: batch.id, egress });
  }

  isActive(state: TaskState): boolean {
    return ACTIVE_TASK_STATES.includes(state);
  }

  // ---- the wake-up timer ------------------------------------------------------------------

  /** Arms the timer to run the scheduler in `delayMs` (never later than an earlier wake-up). */
  wake(delayMs: number): void {
    if (this.closed) return;
    const at = this.clock.now() + Math.max(0, delayMs);
    if (this.timer && at >= this.wakeAt) return;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.wakeAt = at;
    this.timer = this.clock.setTimer(
      () => {
        this.timer = undefined;
        this.wakeAt = Infinity;
        this.onWake();
      },
      Math.max(0, delayMs),
    );
  }
}

/** The batches the units of work touched, each once, with what happened to it in any of them. */
function mergeTouched(works: Work[]): Map<number, Touched> {
  const touched = new Map<number, Touched>();
  for (const work of works) {
    for (const [batchId, t] of work.touched) {
      const seen = touched.get(batchId);
      touched.set(
        batchId,
        seen
          ? {
              newFailure: seen.newFailure || t.newFailure,
              finished: seen.finished || t.finished,
              resumed: seen.resumed || t.resumed,
            }
          : t,
      );
    }
  }
  return touched;
}

/** Rolls a group back so it runs again with an operation per savepoint. */
class GroupRetry extends Error {}

/** A write the disk refused becomes an error a user can act on; nothing was changed. */
function storeError(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    return new FleetError(
      'OTA_STORE',
      `the fleet's store refused the change (${code}: ${(err as Error).message}); nothing was changed`,
    );
  }
  return err;
}
