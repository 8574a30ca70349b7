/**
 * Hosting for a fleet's packages: signed download URLs on the public base URL, blocks for
 * download over MQTT, and package signatures when the fleet holds a signing key.
 */
import type { KeyObject } from 'node:crypto';
import { signManifest } from '../identity';
import { signPackageDigest } from '../protocol';
import type { PackageHost } from './notices';
import { refused } from './errors';
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
  /** The file URLs last signed, for the same reason. */
  private lastFileUrls = { key: '', urls: [] as string[] };
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
    const url = this.sign(firmware, expires);
    this.lastUrl = { key, url };
    return url;
  }

  /** One URL per file of a hosted multi-file firmware, `<firmware URL path>/<file index>`. */
  signedFileUrls(firmware: Firmware, now: number): string[] {
    const expires = this.expiresAt(now);
    const key = `${firmware.id}:${expires}`;
    if (this.lastFileUrls.key !== key)
      this.lastFileUrls = { key, urls: (firmware.files ?? []).map((_, file) => this.sign(firmware, expires, file)) };
    return this.lastFileUrls.urls;
  }

  private sign(firmware: Firmware, expires: number, file?: number): string {
    const p = { fleet: this.settings.fleetId, firmware: firmware.id, expires, file };
    const base = this.settings.publicUrl.replace(/\/+$/, '');
    const path = `${base}/${FIRMWARE_ROUTE}/${encodeURIComponent(p.fleet)}/${p.firmware}${file === undefined ? '' : `/${file}`}`;
    return `${path}?e=${expires}&s=${urlSignature(this.settings.secret, p)}`;
  }

  readBlock(firmware: Firmware, offset: number, size: number): Promise<Buffer> {
    if (firmware.files)
      throw refused(`firmware ${firmware.id} is a list of files, which download over MQTT cannot carry`);
    return this.files.readBlock(firmware.sha256, offset, size);
  }

  manifest(firmware: Firmware, now: number): Record<string, string> | undefined {
    const key = this.settings.signingKey;
    if (!key || !firmware.sha256 || firmware.files) return undefined;
    const expires = this.expiresAt(now);
    const cacheKey = `${firmware.id}:${firmware.sequence}:${expires}`;
    if (this.lastManifest.key !== cacheKey) {
      const { productKey, module, version, size, sha256, sequence } = firmware;
      this.lastManifest = {
        key: cacheKey,
        tags: signManifest(key, { productKey, module, version, size, sha256, sequence, expires }),
      };
    }
    return this.lastManifest.tags;
  }

  signature(firmware: Firmware): string | undefined {
    const key = this.settings.signingKey;
    // A list's sha256 digests the list, not bytes a device holds: there is nothing to sign for it.
    if (!key || !firmware.sha256 || firmware.files) return undefined;
    let sig = this.signatures.get(firmware.sha256);
    if (!sig) this.signatures.set(firmware.sha256, (sig = signPackageDigest(key, firmware.sha256)));
    return sig;
  }
}
