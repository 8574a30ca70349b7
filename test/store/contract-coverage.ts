/**
 * That the contract reaches every operation: the list below must name each operation of
 * AsyncStoreOperations (a compile error names one added to the interface and not here), and the
 * suite's last test fails when a full run never called one of them.
 */
import type { AsyncFleetStore, AsyncStoreOperations } from '../../src/fleet';
import type { OpenStore } from './contract-fixtures';

const LISTED = {
  getMeta: true,
  setMeta: true,
  recordVersion: true,
  deviceVersion: true,
  deviceModules: true,
  listDevices: true,
  devicePage: true,
  countDevices: true,
  versionDistribution: true,
  setTags: true,
  tagsOf: true,
  hasTag: true,
  candidates: true,
  candidatePage: true,
  putCredentials: true,
  deleteCredential: true,
  deviceSecret: true,
  listCredentials: true,
  insertFirmware: true,
  firmware: true,
  firmwareByVersion: true,
  firmwareByStream: true,
  listFirmware: true,
  setVerification: true,
  setFirmwareUrl: true,
  deleteFirmware: true,
  nextStreamId: true,
  nextReleaseSequence: true,
  verifiedFirmwareByDigest: true,
  firmwareUsingFile: true,
  insertBatch: true,
  batch: true,
  listBatches: true,
  openBatches: true,
  updateBatch: true,
  batchesUsingFirmware: true,
  insertTasks: true,
  deleteTasksOfBatch: true,
  deleteBatch: true,
  task: true,
  taskOf: true,
  activeTask: true,
  activeTasks: true,
  activeTasksOf: true,
  tasksOf: true,
  taskPage: true,
  tasksInState: true,
  tasksOfDevice: true,
  saveStep: true,
  saveTask: true,
  saveUniformChange: true,
  countsByBatch: true,
  dueTasks: true,
  tasksUnchangedSince: true,
  nextDue: true,
  openWave: true,
  waveCounts: true,
  transitions: true,
} as const satisfies Record<keyof AsyncStoreOperations, true>;

/** Every operation of the interface, by name. */
export const OPERATIONS = Object.keys(LISTED) as (keyof AsyncStoreOperations)[];

/** The opener's stores, and the operations of their transactions, noting each operation called. */
export function noting(open: OpenStore, called: Set<string>): OpenStore {
  return async () => watch(await open(), called);
}

function watch<T extends AsyncFleetStore | AsyncStoreOperations>(target: T, called: Set<string>): T {
  return new Proxy(target, {
    get(t, name) {
      const value: unknown = Reflect.get(t, name, t);
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      if (name === 'transaction') {
        return (fn: (tx: AsyncStoreOperations) => Promise<unknown>) =>
          (value as AsyncFleetStore['transaction']).call(t, (tx) => fn(watch(tx, called)));
      }
      return (...args: unknown[]) => {
        called.add(name);
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}
