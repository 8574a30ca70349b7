/**
 * The device's side of verification: hash the package as it streams in (only the digests it
 * needs, never the whole package in memory; shared-digests.ts spares the devices of a simulation
 * hashing bytes equal to ones already hashed), then check size, digest and signature against the
 * notice with the codec's own rules, and, for a device that trusts a fleet key, the notice's
 * signed release manifest with the identity layer's rules. A notice of several files is checked
 * file by file.
 */
import { createHash, Hash, KeyObject } from 'node:crypto';
import { checkManifest, ManifestCheckName } from '../identity';
import {
  checkFiles,
  checkPackage,
  checkPackageSignature,
  FirmwareDescriptor,
  PackageDigest,
  UNSIGNED_FILES_REASON,
} from '../protocol';
import type { StreamHasher } from './shared-digests';

/** The keys a device holds: `publicKey` requires `digestsign`, `trustKey` a signed release manifest. */
export interface DeviceKeys {
  publicKey?: KeyObject;
  trustKey?: KeyObject;
}

export class PackageHasher implements StreamHasher {
  private md5?: Hash;
  private sha256?: Hash;
  private bytes = 0;

  /** MD5 when the notice signs with Md5; SHA-256 when it signs with SHA256 or the device holds a key. */
  constructor(
    private readonly firmware: FirmwareDescriptor,
    private readonly keys: DeviceKeys = {},
  ) {
    this.reset();
  }

  /** Starts over: the server ignored a Range request and sends the whole package again. */
  reset(): void {
    this.bytes = 0;
    this.md5 = this.firmware.signMethod === 'Md5' ? createHash('md5') : undefined;
    this.sha256 =
      this.firmware.signMethod === 'SHA256' || this.keys.publicKey || this.keys.trustKey
        ? createHash('sha256')
        : undefined;
  }

  get size(): number {
    return this.bytes;
  }

  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    this.md5?.update(chunk);
    this.sha256?.update(chunk);
  }

  digest(): PackageDigest {
    return { size: this.bytes, md5: this.md5?.digest('hex') ?? '', sha256: this.sha256?.digest('hex') ?? '' };
  }
}

/** Size and digest by signMethod, then `digestsign` when the device holds a public key. */
export function verifyPackage(
  digest: PackageDigest,
  firmware: FirmwareDescriptor,
  publicKey?: KeyObject,
): { ok: true } | { ok: false; reason: string } {
  const check = checkPackage(digest, firmware);
  if (!check.ok || !publicKey) return check;
  return checkPackageSignature(publicKey, digest.sha256, firmware.digestsign);
}

/** What a device with a trust key may install: the release's sequence, or why not. */
export type ReleaseCheck = { ok: true; sequence: number } | { ok: false; reason: string; refused?: ManifestCheckName };

/**
 * After verifyPackage passed, for a device that trusts a fleet key: the release manifest (signed,
 * for this notice and these bytes, fresh by the device clock, not older than `installedSequence`),
 * then `digestsign` when the notice carries one.
 */
export function verifyRelease(
  digest: PackageDigest,
  firmware: FirmwareDescriptor,
  device: { productKey: string; trustKey: KeyObject; now: number; installedSequence?: number },
): ReleaseCheck {
  const release = checkManifest({
    extData: firmware.extData,
    publicKey: device.trustKey,
    notice: firmware,
    productKey: device.productKey,
    digest,
    now: device.now,
    installedSequence: device.installedSequence,
  });
  if (!release.ok) return { ok: false, reason: release.reason, refused: release.check };
  if (firmware.digestsign !== undefined) {
    const signature = checkPackageSignature(device.trustKey, digest.sha256, firmware.digestsign);
    if (!signature.ok) return signature;
  }
  return { ok: true, sequence: release.manifest.sequence };
}

/**
 * A notice of several files: each downloaded file against its entry. No release manifest and no
 * `digestsign` covers several files, so a device holding either key refuses them once they match.
 */
export function verifyFiles(
  digests: ReadonlyMap<string, PackageDigest>,
  firmware: FirmwareDescriptor,
  keys: DeviceKeys,
): { ok: true } | { ok: false; reason: string; refused?: ManifestCheckName } {
  const check = checkFiles(digests, firmware);
  if (!check.ok) return check;
  if (keys.trustKey) return { ok: false, reason: UNSIGNED_FILES_REASON, refused: 'unsigned' };
  if (keys.publicKey)
    return {
      ok: false,
      reason:
        'the notice lists several files, and digestsign signs a single package: this device requires signed packages',
    };
  return check;
}
