/**
 * Hosting for a fleet's packages: signed download URLs on the public base URL, blocks for
 * download over MQTT, and package signatures when the fleet holds a signing key.
 */
import type { KeyObject } from 'node:crypto';
import { signManifest } from '../identity';
import { signPackageDigest } from '../protocol';
import type { PackageHost } from './notices';
import { PackageFiles } from './package-files';
import type { Firmware } from './types';
import { urlSignature } from './url-signing';

export interface HostSettings {
  fleetId: string;
  /** What devices reach, e.g. http://192.168.1.10:1880 (the HTTP node root included). */
  publicUrl: string;
  secret: string;
  expiryHours: number;
  signingKey?: KeyObject;
}

/** The path, under the HTTP node root, where packages are served. */
export const FIRMWARE_ROUTE = 'ota/firmware';

export class FirmwareHost implements PackageHost {
  private readonly signatures = new Map<string, string>();
  /** The last URL signed: a pass of the scheduler signs the same one for every notice. */
  private lastUrl = { key: '', url: '' };
  /** The last manifest signed, for the same reason. */
  private lastManifest: { key: string; tags: Record<string, string> } = { key: '', tags: {} };

  constructor(
    readonly files: PackageFiles,
    readonly settings: HostSettings,
  ) {}

  /** When what is signed at `now` expires, in Unix seconds. */
  private expiresAt(now: number): number {
    return Math.floor(now / 1000) + Math.round(this.settings.expiryHours * 3600);
  }

  signedUrl(firmware: Firmware, now: number): string {
    const expires = this.expiresAt(now);
    const key = `${firmware.id}:${expires}`;
    if (this.lastUrl.key === key) return this.lastUrl.url;
    const p = { fleet: this.settings.fleetId, firmware: firmware.id, expires };
    const base = this.settings.publicUrl.replace(/\/+$/, '');
    const url = `${base}/${FIRMWARE_ROUTE}/${encodeURIComponent(p.fleet)}/${p.firmware}?e=${expires}&s=${urlSignature(this.settings.secret, p)}`;
    this.lastUrl = { key, url };
    return url;
  }

  readBlock(firmware: Firmware, offset: number, size: number): Promise<Buffer> {
    return this.files.readBlock(firmware.sha256, offset, size);
  }

  manifest(firmware: Firmware, now: number): Record<string, string> | undefined {
    const key = this.settings.signingKey;
    if (!key || !firmware.sha256 || firmware.files) return undefined;
    const expires = this.expiresAt(now);
    const cacheKey = `${firmware.id}:${firmware.sequence}:${expires}`;
    if (this.lastManifest.key !== cacheKey) {
      const { productKey, module, version, size, sha256, sequence } = firmware;
      this.lastManifest = { key: cacheKey, tags: signManifest(key, { productKey, module, version, size, sha256, sequence, expires }) };
    }
    return this.lastManifest.tags;
  }

  signature(firmware: Firmware): string | undefined {
    const key = this.settings.signingKey;
    if (!key || !firmware.sha256) return undefined;
    let sig = this.signatures.get(firmware.sha256);
    if (!sig) this.signatures.set(firmware.sha256, (sig = signPackageDigest(key, firmware.sha256)));
    return sig;
  }
}
