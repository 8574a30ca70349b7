/**
 * A fleet on a store that answers with promises (PostgreSQL): the same domain code as on SQLite,
 * each of its units of work run by `Replay` inside one transaction of that store, its events
 * published once, after the commit.
 *
 * - Units take turns in this process; the store's transactions keep them apart from other
 *   processes.
 * - A unit's clock stands still while it runs: each run of it sees the same time, so it repeats
 *   the same reads and writes (replay-store.ts).
 * - Nothing the fleet keeps in memory outlives a unit: each run reads the open batches and the
 *   task counts again (`FleetCore.beginUnit`), so what another process changed is seen.
 * - What a run changes in the scheduler's memory (rate buckets, recovery cursors) is put back
 *   before the next run of the same unit.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from './clock';
import { systemClock } from './clock';
import { Work } from './core';
import type { BatchChange, FleetOptions, UnitRunner } from './core';
import type { TaskState } from './states';
import type { DeviceModule, Firmware, Transition } from './types';
import { Fleet } from './fleet';
import { Replay } from './replay-store';
import type { AsyncFleetStore } from './store';

/**
 * What a committed unit changed, told to the other processes that share the store (their
 * `ota-push` output 2 and live views see it too). Plain data: it crosses as JSON.
 */
export interface SharedChange {
  /** The process that made it (a process ignores its own). */
  origin: string;
  created: [number, Partial<Record<TaskState, number>>][];
  transitions: Transition[];
  batches: BatchChange[];
  devices: DeviceModule[];
  firmware: Firmware[];
}

/** How the processes sharing a store tell each other what they changed (PostgreSQL: LISTEN/NOTIFY). */
export interface FleetChannel {
  publish(change: SharedChange): void;
  /** Calls `listener` with what other processes changed; returns how to stop. */
  subscribe(listener: (change: SharedChange) => void): () => void;
}

/** What a unit's works changed, as data for the other processes; undefined when nothing another process shows. */
export function sharedChangeOf(origin: string, works: Work[]): SharedChange | undefined {
  const change: SharedChange = { origin, created: [], transitions: [], batches: [], devices: [], firmware: [] };
  for (const w of works) {
    change.created.push(...w.created.entries());
    change.transitions.push(...w.transitions);
    change.batches.push(...w.batches);
    change.devices.push(...w.devices);
    change.firmware.push(...w.firmware);
  }
  const { created, transitions, batches, devices, firmware } = change;
  return created.length + transitions.length + batches.length + devices.length + firmware.length ? change : undefined;
}

/** Another process's change as a unit's work, to publish here. */
export function workOf(change: SharedChange): Work {
  const work = new Work();
  for (const [batchId, byState] of change.created) work.created.set(batchId, byState);
  work.transitions = change.transitions;
  work.batches = change.batches;
  work.devices = change.devices;
  work.firmware = change.firmware;
  return work;
}

/** Which process may run the scheduler (pg-lease.ts): only the leader passes, and a pass commits only while it leads. */
export interface SchedulerLease {
  readonly isLeader: boolean;
  on(event: 'acquired', listener: (epoch: number) => void): unknown;
  off(event: 'acquired', listener: (epoch: number) => void): unknown;
}

/** A clock that stands still while a unit runs, and runs otherwise. */
class UnitClock implements Clock {
  /** The time of the unit running now. */
  frozenAt: number | undefined;

  constructor(private readonly base: Clock) {}

  now(): number {
    return this.frozenAt ?? this.base.now();
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    return this.base.setTimer(fn, delayMs);
  }

  clearTimer(handle: TimerHandle): void {
    this.base.clearTimer(handle);
  }
}

/** The reads every unit makes first (the caches of FleetCore.beginUnit): fetched before its first run. */
const EVERY_UNIT_READS: NonNullable<Parameters<Replay['run']>[1]> = [
  ['countsByBatch', []],
  ['openBatches', []],
];

class ReplayedUnits implements UnitRunner {
  inUnit = false;
  private seed: Buffer = Buffer.alloc(16);
  private drawn = 0;
  lease: SchedulerLease | undefined;
  fleet: Fleet | undefined;
  private works: Work[] = [];
  private pending = 0;
  private idleWaiters: (() => void)[] = [];

  channel: FleetChannel | undefined;

  constructor(
    readonly replay: Replay,
    readonly clock: UnitClock,
    readonly origin: string,
    private readonly warn: (text: string) => void,
  ) {}

  unit<T>(fn: () => T): Promise<T> {
    let at: number | undefined;
    let runs = 0;
    const seed = randomBytes(16);
    this.pending++;
    const done = this.replay.run(() => {
      at ??= this.clock.now();
      this.clock.frozenAt = at;
      this.inUnit = true;
      this.works = [];
      this.seed = seed;
      this.drawn = 0;
      try {
        (this.fleet as Fleet).startRun(runs++ === 0);
        const value = fn();
        return { value, works: this.works };
      } finally {
        this.inUnit = false;
        this.clock.frozenAt = undefined;
      }
    }, EVERY_UNIT_READS);
    return done
      .then(({ value, works }) => {
        const fleet = this.fleet as Fleet;
        if (!fleet.isClosed) {
          fleet.publishCommitted(works);
          const change = this.channel && sharedChangeOf(this.origin, works);
          if (change) this.channel?.publish(change);
        }
        return value;
      })
      .finally(() => this.settled());
  }

  later(fn: () => void): void {
    this.unit(fn).catch((err: Error) => this.warn(`a unit of work failed: ${err.message}`));
  }

  produced(work: Work): void {
    this.works.push(work);
  }

  /** Random bytes drawn from the unit's seed, in order: each run of the unit draws the same ones. */
  randomHex(bytes: number): string {
    const digest = createHash('sha256').update(this.seed).update(String(this.drawn++)).digest();
    return digest.subarray(0, Math.min(bytes, digest.length)).toString('hex');
  }

  get schedules(): boolean {
    return this.lease?.isLeader ?? true;
  }

  get shared(): boolean {
    return this.lease !== undefined;
  }

  /** The last step of a scheduler pass: no commit after the lease was lost (another process may be scheduling). */
  stillSchedules(): void {
    if (!this.schedules) throw new Error('the scheduler lease was lost during the pass: nothing of it was stored');
  }

  /** Resolves once no unit is running or waiting (follow-ups included). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settled(): void {
    this.pending--;
    if (this.pending > 0) return;
    // Published events may start units of their own: wait a turn before calling it idle.
    setImmediate(() => {
      if (this.pending > 0) return;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    });
  }
}

export interface ReplayedFleetOptions extends Omit<FleetOptions, 'store' | 'units' | 'batchSliceSize'> {
  /** The store on a server (pg-store.ts), or another store behind promises (async-store.ts); may still be opening. */
  server: AsyncFleetStore | Promise<AsyncFleetStore>;
  /** How the processes sharing the store tell each other what changed; none: this process alone. */
  channel?: FleetChannel;
  /** Which process schedules; none: this one. */
  lease?: SchedulerLease;
  /** This process, in what it tells the others (random by default). */
  origin?: string;
}

/** A fleet whose store answers with promises: every call is a unit of work, answered with a promise. */
export class ReplayedFleet {
  readonly fleet: Fleet;
  private readonly units: ReplayedUnits;

  private readonly unsubscribe: (() => void) | undefined;
  private refreshing = false;
  private readonly lease: SchedulerLease | undefined;
  private readonly onAcquired = () => this.fleet.takeOverScheduling();

  constructor(options: ReplayedFleetOptions) {
    const { server, clock = systemClock, channel, lease, origin = randomBytes(8).toString('hex'), ...rest } = options;
    const replay = new Replay(server);
    const unitClock = new UnitClock(clock);
    this.units = new ReplayedUnits(replay, unitClock, origin, (text) => this.fleet.emit('warning', text));
    this.units.channel = channel;
    this.units.lease = lease;
    this.lease = lease;
    // One unit per batch: a batch is stored in one transaction (its slices would be units of their own).
    this.fleet = new Fleet({
      ...rest,
      store: replay.store,
      clock: unitClock,
      units: this.units,
      batchSliceSize: Infinity,
    });
    this.units.fleet = this.fleet;
    lease?.on('acquired', this.onAcquired);
    this.unsubscribe = channel?.subscribe((change) => {
      if (change.origin === origin || this.fleet.isClosed) return;
      this.fleet.publishForeign(workOf(change));
      this.refresh();
      // Work another process added (a batch, a report) is scheduled by the holder at once.
      if (this.units.schedules) this.fleet.wake(0);
    });
  }

  /** Reads the caches again soon: one unit for any number of changes told meanwhile. */
  private refresh(): void {
    if (this.refreshing) return;
    this.refreshing = true;
    setImmediate(() => {
      this.refreshing = false;
      if (!this.fleet.isClosed) this.units.later(() => undefined);
    });
  }

  /** Runs `fn` on the fleet as one unit of work; resolves after its commit, once its events are out. */
  ask<T>(fn: (fleet: Fleet) => T): Promise<T> {
    return this.units.unit(() => fn(this.fleet));
  }

  /** Resolves once no unit of work is running or waiting (a test's or a shutdown's wait). */
  idle(): Promise<void> {
    return this.units.idle();
  }

  /** What the replays cost so far: runs of the domain code, fetched answers, writes sent. */
  get stats() {
    return { ...this.units.replay.stats };
  }

  /** Waits for the units in progress, then closes the fleet and its store. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.lease?.off('acquired', this.onAcquired);
    await this.idle();
    this.fleet.close();
  }
}
