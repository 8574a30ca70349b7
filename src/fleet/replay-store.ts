/**
 * The synchronous domain on a store that answers with promises (a database server).
 *
 * A unit of work runs as plain synchronous code against `Replay.store`, as it runs against the
 * SQLite store. A read that store has no answer for stops the run (a `Miss`); the unit's
 * runner fetches the answer inside the unit's transaction, and runs the unit again from the top,
 * now with that answer known. Writes are kept in a log and reach the transaction in their order:
 * those before a fetch just before it (so a read sees the unit's own earlier writes, as on
 * SQLite), the rest when the run completes, then it commits.
 *
 * A run is deterministic given its answers (the caller freezes the unit's clock), so each run
 * repeats the writes the transaction already has, in the same order; a run that does not stops
 * with a `ReplayDivergence`, and the unit is rolled back and started once more from nothing. An
 * answer stays valid for the rest of the run unless a later write touches a table it read: then
 * it is fetched again. Answers live for one unit only: the server holds the truth.
 */
import type { AsyncFleetStore, AsyncStoreOperations, FleetStore, Savepoints } from './store';

type OperationName = keyof AsyncStoreOperations;
type Table = 'meta' | 'devices' | 'tags' | 'credentials' | 'firmware' | 'batches' | 'tasks' | 'transitions';

/**
 * read: answered from the unit's answers; write: logged, sent in order; answer: a write whose
 * result the domain uses (an id, a count): sent at once, with the writes before it, and its
 * result kept like a read's.
 */
type Kind = 'read' | 'write' | 'answer';

/** Each operation: what it is, and the tables it reads or writes. */
const OPERATIONS: { [K in OperationName]: readonly [Kind, ...Table[]] } = {
  getMeta: ['read', 'meta'],
  setMeta: ['write', 'meta'],
  recordVersion: ['write', 'devices'],
  deviceVersion: ['read', 'devices'],
  deviceModules: ['read', 'devices'],
  listDevices: ['read', 'devices'],
  devicePage: ['read', 'devices'],
  countDevices: ['read', 'devices'],
  versionDistribution: ['read', 'devices'],
  setTags: ['write', 'tags'],
  tagsOf: ['read', 'tags'],
  hasTag: ['read', 'tags'],
  candidates: ['read', 'devices', 'tags', 'tasks'],
  candidatePage: ['read', 'devices', 'tags', 'tasks'],
  putCredentials: ['write', 'credentials'],
  deleteCredential: ['answer', 'credentials'],
  deviceSecret: ['read', 'credentials'],
  listCredentials: ['read', 'credentials'],
  insertFirmware: ['write', 'firmware'],
  firmware: ['read', 'firmware'],
  firmwareByVersion: ['read', 'firmware'],
  firmwareByStream: ['read', 'firmware'],
  listFirmware: ['read', 'firmware'],
  setVerification: ['write', 'firmware'],
  setFirmwareUrl: ['write', 'firmware'],
  deleteFirmware: ['write', 'firmware'],
  nextStreamId: ['answer', 'firmware'],
  nextReleaseSequence: ['answer', 'firmware'],
  verifiedFirmwareByDigest: ['read', 'firmware'],
  firmwareUsingFile: ['read', 'firmware'],
  insertBatch: ['answer', 'batches'],
  batch: ['read', 'batches'],
  listBatches: ['read', 'batches'],
  openBatches: ['read', 'batches'],
  updateBatch: ['write', 'batches'],
  batchesUsingFirmware: ['read', 'batches'],
  insertTasks: ['write', 'tasks'],
  deleteTasksOfBatch: ['answer', 'tasks'],
  deleteBatch: ['write', 'batches', 'tasks'],
  task: ['read', 'tasks'],
  taskOf: ['read', 'tasks'],
  activeTask: ['read', 'tasks'],
  activeTasks: ['read', 'tasks'],
  activeTasksOf: ['read', 'tasks'],
  tasksOf: ['read', 'tasks'],
  taskPage: ['read', 'tasks'],
  tasksInState: ['read', 'tasks'],
  tasksOfDevice: ['read', 'tasks'],
  saveStep: ['write', 'tasks'],
  saveTask: ['write', 'tasks', 'transitions'],
  saveUniformChange: ['write', 'tasks', 'transitions'],
  countsByBatch: ['read', 'tasks'],
  dueTasks: ['read', 'tasks'],
  tasksUnchangedSince: ['read', 'tasks'],
  nextDue: ['read', 'tasks'],
  openWave: ['answer', 'tasks'],
  waveCounts: ['read', 'tasks'],
  transitions: ['read', 'transitions', 'tasks'],
};

/** A read the unit has no answer for yet: the run stops, the runner fetches it. */
export class Miss extends Error {
  constructor(
    readonly operation: OperationName,
    readonly args: unknown[],
    /** Where in the run's write log it was asked for (the domain may go on writing after it, caught). */
    readonly at = 0,
    /** The nested transactions open at that moment whose savepoints are not yet in the log: where each began, its name. */
    readonly opened: { start: number; name: string }[] = [],
  ) {
    super(`the store has no answer yet for ${operation} (a unit of work runs again once it has)`);
  }
}

/** A run that did not repeat the writes the transaction already has (the unit starts again). */
export class ReplayDivergence extends Error {}

/** Is this error a run of a unit stopping (to run again), not a failure the domain may handle? */
export function stopsTheRun(err: unknown): boolean {
  return err instanceof Miss || err instanceof ReplayDivergence;
}

/** An entry of the write log: a write, or a savepoint of a nested transaction. */
type Logged =
  | {
      kind: 'write';
      operation: OperationName;
      args: unknown[];
      /** The operation and its arguments as text: what a later run must repeat exactly. */
      signature: string;
      tables: readonly Table[];
    }
  | { kind: 'savepoint' | 'release'; name: string; signature: string; tables: readonly Table[] }
  /** Back to a savepoint already sent: the tables written since then change back. */
  | { kind: 'rollback'; name: string; signature: string; tables: readonly Table[] };

interface Answer {
  /** The position in the write log it was fetched at (the writes before it were in the transaction). */
  at: number;
  value: unknown;
}

/** What a unit cost: runs of the domain code, fetched answers, writes sent. */
export interface ReplayStats {
  units: number;
  runs: number;
  fetches: number;
  writes: number;
  restarts: number;
}

/** How many runs one unit may take before it is given up (each fetch is one more). */
const MAX_RUNS = 200;

export class Replay {
  /** The store the domain is given: synchronous, answered from this unit's fetches. */
  readonly store: FleetStore;
  readonly stats: ReplayStats = { units: 0, runs: 0, fetches: 0, writes: 0, restarts: 0 };
  private tx: (AsyncStoreOperations & Partial<Savepoints>) | undefined;
  /** The writes of this run so far. */
  private log: Logged[] = [];
  /** The writes the transaction has (a prefix of every run's log). */
  private sent: Logged[] = [];
  private answers = new Map<string, Answer[]>();
  /** The first miss of this run, even if the domain caught it. */
  private missed: Miss | undefined;
  /** The nested transactions open now: where each began, its savepoint's name, whether that is in the log. */
  private frames: { start: number; name: string; marked: boolean }[] = [];
  /** Nested transactions begun in this run: the nth is named ota_n, the same in every run of the unit. */
  private nestedCount = 0;
  private turn: Promise<unknown> = Promise.resolve();

  private readonly server: Promise<AsyncFleetStore>;

  /** `server` may still be opening (connecting, migrating): units wait for it, and fail as it fails. */
  constructor(server: AsyncFleetStore | Promise<AsyncFleetStore>) {
    this.server = Promise.resolve(server);
    // A server that fails to open fails each unit, not the process.
    this.server.catch(() => undefined);
    const store: Record<string, unknown> = {
      transaction: <T>(fn: () => T): T => this.nested(fn),
      close: () =>
        void this.turn
          .then(() => this.server)
          .then((server) => server.close())
          .catch(() => undefined),
      checkpoint: () => undefined,
    };
    for (const operation of Object.keys(OPERATIONS) as OperationName[]) {
      store[operation] = (...args: unknown[]) => this.call(operation, args);
    }
    this.store = store as unknown as FleetStore;
  }

  /**
   * Runs `fn` as one unit of work: one transaction of the store, committed when `fn` returns.
   * Units take turns. `fn` may run several times; only its last run's result and writes count, so
   * it must not act outside the store before it returns (publish after, as the fleet's units do).
   */
  run<T>(fn: () => T, prefetch: [OperationName, unknown[]][] = []): Promise<T> {
    const result = this.turn.then(() => this.unit(fn, prefetch));
    this.turn = result.catch(() => undefined);
    return result;
  }

  private async unit<T>(fn: () => T, prefetch: [OperationName, unknown[]][]): Promise<T> {
    this.stats.units++;
    for (let attempt = 0; ; attempt++) {
      try {
        const server = await this.server;
        return await server.transaction(async (tx) => {
          this.begin(tx);
          for (const [operation, args] of prefetch) await this.fetch(new Miss(operation, args));
          for (let runs = 0; runs < MAX_RUNS; runs++) {
            const outcome = this.attempt(fn);
            if (this.missed) {
              await this.fetch(this.missed);
              continue;
            }
            if (!outcome.ok) throw outcome.error;
            await this.sendWrites(this.log.length);
            return outcome.value;
          }
          throw new Error(`a unit of work asked the store for more than ${MAX_RUNS} answers`);
        });
      } catch (err) {
        if (!(err instanceof ReplayDivergence) || attempt > 0) throw err;
        this.stats.restarts++;
      } finally {
        this.end();
      }
    }
  }

  private begin(tx: AsyncStoreOperations & Partial<Savepoints>): void {
    this.tx = tx;
    this.sent = [];
    this.answers.clear();
  }

  private end(): void {
    this.tx = undefined;
    this.log = [];
    this.sent = [];
    this.answers.clear();
    this.missed = undefined;
  }

  private attempt<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
    this.stats.runs++;
    this.log = [];
    this.missed = undefined;
    this.frames = [];
    this.nestedCount = 0;
    try {
      return { ok: true, value: fn() };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /** Sends the writes of this run the transaction does not have yet, up to `upTo`. */
  private async sendWrites(upTo: number): Promise<void> {
    const tx = this.tx as AsyncStoreOperations & Partial<Savepoints>;
    for (let i = this.sent.length; i < upTo; i++) {
      const w = this.log[i];
      if (w.kind === 'write') {
        await (tx[w.operation] as (...a: unknown[]) => Promise<unknown>)(...w.args);
        this.stats.writes++;
      } else {
        const verb = w.kind === 'savepoint' ? 'savepoint' : w.kind === 'release' ? 'release' : 'rollbackTo';
        const send = tx[verb];
        if (!send) throw new Error('this store has no savepoints: a nested transaction cannot span a fetch');
        await send.call(tx, w.name);
      }
      this.sent.push(w);
    }
  }

  /** Fetches the answer a run missed, after the writes that came before it in that run. */
  private async fetch(miss: Miss): Promise<void> {
    this.log.length = miss.at;
    // The writes of a nested transaction go after its savepoint, so that it can still be undone.
    let inserted = 0;
    for (const { start, name } of miss.opened) {
      this.log.splice(start + inserted, 0, { kind: 'savepoint', name, signature: `savepoint ${name}`, tables: [] });
      inserted++;
    }
    const at = miss.at + inserted;
    await this.sendWrites(at);
    const tx = this.tx as AsyncStoreOperations;
    const value = await (tx[miss.operation] as (...a: unknown[]) => Promise<unknown>)(...miss.args);
    this.stats.fetches++;
    const key = keyOf(miss.operation, miss.args);
    if (OPERATIONS[miss.operation][0] === 'answer') {
      this.sent.push(logged(miss.operation, miss.args));
      this.stats.writes++;
    }
    const list = this.answers.get(key) ?? [];
    list.push({ at, value });
    this.answers.set(key, list);
  }

  private call(operation: OperationName, args: unknown[]): unknown {
    if (!this.tx) throw new Error(`${operation}: this store answers only inside a unit of work (Replay.run)`);
    if (this.missed) throw this.missed;
    const [kind] = OPERATIONS[operation];
    if (kind === 'write') {
      this.append(logged(operation, args));
      return undefined;
    }
    const answer = this.answerFor(operation, args);
    if (!answer) {
      const opened = this.frames.filter((f) => !f.marked).map(({ start, name }) => ({ start, name }));
      this.missed = new Miss(operation, args, this.log.length, opened);
      throw this.missed;
    }
    if (kind === 'answer') this.append(logged(operation, args));
    return structuredClone(answer.value);
  }

  /** A fetched answer still true at this point of the run, if any. */
  private answerFor(operation: OperationName, args: unknown[]): Answer | undefined {
    const list = this.answers.get(keyOf(operation, args));
    if (!list) return undefined;
    const here = this.log.length;
    const tables = OPERATIONS[operation].slice(1) as Table[];
    const exact = OPERATIONS[operation][0] === 'answer';
    for (let i = list.length - 1; i >= 0; i--) {
      const { at } = list[i];
      if (exact ? at !== here : at > here) continue;
      if (!this.writtenBetween(at, here, tables)) return list[i];
    }
    return undefined;
  }

  private writtenBetween(from: number, to: number, tables: Table[]): boolean {
    for (let i = from; i < to; i++) {
      if (this.log[i].tables.some((t) => tables.includes(t))) return true;
    }
    return false;
  }

  private append(entry: Logged): void {
    const i = this.log.length;
    if (i < this.sent.length && this.sent[i].signature !== entry.signature) {
      throw new ReplayDivergence(
        `a unit of work wrote ${entry.signature.slice(0, 80)} where its earlier run wrote ${this.sent[i].signature.slice(0, 80)}`,
      );
    }
    this.log.push(entry);
  }

  /**
   * A nested transaction (a savepoint, as on SQLite): on an error its writes are undone and the
   * unit goes on. Its savepoint enters the log only when a fetch inside it must send its writes
   * (an earlier run of the unit may have sent it: then it is at this very point of the log);
   * otherwise a failure just drops its writes from the log.
   */
  private nested<T>(fn: () => T): T {
    if (this.missed) throw this.missed;
    const start = this.log.length;
    const name = `ota_${++this.nestedCount}`;
    const earlier = this.sent[start];
    const frame = { start, name, marked: earlier?.kind === 'savepoint' && earlier.name === name };
    if (frame.marked) this.log.push(earlier);
    this.frames.push(frame);
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.frames.pop();
      if (this.missed) throw err;
      if (frame.marked) {
        const tables = new Set(this.log.slice(start + 1).flatMap((w) => w.tables));
        this.append({ kind: 'rollback', name, signature: `rollback ${name}`, tables: [...tables] });
      } else {
        this.log.length = start;
      }
      throw err;
    }
    this.frames.pop();
    if (frame.marked) this.append({ kind: 'release', name, signature: `release ${name}`, tables: [] });
    return result;
  }
}

function keyOf(operation: OperationName, args: unknown[]): string {
  return `${operation}${JSON.stringify(args, mapsAsEntries)}`;
}

function logged(operation: OperationName, args: unknown[]): Logged {
  const copy = structuredClone(args);
  return {
    kind: 'write',
    operation,
    args: copy,
    signature: keyOf(operation, copy),
    tables: OPERATIONS[operation].slice(1) as Table[],
  };
}

function mapsAsEntries(_key: string, value: unknown): unknown {
  return value instanceof Map ? [...value.entries()] : value;
}
