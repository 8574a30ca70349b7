/**
 * Which firmware a device may be offered: the newest release of its product's module (by the
 * release sequence the catalog assigns) that the verification gate lets a batch send, and that
 * applies to the version the device runs. One rule for every place that offers an update.
 */
import { gateRefusal } from './gate';
import type { Firmware } from './types';

export interface Installable {
  /** The firmware to install, or undefined when there is none to offer. */
  firmware?: Firmware;
  /** Why there is none: no release, the gate, or the device already runs the newest. */
  reason?: string;
}

export interface InstallTarget {
  productKey: string;
  module: string;
  /** The version the device runs (undefined when it never reported one). */
  version?: string;
}

/** An ordinary batch: what an install from outside (e.g. Home Assistant) creates, so the same gate applies. */
const AS_BATCH = { type: 'static', direct: false, allowUnverified: false } as const;

/**
 * The newest release `target` may be upgraded to, from the catalog's `records`. A differential
 * package counts only for the version it patches; a release not newer than the one the device
 * runs is never offered (no downgrade through an "update").
 */
export function newestInstallable(
  records: Firmware[],
  target: InstallTarget,
  requireVerification: boolean,
): Installable {
  const { productKey, module, version } = target;
  const ofModule = records.filter((f) => f.productKey === productKey && f.module === module);
  const releases = ofModule
    .filter((f) => !f.isDiff || (version !== undefined && f.srcVersion === version))
    .sort((a, b) => b.sequence - a.sequence);
  const what = `${productKey}/${module}`;
  if (releases.length === 0) return { reason: `no firmware of ${what} in the catalog` };
  const allowed = releases.find((f) => gateRefusal(requireVerification, AS_BATCH, f) === undefined);
  const running = version === undefined ? undefined : ofModule.find((f) => f.version === version);
  const newest = releases[0];
  const held = newest !== allowed ? gateRefusal(requireVerification, AS_BATCH, newest) : undefined;
  if (!allowed) return { reason: held };
  if (allowed.version === version || (running && running.sequence >= allowed.sequence)) {
    const upToDate = `${what} ${version} is the newest release that may be installed`;
    return { reason: held && newest.sequence > (running?.sequence ?? 0) ? `${upToDate}; ${held}` : upToDate };
  }
  return { firmware: allowed };
}
