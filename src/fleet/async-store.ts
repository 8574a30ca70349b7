/**
 * The SQLite store behind the promise-answering face of a server store (`AsyncFleetStore`), so
 * that code written for both, and the one contract test suite, run on either. The connection is
 * one, so transactions take turns: an operation outside a transaction waits for the open one to
 * end, as it would wait for a lock on a server.
 */
import type { AsyncFleetStore, AsyncStoreOperations, FleetStore, Savepoints } from './store';

/** The operations that pass through to the synchronous store (all but transaction, close, checkpoint). */
const OPERATIONS = [
  'getMeta',
  'setMeta',
  'recordVersion',
  'deviceVersion',
  'deviceModules',
  'listDevices',
  'devicePage',
  'countDevices',
  'versionDistribution',
  'setTags',
  'tagsOf',
  'hasTag',
  'candidates',
  'candidatePage',
  'putCredentials',
  'deleteCredential',
  'deviceSecret',
  'listCredentials',
  'insertFirmware',
  'firmware',
  'firmwareByVersion',
  'firmwareByStream',
  'listFirmware',
  'setVerification',
  'setFirmwareUrl',
  'deleteFirmware',
  'nextStreamId',
  'nextReleaseSequence',
  'verifiedFirmwareByDigest',
  'firmwareUsingFile',
  'insertBatch',
  'batch',
  'listBatches',
  'openBatches',
  'updateBatch',
  'batchesUsingFirmware',
  'insertTasks',
  'deleteTasksOfBatch',
  'deleteBatch',
  'task',
  'taskOf',
  'activeTask',
  'activeTasks',
  'activeTasksOf',
  'tasksOf',
  'taskPage',
  'tasksInState',
  'tasksOfDevice',
  'saveStep',
  'saveTask',
  'saveUniformChange',
  'countsByBatch',
  'dueTasks',
  'tasksUnchangedSince',
  'nextDue',
  'openWave',
  'waveCounts',
  'transitions',
] as const satisfies readonly (keyof AsyncStoreOperations)[];

// Every operation is listed (a compile error names the one left out).
type Missing = Exclude<keyof AsyncStoreOperations, (typeof OPERATIONS)[number]>;
const complete: [Missing] extends [never] ? true : Missing = true;
void complete;

/** Statements a transaction of the SQLite store runs by hand (BEGIN, COMMIT, ROLLBACK). */
export interface ManualTransactions {
  begin(): void;
  commit(): void;
  rollback(): void;
  /** SAVEPOINT, RELEASE and ROLLBACK TO, by name. */
  savepoint(name: string, verb: 'savepoint' | 'release' | 'rollbackTo'): void;
}

/** The synchronous store answering with promises; `fn` of a transaction may await between its operations. */
export function promisedStore(store: FleetStore & ManualTransactions): AsyncFleetStore {
  let turn: Promise<unknown> = Promise.resolve();
  let inTransaction = false;
  const call = (name: keyof AsyncStoreOperations, args: unknown[]): unknown =>
    (store[name] as (...a: unknown[]) => unknown).apply(store, args);

  /** The operations, run at once (inside the open transaction) or after it (outside one). */
  const operations = (inside: boolean): AsyncStoreOperations => {
    const ops: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
    for (const name of OPERATIONS) {
      ops[name] = inside
        ? async (...args) => call(name, args)
        : (...args) => {
            const result = turn.then(() => call(name, args));
            turn = result.catch(() => undefined);
            return result;
          };
    }
    return ops as unknown as AsyncStoreOperations;
  };
  const outside = operations(false);
  const inside: AsyncStoreOperations & Savepoints = {
    ...operations(true),
    savepoint: async (name) => store.savepoint(name, 'savepoint'),
    release: async (name) => store.savepoint(name, 'release'),
    rollbackTo: async (name) => store.savepoint(name, 'rollbackTo'),
  };

  return {
    ...outside,
    transaction<T>(fn: (tx: AsyncStoreOperations) => Promise<T>): Promise<T> {
      const result = turn.then(async () => {
        if (inTransaction) throw new Error('a transaction of this store is already open');
        store.begin();
        inTransaction = true;
        try {
          const value = await fn(inside);
          store.commit();
          return value;
        } catch (err) {
          store.rollback();
          throw err;
        } finally {
          inTransaction = false;
        }
      });
      turn = result.catch(() => undefined);
      return result;
    },
    async close(): Promise<void> {
      await turn;
      store.close();
    },
  };
}
