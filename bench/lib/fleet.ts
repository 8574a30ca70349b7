/** What several benchmarks set up the same way on a fleet: an inventory and a verified firmware 2.0.0. */
import { closeSync, copyFileSync, fsyncSync, openSync } from 'node:fs';
import type { Fleet, Firmware } from '../../src/fleet';
import type { PackageDigest } from '../../src/protocol';

/** The benchmarks' device names: `d-000000`, `d-000001`, … */
export const deviceName = (i: number): string => `d-${String(i).padStart(6, '0')}`;

/** n devices of the product at 1.0.0, written in one transaction straight into the store. */
export function recordDevices(fleet: Fleet, productKey: string, n: number, at = 1): void {
  fleet.store.transaction(() => {
    for (let i = 0; i < n; i++)
      fleet.store.recordVersion({ productKey, deviceName: deviceName(i) }, 'default', '1.0.0', at);
  });
}

/**
 * Firmware 2.0.0, already verified: hosted by the fleet when given the digest of a saved package,
 * else at an external URL.
 */
export function addFirmware2(fleet: Fleet, productKey: string, hosted?: PackageDigest): Firmware {
  const common = { productKey, module: 'default', version: '2.0.0', isDiff: false, verification: 'verified' } as const;
  if (hosted)
    return fleet.addFirmware({
      ...common,
      size: hosted.size,
      md5: hosted.md5,
      sha256: hosted.sha256,
      signMethod: 'SHA256',
      hosted: true,
    });
  return fleet.addFirmware({
    ...common,
    size: 1_000_000,
    md5: 'c'.repeat(32),
    sha256: 'd'.repeat(64),
    signMethod: 'Md5',
    url: `http://firmware.invalid/${productKey}-2.0.0.bin`,
    hosted: false,
  });
}

/**
 * Copies a store file and waits until the copy is on disk. A copy left to the kernel's writeback
 * (38 MB at a million devices, and a benchmark may make two) would be written while the measured
 * calls run, and every fsync SQLite makes then waits for it: the first write of a process fsyncs
 * the new write-ahead log, 21 ms on the benchmarks' machine with an idle disk, 56 to 58 ms with
 * 80 MB of another file still to be written.
 */
export function copyStore(from: string, to: string): void {
  copyFileSync(from, to);
  const fd = openSync(to, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
