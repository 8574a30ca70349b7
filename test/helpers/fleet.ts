/** A fleet on a real SQLite file in a temp dir, driven by a manual clock, for domain tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, FleetSettings, ManualClock, Outgoing, PackageHost, SqliteStore, Transition } from '../../src/fleet';
import type { BatchChange } from '../../src/fleet';
import { DeviceRef, parseUpgradeNotice } from '../../src/protocol';

export interface TestFleet {
  fleet: Fleet;
  clock: ManualClock;
  dir: string;
  file: string;
  sent: Outgoing[];
  transitions: Transition[];
  batchChanges: BatchChange[];
  warnings: string[];
  /** Closes the fleet and opens the same file again (a restart). */
  reopen(): TestFleet;
  close(): void;
}

export function makeFleet(
  settings: Partial<FleetSettings> = {},
  dir = mkdtempSync(join(tmpdir(), 'ota-fleet-')),
  clock = new ManualClock(),
  host?: PackageHost,
): TestFleet {
  const file = join(dir, 'fleet.sqlite');
  const fleet = new Fleet({ store: new SqliteStore(file), clock, settings, name: 'test', host });
  const t: TestFleet = {
    fleet,
    clock,
    dir,
    file,
    sent: [],
    transitions: [],
    batchChanges: [],
    warnings: [],
    reopen() {
      fleet.close();
      return makeFleet(settings, dir, clock, host);
    },
    close() {
      fleet.close();
      // A busy store's checkpoint thread closes its connection just after close() returns, and
      // SQLite may touch the store's files meanwhile: one created during rmSync's pass fails that
      // pass with ENOTEMPTY.
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    },
  };
  fleet.on('send', (out) => t.sent.push(...out));
  fleet.on('task', (tr) => t.transitions.push(tr));
  fleet.on('batch', (b) => t.batchChanges.push(b));
  fleet.on('warning', (w) => t.warnings.push(w));
  fleet.attachEgress('push-1');
  return t;
}

export const dev = (deviceName: string, productKey = 'pk1'): DeviceRef => ({ productKey, deviceName });

/** Reports versions for devices dev-000 … dev-(n-1). */
export function reportFleet(
  fleet: Fleet,
  n: number,
  version: string,
  productKey = 'pk1',
  module = 'default',
): DeviceRef[] {
  const devices: DeviceRef[] = [];
  for (let i = 0; i < n; i++) {
    const device = dev(`dev-${String(i).padStart(3, '0')}`, productKey);
    fleet.reportVersion(device, { version, module });
    devices.push(device);
  }
  return devices;
}

/** A firmware at an external URL, verified so any batch may use it. */
export function externalFirmware(fleet: Fleet, version = '2.0.0', productKey = 'pk1', module = 'default') {
  return fleet.addFirmware({
    productKey,
    module,
    version,
    size: 1024,
    md5: 'a'.repeat(32),
    sha256: 'b'.repeat(64),
    signMethod: 'Md5',
    url: `https://cdn.example.com/${productKey}/${module}/${version}.bin`,
    hosted: false,
    isDiff: false,
    verification: 'verified',
  });
}

/** The devices notified (T2) in `sent`, in order, and their notices. */
export function notices(sent: Outgoing[]) {
  return sent
    .filter((o) => o.message.topic.startsWith('/ota/device/upgrade/'))
    .map((o) => ({
      device: o.device.deviceName,
      batchId: o.batchId,
      egress: o.egress,
      notice: parseUpgradeNotice(o.message.payload),
    }));
}
