/**
 * What the fleet needs from storage, named after the domain. The SQLite implementation is
 * sqlite-store.ts: every method is synchronous and every write is durable when it returns (or
 * when the enclosing `transaction` returns). A store on a database server answers the same
 * operations with promises (`AsyncFleetStore`, pg-store.ts); `promisedStore` (async-store.ts)
 * gives the SQLite store that face too, so one contract holds for both.
 */
import type { DeviceRef } from '../protocol';
import type { CredentialRecord, DeviceCredential } from './credentials';
import type { TaskState } from './states';
import type { Batch, DeviceModule, Firmware, Task, Transition, Verification, VersionCount } from './types';
import type { UniformTaskChange } from './uniform-change';

export interface DeviceQuery {
  productKey?: string;
  module?: string;
  version?: string;
  /** Device names containing this text. */
  search?: string;
  limit?: number;
  /** Skips this many devices (reads them all: slow deep in a large fleet; prefer `after`). */
  offset?: number;
  /** Keyset paging: the devices after this one, in the list's order (the last device of the previous page). */
  after?: DeviceKey;
}

/** A device module's place in the device list: its order is product key, device name, module. */
export interface DeviceKey {
  productKey: string;
  deviceName: string;
  module: string;
}

export interface CandidateQuery {
  productKey: string;
  module: string;
  /** Leave out devices already at this version. */
  excludeVersion: string;
  srcVersions?: string[];
  devices?: string[];
  tag?: string;
}

/** A page of candidates (a batch created a slice at a time). */
export interface CandidatePage {
  /** The page's devices that pass the version filters, with the task that holds each one's module now (any batch), if any. */
  candidates: { deviceName: string; version: string | null; activeTaskId: number | null }[];
  /** The cursor of the next page (a device name), or null after the last. */
  next: string | null;
}

export interface TaskQuery {
  state?: TaskState;
  limit?: number;
  /** Skips this many tasks (reads them all: slow deep in a large batch; prefer `after`). */
  offset?: number;
  /** Keyset paging: the tasks with an id above this one (the last id of the previous page). */
  after?: number;
}

export interface CredentialQuery {
  productKey?: string;
  limit?: number;
  offset?: number;
}

/** A page of devices, and where the next one starts when the page stopped reading before `limit` matches. */
export interface DevicePage {
  devices: DeviceModule[];
  next?: DeviceKey;
}

/** A page of tasks, and where the next one starts when the page stopped reading before `limit` matches. */
export interface TaskPage {
  tasks: Task[];
  next?: number;
}

export type NewTask = Omit<Task, 'id'>;
export type NewBatch = Omit<Batch, 'id'>;

export interface FleetStore {
  transaction<T>(fn: () => T): T;
  close(): void;

  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  // inventory
  /** Stores a device's reported version: one row write; a changed version also moves its count in version_counts (kept by triggers). */
  recordVersion(device: DeviceRef, module: string, version: string, at: number): void;
  deviceVersion(device: DeviceRef, module: string): string | undefined;
  deviceModules(device: DeviceRef): DeviceModule[];
  /** Devices by product key, device name and module: a page from `after` (or `offset`), at most `limit`. */
  listDevices(query: DeviceQuery): DeviceModule[];
  /** A page by cursor that reads a bounded number of devices, however rare its version or name filter. */
  devicePage(query: DeviceQuery): DevicePage;
  countDevices(query: DeviceQuery): number;
  versionDistribution(productKey?: string): VersionCount[];
  setTags(device: DeviceRef, tags: string[]): void;
  tagsOf(device: DeviceRef): string[];
  hasTag(device: DeviceRef, tag: string): boolean;
  /** Devices a new batch may target: name and current version (null if it never reported). */
  candidates(query: CandidateQuery): { deviceName: string; version: string | null }[];
  /**
   * The same, a page at a time: up to `limit` devices by name after `after` (null: from the first).
   * A query of listed `devices` is one page of those devices, in their order.
   */
  candidatePage(query: CandidateQuery, after: string | null, limit: number): CandidatePage;

  // device registry: the secrets devices log in with, stored as given (the login HMAC needs them)
  /** Registers devices, replacing the secret of any already registered (one transaction). */
  putCredentials(credentials: DeviceCredential[], at: number): void;
  /** Removes a device's secret; false when it had none. */
  deleteCredential(device: DeviceRef): boolean;
  deviceSecret(device: DeviceRef): string | undefined;
  /** Registered devices, by product key and name, without their secrets. */
  listCredentials(query: CredentialQuery): CredentialRecord[];

  // catalog
  insertFirmware(firmware: Firmware): void;
  firmware(id: string): Firmware | undefined;
  firmwareByVersion(productKey: string, module: string, version: string): Firmware | undefined;
  firmwareByStream(streamId: number): Firmware | undefined;
  listFirmware(productKey?: string): Firmware[];
  setVerification(id: string, verification: Verification): void;
  setFirmwareUrl(id: string, url: string): void;
  deleteFirmware(id: string): void;
  nextStreamId(): number;
  /** The next release sequence of a product's module: 1, 2, 3…, never reused, even after a delete. */
  nextReleaseSequence(productKey: string, module: string): number;
  /** A verified (or not-required) firmware of the product with these bytes: by sha256 when given, else md5. */
  verifiedFirmwareByDigest(productKey: string, digest: { sha256?: string; md5?: string }): Firmware | undefined;
  /** Is a package file (by sha256) still used by any firmware record? */
  firmwareUsingFile(sha256: string): number;

  // batches and tasks
  insertBatch(batch: NewBatch): number;
  batch(id: number): Batch | undefined;
  listBatches(): Batch[];
  openBatches(): Batch[];
  updateBatch(batch: Batch): void;
  batchesUsingFirmware(firmwareId: string, openOnly: boolean): number;
  insertTasks(tasks: NewTask[]): void;
  /** Deletes up to `limit` tasks of a batch (one whose creation did not finish); returns how many it deleted. */
  deleteTasksOfBatch(batchId: number, limit: number): number;
  /** Deletes a batch record (after its tasks). */
  deleteBatch(batchId: number): void;
  /**
   * Copies what the write-ahead log holds into the database, without waiting for readers: now, or
   * soon on the store's checkpoint thread once it runs (sqlite-checkpoints.ts). A writer of many
   * pages calls it between its transactions, so that no commit of its meets a checkpoint of the
   * whole log (up to 4 MB: 8–9 ms on a small machine).
   */
  checkpoint(): void;
  task(id: number): Task | undefined;
  taskOf(batchId: number, device: DeviceRef, module?: string): Task | undefined;
  /** The task that holds a device's module now (CONFIRM, QUEUED, NOTIFIED or IN_PROGRESS). */
  activeTask(device: DeviceRef, module: string): Task | undefined;
  activeTasks(device: DeviceRef): Task[];
  /** Active tasks of a product's module, by device name (for the overwrite policy). */
  activeTasksOf(productKey: string, module: string): Map<string, Task>;
  /** A batch's tasks by id: a page from `after` (or `offset`), at most `limit`; with `after`, read through an index in id order (no sort). */
  tasksOf(batchId: number, query: TaskQuery): Task[];
  /** The same, a page at a time: a page of one state reads a bounded part of the batch and may stop before `limit` (`next`). */
  taskPage(batchId: number, query: TaskQuery): TaskPage;
  /** Every task of a batch in one state, in no particular order (one transaction acting on all of them). */
  tasksInState(batchId: number, state: TaskState): Task[];
  tasksOfDevice(device: DeviceRef): Task[];
  /** Saves only a task's step (progress within IN_PROGRESS: no index changes). */
  saveStep(taskId: number, step: number | null, at: number): void;
  /** Saves a task and, when given, appends the transition that produced it. */
  saveTask(task: Task, transition?: Transition): void;
  /**
   * Saves a uniform change of many tasks (uniform-change.ts): each row as the change makes it from
   * the stored one, and a transition for each in the order of `taskIds`, with the row's reason,
   * step and new attempts. All of them or, when a task is not in the change's `from` state, none
   * (an error). Two statements on SQLite, one on PostgreSQL, for any number of tasks.
   */
  saveUniformChange(change: UniformTaskChange): void;
  /** Task counts per batch and state, read from counters kept by triggers (as many rows as batches × states). */
  countsByBatch(batchId?: number): Map<number, Record<TaskState, number>>;
  /** Tasks of a batch in `state` whose dueAt has come, oldest first. */
  dueTasks(batchId: number, state: TaskState, now: number, limit: number): Task[];
  /** Tasks of a batch in `state` last changed before `before`, with ids above `afterId`, by id (a restart's recovery, a page at a time). */
  tasksUnchangedSince(batchId: number, state: TaskState, before: number, afterId: number, limit: number): Task[];
  /** The earliest dueAt of a batch's tasks in `state`. */
  nextDue(batchId: number, state: TaskState): number | undefined;
  /** Makes the QUEUED tasks of one wave due now. */
  openWave(batchId: number, wave: number, at: number): number;
  waveCounts(batchId: number, wave: number): Record<TaskState, number>;
  transitions(query: { taskId?: number; batchId?: number; limit?: number }): Transition[];
}

/** The operations of a store that answers with promises: the same names, arguments and results. */
export type AsyncStoreOperations = {
  [K in Exclude<keyof FleetStore, 'transaction' | 'close' | 'checkpoint'>]: FleetStore[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<R>
    : never;
};

/**
 * A store on a database server (or the SQLite store behind `promisedStore`). Outside a
 * transaction each operation stands alone (its own commit). `transaction` runs `fn` with the
 * operations of one transaction; it commits when `fn` resolves and rolls back when it rejects. A
 * conflict with another writer (a serialization failure, a deadlock) rolls it back and runs `fn`
 * again, so `fn` must act only through `tx` until it resolves.
 */
export interface AsyncFleetStore extends AsyncStoreOperations {
  transaction<T>(fn: (tx: AsyncStoreOperations & Partial<Savepoints>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Savepoints inside a transaction: part of it undone while the rest goes on (a nested unit of work). */
export interface Savepoints {
  savepoint(name: string): Promise<void>;
  release(name: string): Promise<void>;
  rollbackTo(name: string): Promise<void>;
}
