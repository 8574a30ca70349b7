/**
 * The device's side of verification: hash the package as it streams in (only the digests it
 * needs, never the whole package in memory), then check size, digest and signature against the
 * notice with the codec's own rules.
 */
import { createHash, Hash, KeyObject } from 'node:crypto';
import { checkPackage, checkPackageSignature, FirmwareDescriptor, PackageDigest } from '../protocol';

export class PackageHasher {
  private md5?: Hash;
  private sha256?: Hash;
  private bytes = 0;

  /** MD5 when the notice signs with Md5; SHA-256 when it signs with SHA256 or a signature is checked. */
  constructor(
    private readonly firmware: FirmwareDescriptor,
    private readonly publicKey?: KeyObject,
  ) {
    this.reset();
  }

  /** Starts over: the server ignored a Range request and sends the whole package again. */
  reset(): void {
    this.bytes = 0;
    this.md5 = this.firmware.signMethod === 'Md5' ? createHash('md5') : undefined;
    this.sha256 = this.firmware.signMethod === 'SHA256' || this.publicKey ? createHash('sha256') : undefined;
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
export function verifyPackage(digest: PackageDigest, firmware: FirmwareDescriptor, publicKey?: KeyObject): { ok: true } | { ok: false; reason: string } {
  const check = checkPackage(digest, firmware);
  if (!check.ok || !publicKey) return check;
  return checkPackageSignature(publicKey, digest.sha256, firmware.digestsign);
}
