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
import type { Clock, TimerHandle } from './clock';
import { systemClock } from './clock';
import type { FleetOptions, UnitRunner, Work } from './core';
import { Fleet } from './fleet';
import { Replay } from './replay-store';
import type { AsyncFleetStore } from './store';

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
  fleet: Fleet | undefined;
  private works: Work[] = [];
  private pending = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly replay: Replay,
    readonly clock: UnitClock,
    private readonly warn: (text: string) => void,
  ) {}

  unit<T>(fn: () => T): Promise<T> {
    let at: number | undefined;
    let runs = 0;
    this.pending++;
    const done = this.replay.run(() => {
      at ??= this.clock.now();
      this.clock.frozenAt = at;
      this.inUnit = true;
      this.works = [];
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
        if (!fleet.isClosed) fleet.publishCommitted(works);
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
}

/** A fleet whose store answers with promises: every call is a unit of work, answered with a promise. */
export class ReplayedFleet {
  readonly fleet: Fleet;
  private readonly units: ReplayedUnits;

  constructor(options: ReplayedFleetOptions) {
    const { server, clock = systemClock, ...rest } = options;
    const replay = new Replay(server);
    const unitClock = new UnitClock(clock);
    this.units = new ReplayedUnits(replay, unitClock, (text) => this.fleet.emit('warning', text));
    // One unit per batch: a batch is stored in one transaction (its slices would be units of their own).
    this.fleet = new Fleet({
      ...rest,
      store: replay.store,
      clock: unitClock,
      units: this.units,
      batchSliceSize: Infinity,
    });
    this.units.fleet = this.fleet;
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
    await this.idle();
    this.fleet.close();
  }
}
