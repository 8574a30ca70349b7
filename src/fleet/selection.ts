/**
 * A selection of devices by product key, and optionally module and tag: what an integration
 * (e.g. Home Assistant) exposes. Read from the inventory page by page, so ten thousand devices
 * do not come back in one query.
 */
import type { DeviceRef } from '../protocol';
import type { FleetStore } from './store';
import type { DeviceModule } from './types';

export interface DeviceSelection {
  productKey: string;
  /** Only this module (every module when absent). */
  module?: string;
  /** Only devices carrying this tag. */
  tag?: string;
}

const PAGE = 1000;

/** Every device module of the inventory in the selection, by device name and module. */
export function selectedModules(store: FleetStore, selection: DeviceSelection): DeviceModule[] {
  const out: DeviceModule[] = [];
  const tagged = new Map<string, boolean>();
  // By cursor: each page starts at the last device of the one before (an offset would re-read them all).
  for (let after: DeviceModule | undefined; ;) {
    const page = store.listDevices({ productKey: selection.productKey, module: selection.module, limit: PAGE, after });
    for (const d of page) if (carriesTag(store, d, selection.tag, tagged)) out.push(d);
    if (page.length < PAGE) return out;
    after = page[page.length - 1];
  }
}

/** The modules of one device that are in the selection (none when the device is not). */
export function selectedModulesOf(store: FleetStore, device: DeviceRef, selection: DeviceSelection): DeviceModule[] {
  if (device.productKey !== selection.productKey) return [];
  if (selection.tag !== undefined && !store.hasTag(device, selection.tag)) return [];
  return store.deviceModules(device).filter((d) => selection.module === undefined || d.module === selection.module);
}

function carriesTag(
  store: FleetStore,
  device: DeviceModule,
  tag: string | undefined,
  seen: Map<string, boolean>,
): boolean {
  if (tag === undefined) return true;
  let has = seen.get(device.deviceName);
  if (has === undefined) seen.set(device.deviceName, (has = store.hasTag(device, tag)));
  return has;
}
