/**
 * The verification gate: may a batch send notices of this firmware? One rule, asked wherever a
 * notice can leave — a batch's creation, each scheduler pass, a T4/T8 answer, a T7 block, a
 * resume or a re-upgrade — so no path walks around it.
 */
import type { Batch, Firmware } from './types';

/** Verified on test devices, or the fleet did not require it when the firmware was added. */
export function isVerified(firmware: Pick<Firmware, 'verification'>): boolean {
  return firmware.verification === 'verified' || firmware.verification === 'not-required';
}

/**
 * Why `batch` may not notice `firmware`, or undefined when it may. A verify batch is how firmware
 * gets verified, so it may; a direct push from an ota-push node that allows unverified pushes may.
 */
export function gateRefusal(
  requireVerification: boolean,
  batch: Pick<Batch, 'type' | 'direct' | 'allowUnverified'>,
  firmware: Firmware,
): string | undefined {
  if (!requireVerification || batch.type === 'verify' || batch.allowUnverified || isVerified(firmware))
    return undefined;
  const what = `firmware ${firmware.id} (${firmware.productKey}/${firmware.module} ${firmware.version}) is ${firmware.verification}`;
  const fix = batch.direct
    ? 'verify it first (ota-verify with test devices, or a batch of type "verify"), or turn on "allow unverified direct pushes" on the ota-push node'
    : 'verify it on up to 10 test devices first (a batch of type "verify", or ota-verify with test devices), or turn off "require verification" on the fleet';
  return `${what}: ${fix}`;
}
