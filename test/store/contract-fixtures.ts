/**
 * What the contract's tests share: a fresh store per test through the opener, and records built
 * with every field given (a store must hand back exactly what it was given).
 */
import type { AsyncFleetStore, Firmware, NewBatch, NewTask, Task, TaskState } from '../../src/fleet';
import type { DeviceRef } from '../../src/protocol';

/** Opens a new, empty store; the suite closes it. */
export type OpenStore = () => Promise<AsyncFleetStore>;

/**
 * Opens a fresh store before each test of the enclosing `describe` and closes it after: the
 * returned function gives the current one.
 */
export function freshStore(open: OpenStore): () => AsyncFleetStore {
  let store: AsyncFleetStore | undefined;
  beforeEach(async function () {
    store = await open();
  });
  afterEach(async function () {
    const closing = store;
    store = undefined;
    await closing?.close();
  });
  return () => {
    if (!store) throw new Error('the store is opened by beforeEach: use it inside a test');
    return store;
  };
}

/**
 * One store for every test of the enclosing `describe`, opened before the first and closed after
 * the last: for a group whose tests only read what its `before` wrote (fewer stores to open on a
 * database server).
 */
export function sharedStore(open: OpenStore): () => AsyncFleetStore {
  let store: AsyncFleetStore | undefined;
  before(async function () {
    store = await open();
  });
  after(async function () {
    const closing = store;
    store = undefined;
    await closing?.close();
  });
  return () => {
    if (!store) throw new Error('the store is opened by before: use it inside a test');
    return store;
  };
}

export const device = (deviceName: string, productKey = 'pk1'): DeviceRef => ({ productKey, deviceName });

export function newBatch(fields: Partial<NewBatch> = {}): NewBatch {
  return {
    firmwareId: 'fw1',
    type: 'static',
    state: 'IN_PROGRESS',
    targets: { selection: 'ALL', productKey: 'pk1' },
    strategy: {
      retryInterval: 1,
      retryCount: 2,
      overwrite: 'keep',
      needConfirm: false,
      downloadProtocol: 'https',
      waveSuccessPercent: 0,
    },
    wave: 0,
    direct: false,
    allowUnverified: false,
    createdAt: 100,
    updatedAt: 100,
    ...fields,
  };
}

export function newTask(batchId: number, deviceName: string, fields: Partial<NewTask> = {}): NewTask {
  return {
    batchId,
    productKey: 'pk1',
    deviceName,
    module: 'default',
    srcVersion: '1.0.0',
    state: 'QUEUED',
    reason: null,
    step: null,
    attempts: 0,
    retries: 0,
    wave: 0,
    dueAt: null,
    startedAt: null,
    createdAt: 100,
    updatedAt: 100,
    ...fields,
  };
}

export function firmware(id: string, fields: Partial<Firmware> = {}): Firmware {
  return {
    id,
    productKey: 'pk1',
    module: 'default',
    version: '2.0.0',
    size: 1024,
    md5: `md5-${id}`,
    sha256: `sha256-${id}`,
    signMethod: 'SHA256',
    hosted: true,
    isDiff: false,
    streamId: 1001,
    verification: 'verified',
    sequence: 1,
    createdAt: 100,
    ...fields,
  };
}

/** Device names dev01, dev02, … (fixed width, so that their order is the same as text and as numbers). */
export const names = (count: number, prefix = 'dev'): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(2, '0')}`);

/** Inserts tasks and reads them back (insertTasks returns no ids): in insertion order, ids increasing. */
export async function insertAndRead(store: AsyncFleetStore, batchId: number, tasks: NewTask[]): Promise<Task[]> {
  await store.insertTasks(tasks);
  const all = await store.tasksOf(batchId, { limit: 1_000_000 });
  return all.slice(all.length - tasks.length);
}

/** The task with these fields changed (a copy). */
export const changed = (task: Task, fields: Partial<Task>): Task => ({ ...task, ...fields });

export const byId = (a: { id: number }, b: { id: number }): number => a.id - b.id;

export const ids = (tasks: { id: number }[]): number[] => tasks.map((t) => t.id);

/** States a test walks through; the full list is TASK_STATES. */
export const SOME_STATES: TaskState[] = ['QUEUED', 'NOTIFIED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED'];
