/** Batches and tasks written straight into a store, for the store's own tests. */
import type { NewBatch, NewTask, SqliteStore, TaskState } from '../../src/fleet';

export function insertBatch(store: SqliteStore): number {
  const batch: NewBatch = {
    firmwareId: 'fw',
    type: 'static',
    state: 'IN_PROGRESS',
    targets: { selection: 'ALL', productKey: 'pk1' },
    strategy: {
      retryInterval: 1,
      retryCount: 0,
      overwrite: 'keep',
      needConfirm: false,
      downloadProtocol: 'https',
      waveSuccessPercent: 0,
    },
    wave: 0,
    direct: false,
    allowUnverified: false,
    createdAt: 1,
    updatedAt: 1,
  };
  return store.insertBatch(batch);
}

export function newTask(batchId: number, deviceName: string, state: TaskState): NewTask {
  return {
    batchId,
    productKey: 'pk1',
    deviceName,
    module: 'default',
    srcVersion: '1.0.0',
    state,
    reason: null,
    step: null,
    attempts: 0,
    retries: 0,
    wave: 0,
    dueAt: null,
    startedAt: null,
    createdAt: 1,
    updatedAt: 1,
  };
}
