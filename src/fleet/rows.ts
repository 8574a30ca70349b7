/**
 * Rows of both stores as the domain's records (optional fields left out when the column is NULL,
 * JSON columns parsed). A boolean column comes back as 0/1 from SQLite and as a boolean from
 * PostgreSQL; BIGINTs come back as numbers from both.
 */
import type { PackageFile, SignMethod } from '../protocol';
import type { BatchType, Strategy, Targets } from './settings';
import type { BatchState, TaskState } from './states';
import type { NewTask } from './store';
import type { Batch, DeviceModule, Firmware, Task, Transition, Verification } from './types';

/** A boolean column: 0/1 in SQLite, a boolean in PostgreSQL. */
type Flag = boolean | number;

export const TASK_COLUMNS =
  'id, batch_id, product_key, device_name, module, src_version, state, reason, step, attempts, retries, wave, due_at, started_at, created_at, updated_at';

/** A task row read as an array (SQLite `.raw()`, PostgreSQL rowMode 'array'), in TASK_COLUMNS order:
 * building an object per row costs more than the query. */
export type TaskRow = [
  id: number,
  batchId: number,
  productKey: string,
  deviceName: string,
  module: string,
  srcVersion: string | null,
  state: TaskState,
  reason: string | null,
  step: number | null,
  attempts: number,
  retries: number,
  wave: number,
  dueAt: number | null,
  startedAt: number | null,
  createdAt: number,
  updatedAt: number,
];

export const toTask = (r: TaskRow): Task => ({
  id: r[0],
  batchId: r[1],
  productKey: r[2],
  deviceName: r[3],
  module: r[4],
  srcVersion: r[5],
  state: r[6],
  reason: r[7],
  step: r[8],
  attempts: r[9],
  retries: r[10],
  wave: r[11],
  dueAt: r[12],
  startedAt: r[13],
  createdAt: r[14],
  updatedAt: r[15],
});

/** A new task as the values of an INSERT, in TASK_COLUMNS order without the id (15 values). */
export const newTaskValues = (t: NewTask): unknown[] => [
  t.batchId,
  t.productKey,
  t.deviceName,
  t.module,
  t.srcVersion,
  t.state,
  t.reason,
  t.step,
  t.attempts,
  t.retries,
  t.wave,
  t.dueAt,
  t.startedAt,
  t.createdAt,
  t.updatedAt,
];

/** A task's changes as the values of the stores' task UPDATE, its id last (the WHERE): 11 values. */
export const taskUpdateValues = (t: Task): unknown[] => [
  t.state,
  t.reason,
  t.step,
  t.attempts,
  t.retries,
  t.wave,
  t.dueAt,
  t.startedAt,
  t.srcVersion,
  t.updatedAt,
  t.id,
];

/** A transition as the values of the stores' INSERT INTO transitions: 8 values. */
export const transitionValues = (tr: Transition): unknown[] => [
  tr.taskId,
  tr.batchId,
  tr.from,
  tr.to,
  tr.reason,
  tr.step,
  tr.attempts,
  tr.at,
];

export interface BatchRow {
  id: number;
  firmware_id: string;
  type: BatchType;
  state: BatchState;
  targets: string;
  strategy: string;
  reason: string | null;
  wave: number;
  direct: Flag;
  unverified: Flag;
  egress: string | null;
  created_at: number;
  updated_at: number;
}

export const toBatch = (r: BatchRow): Batch => {
  const batch: Batch = {
    id: r.id,
    firmwareId: r.firmware_id,
    type: r.type,
    state: r.state,
    targets: JSON.parse(r.targets) as Targets,
    strategy: JSON.parse(r.strategy) as Strategy,
    wave: r.wave,
    direct: Boolean(r.direct),
    allowUnverified: Boolean(r.unverified),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.reason !== null) batch.reason = r.reason;
  if (r.egress !== null) batch.egress = r.egress;
  return batch;
};

export const FIRMWARE_COLUMNS =
  'id, product_key, module, version, size, md5, sha256, sign_method, url, hosted, is_diff, src_version, ext_data, digestsign, files, stream_id, verification, created_at, sequence';

export interface FirmwareRow {
  id: string;
  product_key: string;
  module: string;
  version: string;
  size: number;
  md5: string;
  sha256: string;
  sign_method: SignMethod;
  url: string | null;
  hosted: Flag;
  is_diff: Flag;
  src_version: string | null;
  ext_data: string | null;
  digestsign: string | null;
  files: string | null;
  stream_id: number;
  verification: Verification;
  created_at: number;
  sequence: number;
}

export const toFirmware = (r: FirmwareRow): Firmware => {
  const fw: Firmware = {
    id: r.id,
    productKey: r.product_key,
    module: r.module,
    version: r.version,
    size: r.size,
    md5: r.md5,
    sha256: r.sha256,
    signMethod: r.sign_method,
    hosted: Boolean(r.hosted),
    isDiff: Boolean(r.is_diff),
    streamId: r.stream_id,
    verification: r.verification,
    sequence: r.sequence,
    createdAt: r.created_at,
  };
  if (r.url !== null) fw.url = r.url;
  if (r.src_version !== null) fw.srcVersion = r.src_version;
  if (r.ext_data !== null) fw.extData = JSON.parse(r.ext_data) as Record<string, string>;
  if (r.digestsign !== null) fw.digestsign = r.digestsign;
  if (r.files !== null) fw.files = JSON.parse(r.files) as PackageFile[];
  return fw;
};

/** A firmware record as the values of an INSERT, in FIRMWARE_COLUMNS order. */
export const firmwareValues = (fw: Firmware): unknown[] => [
  fw.id,
  fw.productKey,
  fw.module,
  fw.version,
  fw.size,
  fw.md5,
  fw.sha256,
  fw.signMethod,
  fw.url ?? null,
  fw.hosted,
  fw.isDiff,
  fw.srcVersion ?? null,
  fw.extData ? JSON.stringify(fw.extData) : null,
  fw.digestsign ?? null,
  fw.files ? JSON.stringify(fw.files) : null,
  fw.streamId,
  fw.verification,
  fw.createdAt,
  fw.sequence,
];

export interface DeviceRow {
  product_key: string;
  device_name: string;
  module: string;
  version: string;
  first_seen: number;
  last_seen: number;
}

export const toDevice = (r: DeviceRow): DeviceModule => ({
  productKey: r.product_key,
  deviceName: r.device_name,
  module: r.module,
  version: r.version,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
});

export interface TransitionRow {
  task_id: number;
  batch_id: number;
  product_key: string;
  device_name: string;
  module: string;
  from_state: TaskState | null;
  to_state: TaskState;
  reason: string | null;
  step: number | null;
  attempts: number;
  at: number;
}

export const toTransition = (r: TransitionRow): Transition => ({
  taskId: r.task_id,
  batchId: r.batch_id,
  productKey: r.product_key,
  deviceName: r.device_name,
  module: r.module,
  from: r.from_state,
  to: r.to_state,
  reason: r.reason,
  step: r.step,
  attempts: r.attempts,
  at: r.at,
});
