/**
 * The scheduler's lease held through PostgreSQL: one row per fleet name in `ota_leases`, taken or
 * renewed by one atomic statement that reads the DATABASE's clock, so the instances' clocks do
 * not matter. The decisions are lease.ts's; this file sends the statements, arms the timers and
 * reports what changed. See docs/lease.md.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Pool, types as pgTypes } from 'pg';
import type { CustomTypesConfig, PoolClient, QueryConfig } from 'pg';
import { Clock, systemClock, TimerHandle } from './clock';
import { refused } from './errors';
import {
  initialLeaseState,
  LeaseChange,
  LeaseInput,
  leaseReason,
  LeaseRole,
  LeaseState,
  LeaseTimings,
  leaseTimings,
  leaseWakeAt,
  nextLeaseState,
} from './lease';

export interface PgLeaseOptions {
  /** The fleet's name: one lease per name. */
  name: string;
  /** This instance's name in the lease row; by default host, process id and a random part. */
  holder?: string;
  timings?: Partial<LeaseTimings>;
  /** Timers and the holder's own time; by default a monotonic clock (not the wall clock). */
  clock?: Clock;
}

export interface LeaseStatus {
  role: LeaseRole;
  epoch?: number;
  /** For a node status: "leading (epoch 3)", "following host:123:ab12 (epoch 3)", … */
  reason: string;
}

export interface PgLeaseEvents {
  acquired: [epoch: number];
  lost: [reason: string];
  status: [status: LeaseStatus];
}

/** Timers from the system, time from a monotonic source: a wall-clock step cannot lengthen a lease. */
export const monotonicClock: Clock = { ...systemClock, now: () => performance.now() };

/** The channel a holder's release is announced on (the payload is the fleet's name). */
const CHANNEL = 'ota_lease';

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ota_leases (
  name text PRIMARY KEY,
  holder text NOT NULL,
  epoch bigint NOT NULL,
  expires_at timestamptz NOT NULL
)`;

// Take the lease if it is free, ours, or run out; otherwise say who holds it and for how long
// (a duration computed by the database, so no clock but the database's is read). The epoch
// grows by one whenever the lease is taken afresh.
const TAKE = `WITH taken AS (
  INSERT INTO ota_leases AS l (name, holder, epoch, expires_at)
  VALUES ($1, $2, 1, clock_timestamp() + make_interval(secs => $3::float8 / 1000))
  ON CONFLICT (name) DO UPDATE
    SET holder = EXCLUDED.holder,
        epoch = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > clock_timestamp()
                     THEN l.epoch ELSE l.epoch + 1 END,
        expires_at = EXCLUDED.expires_at
    WHERE l.holder = EXCLUDED.holder OR l.expires_at <= clock_timestamp()
  RETURNING l.holder, l.epoch
)
SELECT holder, epoch, true AS mine, 0::float8 AS remaining_ms FROM taken
UNION ALL
SELECT holder, epoch, false, GREATEST(0, EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000)::float8
  FROM ota_leases WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM taken)`;

// Released: run out at once, and every instance listening is told, so it looks now.
const RELEASE = `WITH released AS (
  UPDATE ota_leases SET expires_at = '-infinity' WHERE name = $1 AND holder = $2 RETURNING name
)
SELECT pg_notify('${CHANNEL}', name) FROM released`;

// bigint (oid 20) as a number for these statements only: pg's global parsers stay as they are.
const INT8 = 20;
const localTypes: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8
      ? (v: string) => Number(v)
      : pgTypes.getTypeParser(oid, format as 'text')) as typeof pgTypes.getTypeParser,
};

interface TakeRow {
  holder: string;
  epoch: number;
  mine: boolean;
  remaining_ms: number;
}

export class PgLease extends EventEmitter<PgLeaseEvents> {
  readonly name: string;
  readonly holder: string;
  readonly timings: LeaseTimings;
  private readonly pool: Pool;
  private readonly ownPool: boolean;
  private readonly clock: Clock;
  private readonly secrets: string[];
  private state: LeaseState;
  private timer: TimerHandle | undefined;
  private attempt: Promise<void> | undefined;
  private tableReady = false;
  /** The connection that LISTENs for releases, while there is one; `drop` ends it. */
  private listener: { drop: () => void } | undefined;
  private running = false;
  private stopped = false;

  /** `db`: a connection string (the lease opens a small pool of its own) or a pg Pool. */
  constructor(db: string | Pool, options: PgLeaseOptions) {
    super();
    if (typeof options.name !== 'string' || !options.name.trim())
      throw refused('a lease needs the fleet name it is for');
    this.name = options.name;
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.timings = leaseTimings(options.timings);
    this.clock = options.clock ?? monotonicClock;
    this.state = initialLeaseState(this.clock.now());
    if (typeof db === 'string') {
      this.secrets = secretsOf(db);
      this.pool = new Pool({
        connectionString: db,
        // One for the statements, one that listens for releases, one spare for the release itself.
        max: 3,
        connectionTimeoutMillis: this.timings.attemptTimeoutMs,
        query_timeout: this.timings.attemptTimeoutMs,
        statement_timeout: this.timings.attemptTimeoutMs,
        idleTimeoutMillis: 10 * this.timings.ttlMs,
        keepAlive: true,
        application_name: 'ota-lease',
      });
      // An idle connection the server closed (a restart) is reported here; the next attempt says so.
      this.pool.on('error', () => {});
      this.ownPool = true;
    } else {
      this.secrets = secretsOfPool(db);
      this.pool = db;
      this.ownPool = false;
    }
  }

  /**
   * leader / follower / unreachable, with a reason a node status can show. Read at any time: a
   * leader past its deadline reads as lost even if its timer has not fired yet (a busy process).
   */
  get status(): LeaseStatus {
    if (this.running) this.step({ kind: 'tick', at: this.clock.now() });
    return this.current();
  }

  /** True while this instance may run the scheduler (by its own clock's deadline). */
  get isLeader(): boolean {
    return this.status.role === 'leader';
  }

  /** Starts taking part: the first try to take the lease is sent at once. A stopped lease stays stopped. */
  start(): void {
    if (this.stopped) throw refused('a stopped lease cannot start again: make a new one');
    if (this.running) return;
    this.running = true;
    this.wake();
  }

  /**
   * Stops taking part and releases the lease at once, announced, so another instance takes over
   * now rather than after the TTL. A leader reports `lost` before the release is sent.
   */
  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    this.stopped = true;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    // Lost first: the scheduler stops before the release lets anyone else take the lease.
    this.step({ kind: 'released', at: this.clock.now() });
    this.listener?.drop();
    await this.attempt;
    if (wasRunning && this.tableReady) {
      await this.query(RELEASE, [this.name, this.holder]).catch(() => {
        // Unreachable: the lease runs out by itself after the TTL.
      });
    }
    if (this.ownPool) await this.pool.end().catch(() => {});
  }

  /** Wakes up: a leader past its deadline loses the lease; a due attempt is sent; the next wake-up armed. */
  private wake(): void {
    if (!this.running) return;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    const now = this.clock.now();
    this.step({ kind: 'tick', at: now });
    if (!this.attempt && now >= this.state.nextAttemptAt) this.attempt = this.tryTake();
    // While an attempt is out, only a leader's deadline needs a timer; its end wakes us again.
    const at = this.attempt ? this.state.validUntil : leaseWakeAt(this.state);
    if (at !== undefined) this.timer = this.clock.setTimer(() => this.wake(), Math.max(0, at - this.clock.now()));
  }

  private async tryTake(): Promise<void> {
    const sentAt = this.clock.now();
    let input: LeaseInput;
    try {
      const row = await this.withDeadline(this.take(), this.timings.attemptTimeoutMs);
      const at = this.clock.now();
      input = !row
        ? { kind: 'held', sentAt, at }
        : row.mine
          ? { kind: 'granted', sentAt, at, epoch: row.epoch }
          : { kind: 'held', sentAt, at, holder: row.holder, epoch: row.epoch, remainingMs: row.remaining_ms };
    } catch (err) {
      input = { kind: 'failed', sentAt, at: this.clock.now(), error: this.describe(err) };
    }
    this.attempt = undefined;
    if (!this.running) return;
    this.step(input);
    if (input.kind !== 'failed' && !this.listener) this.listener = this.listen();
    this.wake();
  }

  /**
   * Holds a connection that LISTENs for releases, so a clean stop elsewhere is taken over at once
   * rather than at the next look. Only a hint: the take statement decides. When the connection
   * fails (a restart, a partition that garbled it) it is dropped, and the next successful
   * statement opens another.
   */
  private listen(): { drop: () => void } {
    let client: PoolClient | undefined;
    let dropped = false;
    const handle = {
      drop: () => {
        if (dropped) return;
        dropped = true;
        if (this.listener === handle) this.listener = undefined;
        client?.release(true); // destroyed, not pooled: it still listens
      },
    };
    const connecting = this.pool.connect();
    void this.withDeadline(connecting, this.timings.attemptTimeoutMs)
      .then(async (c) => {
        client = c;
        c.on('error', handle.drop);
        c.on('end', handle.drop);
        c.on('notification', (n) => {
          if (n.payload === this.name && this.running) {
            this.step({ kind: 'freed', at: this.clock.now() });
            this.wake();
          }
        });
        if (dropped) return c.release(true);
        await c.query({ text: `LISTEN ${CHANNEL}`, query_timeout: this.timings.attemptTimeoutMs } as QueryConfig);
      })
      .catch(() => {
        // A connection that came after the deadline is closed; the lease looks again anyway.
        void connecting.then((c) => c !== client && c.release(true)).catch(() => {});
        handle.drop();
      });
    return handle;
  }

  private async take(): Promise<TakeRow | undefined> {
    if (!this.tableReady) {
      await this.query(CREATE_TABLE, []).catch((err: { code?: string }) => {
        // Two instances creating the table at once: the other one won, the table is there.
        if (err.code !== '23505' && err.code !== '42P07') throw err;
      });
      this.tableReady = true;
    }
    const rows = await this.query<TakeRow>(TAKE, [this.name, this.holder, this.timings.ttlMs]);
    return rows[0];
  }

  private async query<R>(text: string, values: unknown[]): Promise<R[]> {
    // query_timeout per statement also bounds a pool the caller gave, whose settings are its own.
    const config: QueryConfig & { query_timeout: number } = {
      text,
      values,
      types: localTypes,
      query_timeout: this.timings.attemptTimeoutMs,
    };
    const result = await this.pool.query(config);
    return result.rows as R[];
  }

  /** The promise, or a failure after `ms` on the lease's clock (a connection that never answers). */
  private withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimer(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      promise.then(
        (value) => {
          this.clock.clearTimer(timer);
          resolve(value);
        },
        (err: unknown) => {
          this.clock.clearTimer(timer);
          reject(err);
        },
      );
    });
  }

  /** Applies one input and reports the changes and the new status. */
  private step(input: LeaseInput): void {
    const before = leaseReason(this.state);
    const { state, changes } = nextLeaseState(this.state, input, this.timings);
    this.state = state;
    for (const change of changes) this.report(change);
    if (changes.length || leaseReason(state) !== before) this.emit('status', this.current());
  }

  private current(): LeaseStatus {
    return { role: this.state.role, epoch: this.state.epoch, reason: leaseReason(this.state) };
  }

  private report(change: LeaseChange): void {
    if (change.kind === 'acquired') this.emit('acquired', change.epoch);
    else this.emit('lost', change.reason);
  }

  /** An error's message without the password or the connection string. */
  private describe(err: unknown): string {
    let message = err instanceof Error ? err.message : String(err);
    for (const secret of this.secrets) message = message.split(secret).join('***');
    return message || 'unknown error';
  }
}

/** What a caller's pool was configured with that must never be shown. */
function secretsOfPool(pool: Pool): string[] {
  const options = (pool as { options?: { connectionString?: unknown; password?: unknown } }).options ?? {};
  const given = typeof options.connectionString === 'string' ? secretsOf(options.connectionString) : [];
  if (typeof options.password === 'string' && options.password) given.push(options.password);
  return given.sort((a, b) => b.length - a.length);
}

/** The parts of a connection string that must never be shown: itself and its password. */
export function secretsOf(connectionString: string): string[] {
  const secrets = [connectionString];
  try {
    const password = new URL(connectionString).password;
    if (password) secrets.push(password, decodeURIComponent(password));
  } catch {
    // Not a URL (a key=value string): only the whole string is known to be secret.
  }
  return secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}
