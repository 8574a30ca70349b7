/**
 * An install asked for one device (Home Assistant's Install button): a one-device batch of the
 * newest firmware it may get, through the same creation, gate and strategy defaults as any batch.
 */
import type { DeviceRef } from '../protocol';
import { createBatch } from './batches';
import type { FleetCore } from './core';
import { conflict, notFound, refused } from './errors';
import { newestInstallable } from './installable';
import type { Batch } from './types';

export function installLatest(core: FleetCore, device: DeviceRef, module: string): Batch {
  const name = `${device.productKey}/${device.deviceName}`;
  const version = core.store.deviceVersion(device, module);
  if (version === undefined) throw notFound(`${name} has not reported a version of module ${module}`);
  const { firmware, reason } = newestInstallable(
    core.store.listFirmware(device.productKey),
    { productKey: device.productKey, module, version },
    core.settings.requireVerification,
  );
  if (!firmware) throw refused(`nothing to install on ${name}: ${reason}`);
  // Checked here: a batch would take the device anyway and fail its task ("overwrite refused").
  const active = core.activeTask(device, module);
  if (active) {
    throw conflict(
      `${name} already has a ${active.state} task in batch ${active.batchId}: wait for it to finish, or cancel it`,
    );
  }
  return createBatch(core, {
    firmwareId: firmware.id,
    type: 'static',
    targets: { selection: 'SPECIFIC', productKey: device.productKey, devices: [device.deviceName] },
  });
}
