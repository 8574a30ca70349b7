/**
 * What devices say, applied to the fleet: T1 versions (success, mismatch, reboot, dynamic
 * batches), T3 progress, T4/T8 queries and T6 block requests. Devices are identified only by the
 * topic they published on, never by anything in the payload.
 */
import {
  blockReplyMessage,
  BlockRequest,
  DeviceRef,
  failureReason,
  firmwareReplyMessage,
  FirmwareQuery,
  ProgressReport,
  ProtocolError,
  requestReplyMessage,
  VersionReport,
} from '../protocol';
import { FleetCore, MINUTE, TaskOutcome, Work } from './core';
import { notFound, refused } from './errors';
import { descriptorFor } from './notices';
import { planTasks } from './planner';
import type { Task } from './types';

const NO_TASK = 'no active task for this device and module';

/** T1: stores the version and moves the device's task: success, mismatch, or a reboot. */
export function reportVersion(core: FleetCore, device: DeviceRef, report: VersionReport): TaskOutcome {
  return core.run((work) => {
    const now = core.clock.now();
    // Only a dynamic batch cares whether the version changed (a device repeats it at every boot).
    const dynamic = core.hasDynamicBatch();
    const previous = dynamic ? core.store.deviceVersion(device, report.module) : undefined;
    core.store.recordVersion(device, report.module, report.version, now);
    const { productKey, deviceName } = device;
    work.devices.push({
      productKey,
      deviceName,
      module: report.module,
      version: report.version,
      firstSeen: now,
      lastSeen: now,
    });
    const task = core.activeTask(device, report.module);
    if (task) return versionForTask(core, work, task, report.version, now);
    if (!dynamic || previous === report.version) return { ignored: NO_TASK };
    return joinDynamicBatch(core, work, device, report.module, report.version, now);
  });
}

function versionForTask(core: FleetCore, work: Work, task: Task, version: string, now: number): TaskOutcome {
  const batch = core.batchRecord(task.batchId);
  const firmware = core.firmwareOf(batch.firmwareId);
  let next = task;
  if (version === firmware.version) {
    // Success is decided here and only here: the device runs the destination version.
    const reason = task.state === 'CONFIRM' || task.state === 'QUEUED' ? 'already at the destination version' : null;
    next = core.apply(work, task, 'succeed', { reason, step: task.state === 'IN_PROGRESS' ? 100 : task.step });
  } else if (task.state === 'QUEUED') {
    // The device has just booted, so it is online: push it next (dueAt 0 is the front of the
    // queue), rate permitting. A planned batch or a wave not yet open keeps it waiting.
    if (batch.state === 'IN_PROGRESS' && task.dueAt !== null) {
      next = core.updateTask(task, { dueAt: 0 });
      core.wake(0);
    }
  } else if (task.state === 'NOTIFIED' && (task.srcVersion === null || version === task.srcVersion)) {
    next = core.apply(work, task, 'rebooted', {
      dueAt: now,
      srcVersion: version,
      reason: 'the device rebooted before answering; pushed again',
    });
    core.wake(0);
  } else if (
    (task.state === 'NOTIFIED' || task.state === 'IN_PROGRESS') &&
    task.srcVersion !== null &&
    version !== task.srcVersion
  ) {
    next = core.fail(
      work,
      task,
      batch,
      `version mismatch: the device reported ${version}, expected ${firmware.version} (was ${task.srcVersion})`,
      true,
    );
  } else if (task.state === 'CONFIRM' && version !== task.srcVersion) {
    next = core.updateTask(task, { srcVersion: version });
  }
  return { batchId: task.batchId, state: next.state, reason: next.reason };
}

/** Dynamic batches also take devices that report a matching version later (the oldest batch first). */
function joinDynamicBatch(
  core: FleetCore,
  work: Work,
  device: DeviceRef,
  module: string,
  version: string,
  now: number,
): TaskOutcome {
  for (const batch of core.openBatches.values()) {
    if (batch.type !== 'dynamic' || batch.state === 'PAUSED' || batch.targets.productKey !== device.productKey)
      continue;
    const fw = core.firmwareOf(batch.firmwareId);
    if (fw.module !== module || fw.version === version || (fw.isDiff && fw.srcVersion !== version)) continue;
    const { targets } = batch;
    if (targets.srcVersions && !targets.srcVersions.includes(version)) continue;
    if (targets.selection === 'SPECIFIC' && !targets.devices?.includes(device.deviceName)) continue;
    if (targets.selection === 'GROUP' && !core.store.hasTag(device, targets.tag as string)) continue;
    if (core.store.taskOf(batch.id, device, module)) continue;
    const { tasks } = planTasks({
      batchId: batch.id,
      productKey: device.productKey,
      module,
      targets: { ...targets, selection: 'ALL' },
      strategy: { ...batch.strategy, waves: undefined },
      candidates: [{ deviceName: device.deviceName, version }],
      active: new Map(),
      now,
      seed: now,
    });
    core.insertTasks(work, tasks);
    if (batch.state === 'IN_PROGRESS') core.wake(0);
    return { batchId: batch.id, state: tasks[0].state, reason: null };
  }
  return { ignored: NO_TASK };
}

/** T3: progress moves NOTIFIED to IN_PROGRESS; -1..-4 fails the task with the device's reason. */
export function reportProgress(core: FleetCore, device: DeviceRef, report: ProgressReport): TaskOutcome {
  return core.run((work) => {
    const task = core.activeTask(device, report.module);
    if (!task) return { ignored: NO_TASK };
    if (task.state !== 'NOTIFIED' && task.state !== 'IN_PROGRESS') {
      return {
        batchId: task.batchId,
        state: task.state,
        reason: task.reason,
        ignored: `the task is ${task.state}: no notice was sent yet`,
      };
    }
    const batch = core.batchRecord(task.batchId);
    const now = core.clock.now();
    let next: Task;
    if (report.step < 0) {
      next = core.fail(work, task, batch, failureReason(report.step, report.desc), true, report.step);
    } else if (task.state === 'NOTIFIED') {
      const timeout = batch.strategy.timeoutInMinutes;
      next = core.apply(work, task, 'progress', {
        step: report.step,
        startedAt: now,
        dueAt: timeout ? now + timeout * MINUTE : null,
        reason: null,
      });
      if (timeout) core.wake(timeout * MINUTE);
    } else {
      next = core.apply(work, task, 'progress', { step: report.step });
    }
    return { batchId: task.batchId, state: next.state, reason: next.reason };
  });
}

/** T4 (and T8 for iotkit 3.x): answers with the pending notice, or T5 `data:{}`. */
export function queryFirmware(
  core: FleetCore,
  device: DeviceRef,
  query: FirmwareQuery,
  kind: 'firmwareGet' | 'request',
): TaskOutcome & { pending: boolean } {
  return core.run((work) => {
    let task = core.activeTask(device, query.module);
    const batch = task && core.batchRecord(task.batchId);
    const egress = core.egressFor(batch);
    const pending =
      task !== undefined &&
      batch !== undefined &&
      (task.state === 'NOTIFIED' ||
        task.state === 'IN_PROGRESS' ||
        (task.state === 'QUEUED' && batch.state === 'IN_PROGRESS'));
    // The gate holds for answers too: firmware that lost its verification is not handed out.
    const refusal = pending && batch ? core.gateRefusalOf(batch) : undefined;
    if (!task || !batch || !pending || refusal) {
      if (kind === 'firmwareGet' && egress)
        work.sends.push({ message: firmwareReplyMessage(device, query.id), device, egress });
      if (!egress) core.warnNoEgress();
      if (!task) return { pending: false, ignored: 'nothing pending for this device and module' };
      return { pending: false, batchId: task.batchId, state: task.state, ...(refusal ? { ignored: refusal } : {}) };
    }
    if (!egress) {
      core.warnNoEgress();
      return {
        pending: true,
        batchId: task.batchId,
        state: task.state,
        ignored: 'no ota-push node is deployed for this fleet',
      };
    }
    // The device asked: it is answered now, whatever the push rate.
    if (task.state === 'QUEUED') task = core.apply(work, task, 'notify', core.noticePatch(task, batch));
    const descriptor = descriptorFor(core.firmwareOf(batch.firmwareId), batch.strategy, core.host, core.clock.now());
    const message =
      kind === 'firmwareGet'
        ? firmwareReplyMessage(device, query.id, descriptor)
        : requestReplyMessage(device, descriptor, core.nextNoticeId());
    work.sends.push({ message, device, batchId: batch.id, egress });
    return { pending: true, batchId: task.batchId, state: task.state, reason: task.reason };
  });
}

/** T6: one block of a hosted package, for a device that has a task for it. */
export async function requestBlock(core: FleetCore, device: DeviceRef, request: BlockRequest): Promise<TaskOutcome> {
  // What to read is found in a unit of work where the store answers only inside one.
  const find = () => blockSource(core, device, request);
  const found = core.units ? await core.units.unit(find) : find();
  if (!('host' in found)) return found;
  const { firmware, task, batch, egress, host } = found;
  const size = Math.min(request.size, firmware.size - request.offset);
  const block = await host.readBlock(firmware, request.offset, size);
  const message = blockReplyMessage(
    device,
    { id: request.id, fileToken: request.fileToken, fileLength: firmware.size, offset: request.offset },
    block,
  );
  core.emit('send', [{ message, device, batchId: batch.id, egress }]);
  return { batchId: batch.id, state: task.state };
}

/** The firmware, task and egress a block request is answered from; refused when there is none. */
function blockSource(core: FleetCore, device: DeviceRef, request: BlockRequest) {
  const firmware = core.store.firmwareByStream(request.streamId);
  if (!firmware || !firmware.hosted)
    throw notFound(`no firmware hosted by this fleet has streamId ${request.streamId}`);
  const task = core.activeTask(device, firmware.module);
  const batch = task && core.batchRecord(task.batchId);
  if (!task || !batch || batch.firmwareId !== firmware.id) {
    throw refused(
      `${device.productKey}/${device.deviceName} has no active task for firmware ${firmware.id} (streamId ${request.streamId})`,
    );
  }
  const refusal = core.gateRefusalOf(batch);
  if (refusal) throw refused(`batch ${batch.id}: ${refusal}`);
  if (request.offset >= firmware.size)
    throw new ProtocolError('params.fileBlock.offset', `below the package size ${firmware.size}`, request.offset);
  const host = core.host;
  if (!host) throw refused('this fleet does not host packages');
  const egress = core.egressFor(batch);
  if (!egress) {
    core.warnNoEgress();
    const ignored: TaskOutcome = {
      batchId: batch.id,
      state: task.state,
      ignored: 'no ota-push node is deployed for this fleet',
    };
    return ignored;
  }
  return { firmware, task, batch, egress, host };
}
