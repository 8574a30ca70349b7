/**
 * The fleet's store on a PostgreSQL server, so that several Node-RED instances can share one
 * fleet: the operations of pg-operations.ts over a pool of connections, the schema of
 * pg-schema.ts. Outside a transaction each operation runs alone on the pool (its own commit);
 * `transaction` runs a unit of work on one connection at READ COMMITTED, its reads of rows it may
 * write locking them, and runs it again after a deadlock or a serialization failure.
 *
 * BIGINT columns come back as JavaScript numbers through a type parser given to this pool's
 * connections only: other pg code in the same process keeps pg's defaults (strings).
 */
import pg from 'pg';
import type { PoolClient, QueryResult } from 'pg';
import { isRetryable, PgPlace, placeName, storeError } from './pg-errors';
import { PgOperations, PgTransaction, Runner, Statement } from './pg-operations';
import { migrate } from './pg-schema';
import type { AsyncFleetStore, AsyncStoreOperations } from './store';
import { FleetError } from './errors';

export interface PgStoreOptions {
  /** Connections in the pool (10). */
  size?: number;
  /** How long to wait for a connection before failing with OTA_STORE, in ms (10,000). */
  connectTimeoutMs?: number;
  /**
   * A transaction left open this long without a statement (a unit of work stuck on something else)
   * is ended by the server, so its row locks never hold up the other instances for long (60,000 ms).
   */
  idleInTransactionTimeoutMs?: number;
  /** A statement running longer than this is cancelled (no limit). */
  statementTimeoutMs?: number;
  /**
   * A statement not answered within this long fails here, whatever the server does (no limit): a
   * network cut leaves a connection open and silent, and only this ends the wait.
   */
  queryTimeoutMs?: number;
  /** How many times a transaction runs again after a deadlock or serialization failure (5). */
  maxRetries?: number;
  /** Told of each retry of a transaction (tests, metrics). */
  onRetry?: (retry: { attempt: number; error: FleetError }) => void;
  /** Told of errors the pool meets between operations (an idle connection lost: a server restart). */
  onError?: (error: FleetError) => void;
}

/** What a transaction's operations add: savepoints, by name (letters, digits, underscores). */
export interface PgSavepoints {
  savepoint(name: string): Promise<void>;
  release(name: string): Promise<void>;
  rollbackTo(name: string): Promise<void>;
}

const INT8 = 20;
/** int8 as a number: every BIGINT this store writes (ids, ms times, sizes, counts) is below 2^53. */
const parseInt8 = (value: string): number => Number(value);

/** The type parsers of this pool's connections: pg's, with int8 as a number. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary'
      ? parseInt8
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Where a connection string points, read by pg's own parser (no connection made). */
function placeOf(connectionString: string): PgPlace {
  try {
    const probe = new pg.Client({ connectionString });
    return {
      host: probe.host ?? 'localhost',
      port: probe.port ?? 5432,
      database: probe.database ?? '',
      user: probe.user ?? '',
    };
  } catch {
    throw new FleetError(
      'OTA_STORE',
      'the PostgreSQL connection string cannot be read: write it as postgres://user:password@host:port/database',
    );
  }
}

/** The password a connection string carries, to keep it out of every message. */
function secretsOf(connectionString: string): string[] {
  try {
    const probe = new pg.Client({ connectionString }) as unknown as { password?: string | null };
    const password = typeof probe.password === 'string' ? probe.password : '';
    return [connectionString, password, password && encodeURIComponent(password)];
  } catch {
    return [connectionString];
  }
}

const backoff = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * Math.min(attempt, 5)));

export class PgStore extends PgOperations implements AsyncFleetStore {
  private retryCount = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly place: PgPlace,
    private readonly secrets: string[],
    private readonly options: PgStoreOptions,
  ) {
    super({
      query: (statement, values) => this.onPool(statement, values),
      atomic: (fn) => this.inTransaction(fn, false),
      locking: false,
    });
  }

  /** Connects, brings the schema up to date, and answers the store; fails with OTA_STORE. */
  static async open(connectionString: string, options: PgStoreOptions = {}): Promise<PgStore> {
    const place = placeOf(connectionString);
    const secrets = secretsOf(connectionString);
    const pool = new pg.Pool({
      connectionString,
      max: options.size ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
      ...(options.queryTimeoutMs ? { query_timeout: options.queryTimeoutMs } : {}),
      // A server that vanished without closing the connection (a cut network) is noticed.
      keepAlive: true,
      application_name: 'node-red-contrib-mqtt-ota',
      types: TYPES,
    });
    const store = new PgStore(pool, place, secrets, options);
    // An idle connection the server ends (a restart) is reported here: without a listener it would crash the process.
    pool.on('error', (err) => options.onError?.(store.error(err, 'holding an idle connection')));
    // A connection lost while checked out and between queries emits on the client: its next query fails instead.
    pool.on('connect', (client) => client.on('error', () => undefined));
    try {
      const client = await store.connect('opening the store');
      try {
        await migrate(client, placeName(place));
      } catch (err) {
        client.release(true);
        throw store.error(err, 'migrating the schema');
      }
      client.release();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return store;
  }

  /** Transactions run again after a conflict, since the store opened. */
  get retries(): number {
    return this.retryCount;
  }

  /** Where the store connects: host:port/database (no secret). */
  get where(): string {
    return placeName(this.place);
  }

  /** `tx` also has savepoints (savepoint, release, rollbackTo) for nested units of work. */
  transaction<T>(fn: (tx: AsyncStoreOperations & PgSavepoints) => Promise<T>): Promise<T> {
    return this.inTransaction((runner) => fn(new PgTransaction(runner)), true);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private error(err: unknown, doing: string): FleetError {
    return storeError(err, this.place, doing, this.secrets);
  }

  private async connect(doing: string): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw this.error(err, doing);
    }
  }

  private async onPool<R>(s: Statement, values: unknown[]): Promise<{ rows: R[]; rowCount: number }> {
    try {
      const result = (await this.pool.query({ ...s, values } as pg.QueryConfig)) as QueryResult;
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    } catch (err) {
      throw this.error(err, describe(s));
    }
  }

  /**
   * Runs fn in a transaction on one connection: commits when it resolves, rolls back when it
   * rejects, and runs it again (a few times, after a short random pause) when PostgreSQL ended it
   * for a deadlock or a serialization failure. `locking`: the unit of work's reads lock rows.
   */
  private async inTransaction<T>(fn: (runner: Runner) => Promise<T>, locking: boolean): Promise<T> {
    const maxRetries = this.options.maxRetries ?? 5;
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect('starting a transaction');
      let broken = false;
      let open = true;
      const runner: Runner = {
        query: async <R>(s: Statement, values: unknown[]) => {
          if (!open) throw new FleetError('OTA_STORE', 'a store transaction was used after it ended');
          try {
            const result = (await client.query({ ...s, values } as pg.QueryConfig)) as QueryResult;
            return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
          } catch (err) {
            throw this.error(err, describe(s));
          }
        },
        atomic: (inner) => inner(runner),
        locking,
      };
      try {
        await runner.query({ text: 'BEGIN', what: 'BEGIN (a transaction)' }, []);
        const value = await fn(runner);
        await runner.query({ text: 'COMMIT', what: 'COMMIT (a transaction)' }, []);
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        if (isRetryable(err) && attempt <= maxRetries) {
          this.retryCount++;
          this.options.onRetry?.({ attempt, error: err as FleetError });
          await backoff(attempt);
          continue;
        }
        throw err;
      } finally {
        open = false;
        client.release(broken || undefined);
      }
    }
  }
}

/** What a statement was doing, for an error message: its name, or its first words. */
function describe(s: Statement): string {
  if (s.name) return `running ${s.name.replace(/^ota_/, '').replace(/_/g, ' ')}`;
  return s.what ? `running ${s.what}` : `running ${s.text.trim().split(/\s+/)[0]}`;
}
