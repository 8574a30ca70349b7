/** Batches: creation (targets, gate, plan), direct pushes, and user control. */
import { DeviceRef, FirmwareDescriptor, parseFirmwareDescriptor, ProtocolError } from '../protocol';
import { Creation, DEFAULT_SLICE_SIZE, noMatchingDevice } from './batch-creation';
import { firmwareFromDescriptor } from './catalog';
import { FleetCore, Work } from './core';
import { conflict, refused } from './errors';
import { gateRefusal } from './gate';
import { planTasks } from './planner';
import { BatchRequest, parseBatchRequest, parseStrategy } from './settings';
import { ACTIVE_TASK_STATES, BatchState, emptyCounts, isOpenBatch, TaskState } from './states';
import type { CandidatePage, CandidateQuery } from './store';
import type { Batch, Firmware } from './types';

export interface BatchOptions {
  /** The ota-push node that started it: its notices leave there. */
  egress?: string;
  /** A direct push: every listed device, pending tasks replaced. */
  direct?: boolean;
  /** A direct push whose ota-push node allows unverified direct pushes: the gate lets it through. */
  allowUnverified?: boolean;
}

const MAX_MQTT_PACKAGE = 16 * 1024 * 1024;

export function createBatch(core: FleetCore, input: unknown, options: BatchOptions = {}): Batch {
  const raw = (input ?? {}) as { firmwareId?: unknown };
  const known = typeof raw.firmwareId === 'string' ? core.store.firmware(raw.firmwareId) : undefined;
  const request = parseBatchRequest(input, known?.productKey);
  let creation: Creation | undefined;
  let batch: Batch;
  try {
    batch = core.run((work) => {
      const firmware =
        request.firmwareId !== undefined
          ? core.firmwareOf(request.firmwareId)
          : firmwareFromDescriptor(
              core,
              request.targets.productKey,
              parseFirmwareDescriptor(request.firmware, 'firmware'),
              'firmware',
            );
      const started = startBatch(core, work, request, firmware, options);
      creation = started.creation;
      return started.batch;
    });
  } catch (err) {
    if (creation) core.creating.delete(creation.batchId);
    throw err;
  }
  creation?.schedule();
  core.wake(0);
  return batch;
}

/**
 * A batch whose candidates fit in one slice is created whole, in this unit of work, as it always
 * was. A larger one is stored CREATING and gets its tasks a slice at a time (batch-creation.ts);
 * what can be refused up front (the gate, no matching device) is refused here all the same.
 */
function startBatch(
  core: FleetCore,
  work: Work,
  request: BatchRequest,
  firmware: Firmware,
  options: BatchOptions,
): { batch: Batch; creation?: Creation } {
  checkGate(core, request, firmware, options);
  checkNotCreating(core, request.targets.productKey, firmware.module);
  const sliceSize = Math.max(1, Math.floor(core.batchSliceSize ?? DEFAULT_SLICE_SIZE));
  if (sliceSize === Infinity) return { batch: insertBatch(core, work, request, firmware, options) };
  const query = candidateQueryOf(request, firmware, options);
  const listed = query.devices;
  const firstListed = listed ? listed.slice(0, sliceSize) : undefined;
  // One more than a slice: a page that comes back short held every candidate.
  const first = core.store.candidatePage(listed ? { ...query, devices: firstListed } : query, null, sliceSize + 1);
  if (listed ? listed.length <= sliceSize : first.next === null)
    return { batch: insertBatch(core, work, request, firmware, options) };
  const diffSources = diffSourcesOf(request, firmware);
  if (request.type !== 'dynamic' && !anyCandidate(core, query, first, sliceSize, diffSources))
    throw refused(noMatchingDevice(request.targets.productKey, firmware, query.srcVersions));
  const now = core.clock.now();
  const batch = newBatch(request, firmware, options, 'CREATING', now);
  batch.id = core.store.insertBatch(batch);
  const creation = new Creation(
    core,
    batch.id,
    { request, firmware, query, diffSources, sliceSize, now },
    request.targets.productKey,
    firmware.module,
  );
  creation.take(first, firstListed?.length ?? 0);
  work.batches.push({ batchId: batch.id, from: null, to: 'CREATING', reason: null, counts: emptyCounts(), at: now });
  return { batch, creation };
}

/** Two batches of one product's module are never planned at once: each must see the other's tasks. */
function checkNotCreating(core: FleetCore, productKey: string, module: string): void {
  for (const [id, c] of core.creating) {
    if (c.productKey === productKey && c.module === module)
      throw conflict(
        `batch ${id} of product ${productKey} (module ${module}) is still being created: wait until it is complete`,
      );
  }
}

function candidateQueryOf(request: BatchRequest, firmware: Firmware, options: BatchOptions): CandidateQuery {
  const { targets } = request;
  return {
    productKey: targets.productKey,
    module: firmware.module,
    excludeVersion: options.direct ? '\u0000' : firmware.version,
    // A differential package only applies to devices running its source version.
    srcVersions: firmware.isDiff && firmware.srcVersion ? [firmware.srcVersion] : targets.srcVersions,
    devices: targets.devices,
    tag: targets.tag,
  };
}

/** A differential package's batch also keeps only the source versions its targets name. */
function diffSourcesOf(request: BatchRequest, firmware: Firmware): string[] | undefined {
  return firmware.isDiff && request.targets.srcVersions ? request.targets.srcVersions : undefined;
}

/**
 * Does any device match, when the first page had none? For all of a product's devices the version
 * counters tell at once; a tag or a list is read on until one matches (or it ends).
 */
function anyCandidate(
  core: FleetCore,
  query: CandidateQuery,
  first: CandidatePage,
  sliceSize: number,
  diffSources: string[] | undefined,
): boolean {
  const fits = (version: string | null) => !diffSources || (version !== null && diffSources.includes(version));
  if (first.candidates.some((c) => fits(c.version))) return true;
  if (query.devices === undefined && query.tag === undefined) {
    return core.store
      .versionDistribution(query.productKey)
      .some(
        (v) =>
          v.module === query.module &&
          v.count > 0 &&
          v.version !== query.excludeVersion &&
          (!query.srcVersions || query.srcVersions.includes(v.version)) &&
          fits(v.version),
      );
  }
  const listed = query.devices;
  for (let at = sliceSize, next = first.next; listed ? at < listed.length : next !== null; at += sliceSize) {
    const page = listed
      ? core.store.candidatePage({ ...query, devices: listed.slice(at, at + sliceSize) }, null, sliceSize)
      : core.store.candidatePage(query, next, sliceSize);
    if (page.candidates.some((c) => fits(c.version))) return true;
    next = page.next;
  }
  return false;
}

function newBatch(
  request: BatchRequest,
  firmware: Firmware,
  options: BatchOptions,
  state: BatchState,
  now: number,
): Batch {
  const record = {
    firmwareId: firmware.id,
    state,
    targets: request.targets,
    strategy: request.strategy,
    wave: 0,
    ...batchFlags(request.type, options),
    createdAt: now,
    updatedAt: now,
  };
  return options.egress ? { id: 0, ...record, egress: options.egress } : { id: 0, ...record };
}

function checkGate(core: FleetCore, request: BatchRequest, firmware: Firmware, options: BatchOptions): void {
  const { type, targets, strategy } = request;
  if (targets.productKey !== firmware.productKey) {
    throw refused(`firmware ${firmware.id} is for product ${firmware.productKey}, not ${targets.productKey}`);
  }
  const refusal = gateRefusal(core.settings.requireVerification, batchFlags(type, options), firmware);
  if (refusal) throw refused(refusal);
  if (
    strategy.downloadProtocol === 'mqtt' &&
    (!firmware.hosted || firmware.size > MAX_MQTT_PACKAGE || firmware.files)
  ) {
    throw refused(
      'download over MQTT needs a single package hosted by this fleet, of at most 16 MB (a firmware of several files downloads over https)',
    );
  }
}

function batchFlags(type: Batch['type'], options: BatchOptions): Pick<Batch, 'type' | 'direct' | 'allowUnverified'> {
  const direct = options.direct === true;
  return { type, direct, allowUnverified: direct && options.allowUnverified === true };
}

function insertBatch(
  core: FleetCore,
  work: Work,
  request: BatchRequest,
  firmware: Firmware,
  options: BatchOptions,
): Batch {
  checkGate(core, request, firmware, options);
  checkNotCreating(core, request.targets.productKey, firmware.module);
  const { type, targets, strategy } = request;
  const now = core.clock.now();
  // A differential package only applies to devices running its source version.
  const srcVersions = firmware.isDiff && firmware.srcVersion ? [firmware.srcVersion] : targets.srcVersions;
  let candidates = core.store.candidates({
    productKey: targets.productKey,
    module: firmware.module,
    excludeVersion: options.direct ? '\u0000' : firmware.version,
    srcVersions,
    devices: targets.devices,
    tag: targets.tag,
  });
  if (firmware.isDiff && targets.srcVersions)
    candidates = candidates.filter((c) => c.version !== null && targets.srcVersions?.includes(c.version));
  if (candidates.length === 0 && type !== 'dynamic') {
    throw refused(noMatchingDevice(targets.productKey, firmware, srcVersions));
  }
  const state: BatchState =
    strategy.scheduleStart !== undefined && strategy.scheduleStart > now ? 'PLANNED' : 'IN_PROGRESS';
  const batch = newBatch(request, firmware, options, state, now);
  batch.id = core.store.insertBatch(batch);
  core.cacheBatch(batch);
  const plan = planTasks({
    batchId: batch.id,
    productKey: targets.productKey,
    module: firmware.module,
    targets,
    strategy,
    candidates,
    active: core.store.activeTasksOf(targets.productKey, firmware.module),
    now,
    seed: now ^ batch.id,
  });
  for (const old of plan.replaced)
    core.apply(work, old, 'cancel', { reason: `replaced by batch ${batch.id}`, dueAt: null });
  core.insertTasks(work, plan.tasks);
  if (type === 'verify') core.setVerification(work, firmware, 'verifying');
  work.batches.push({ batchId: batch.id, from: null, to: state, reason: null, counts: emptyCounts(), at: now });
  work.touched.set(batch.id, { newFailure: false, ...work.touched.get(batch.id), finished: true });
  return batch;
}

/**
 * A direct push: one batch per product, recorded so its progress is tracked. The firmware is a
 * catalog entry (by id, e.g. the record ota-verify sends) or a descriptor of an external package.
 */
export function pushDirect(
  core: FleetCore,
  what: FirmwareDescriptor | { firmwareId: string },
  devices: DeviceRef[],
  egress: string,
  allowUnverified = false,
): Batch[] {
  const byProduct = new Map<string, string[]>();
  for (const d of devices) byProduct.set(d.productKey, [...(byProduct.get(d.productKey) ?? []), d.deviceName]);
  return core.run((work) =>
    [...byProduct].map(([productKey, names]) => {
      const firmware =
        'firmwareId' in what ? core.firmwareOf(what.firmwareId) : firmwareFromDescriptor(core, productKey, what);
      const request: BatchRequest = {
        type: 'static',
        targets: { selection: 'SPECIFIC', productKey, devices: names },
        strategy: parseStrategy({ overwrite: 'replace' }),
      };
      return insertBatch(core, work, request, firmware, { egress, direct: true, allowUnverified });
    }),
  );
}

export const ACTIONS = ['cancel', 'pause', 'resume', 'confirm', 'reupgrade'] as const;
export type Action = (typeof ACTIONS)[number];

export interface ControlOptions {
  devices?: DeviceRef[];
  /** For cancel: only tasks in these states. */
  states?: TaskState[];
}

export function controlBatch(core: FleetCore, action: unknown, batchId: number, options: ControlOptions = {}): Batch {
  const record = core.batchRecord(batchId);
  if (record.state === 'CREATING') return controlCreating(core, action, record, options);
  const batch = core.run((work) => {
    const current = core.batchRecord(batchId);
    switch (action) {
      case 'cancel':
        return cancel(core, work, current, options);
      case 'pause':
        return core.changeBatch(work, current, 'pause', 'paused by a user');
      case 'resume':
        checkBatchGate(core, current);
        work.touched.set(current.id, { newFailure: false, ...work.touched.get(current.id), resumed: true });
        return core.changeBatch(work, current, 'resume', null);
      case 'confirm':
        return confirm(core, work, current, options.devices);
      case 'reupgrade':
        checkBatchGate(core, current);
        return reupgrade(core, work, current, options.devices);
      default:
        throw new ProtocolError('action', ACTIONS.map((a) => `"${a}"`).join(', '), action);
    }
  });
  core.wake(0);
  return batch;
}

/**
 * A batch being created takes only a cancel of the whole batch: the creation stops, the tasks
 * stored so far are removed (a slice at a time) and the batch ends CANCELED, with none.
 */
function controlCreating(core: FleetCore, action: unknown, batch: Batch, options: ControlOptions): Batch {
  if (!ACTIONS.includes(action as Action))
    throw new ProtocolError('action', ACTIONS.map((a) => `"${a}"`).join(', '), action);
  const creation = core.creating.get(batch.id);
  if (action !== 'cancel' || options.devices !== undefined || options.states !== undefined || !creation)
    throw refused(`batch ${batch.id} is CREATING: until its last task is stored it can only be canceled as a whole`);
  creation.cancel('canceled by a user while it was being created');
  return batch;
}

/** Resuming or re-upgrading sends notices again: the firmware must still pass the gate. */
function checkBatchGate(core: FleetCore, batch: Batch): void {
  const refusal = gateRefusal(core.settings.requireVerification, batch, core.firmwareOf(batch.firmwareId));
  if (refusal) throw refused(`batch ${batch.id}: ${refusal}`);
}

function cancel(core: FleetCore, work: Work, batch: Batch, options: ControlOptions): Batch {
  const partial = options.devices !== undefined || options.states !== undefined;
  const states = (options.states ?? ACTIVE_TASK_STATES).filter((s) => ACTIVE_TASK_STATES.includes(s));
  const reason = partial ? 'canceled by a user' : 'batch canceled';
  for (const task of core.tasksFor(batch, options.devices, states))
    core.apply(work, task, 'cancel', { reason, dueAt: null });
  if (partial) return batch;
  core.clearPendingRetries(batch);
  if (batch.type === 'verify') core.setVerification(work, core.firmwareOf(batch.firmwareId), 'unverified');
  return core.changeBatch(work, batch, 'cancel', 'canceled by a user');
}

function confirm(core: FleetCore, work: Work, batch: Batch, devices?: DeviceRef[]): Batch {
  if (!isOpenBatch(batch.state)) throw refused(`batch ${batch.id} is ${batch.state}: nothing to confirm`);
  const now = core.clock.now();
  const startAt = Math.max(now, batch.strategy.scheduleStart ?? now);
  for (const task of core.tasksFor(batch, devices, ['CONFIRM'])) {
    core.apply(work, task, 'confirm', { dueAt: task.wave <= batch.wave ? startAt : null });
  }
  return batch;
}

function reupgrade(core: FleetCore, work: Work, batch: Batch, devices?: DeviceRef[]): Batch {
  if (batch.state === 'CANCELED') throw refused(`batch ${batch.id} is CANCELED: start a new batch instead`);
  const tasks = core.tasksFor(batch, devices, ['FAILED', 'CANCELED']);
  if (devices && tasks.length < devices.length) throw refused('only FAILED or CANCELED tasks can be upgraded again');
  for (const task of tasks) {
    const other = core.activeTask(task, task.module);
    if (other) throw conflict(`${task.productKey}/${task.deviceName} has an active task in batch ${other.batchId}`);
    core.apply(work, task, 'reupgrade', {
      dueAt: core.clock.now(),
      retries: 0,
      reason: null,
      srcVersion: core.sourceVersionOf(task),
    });
  }
  if (tasks.length && batch.state === 'COMPLETED')
    return core.changeBatch(work, batch, 'reopen', 're-upgrade of failed or canceled tasks');
  return batch;
}
