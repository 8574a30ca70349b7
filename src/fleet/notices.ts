/** The firmware descriptor a task's notice carries: digests, URL (signed) or stream, tags. */
import { FirmwareDescriptor, PackageFile } from '../protocol';
import { refused } from './errors';
import type { Strategy } from './settings';
import type { Firmware } from './types';

/** What the fleet needs from firmware hosting (firmware-host.ts). */
export interface PackageHost {
  /** A download URL for a hosted package, freshly signed at `now`. */
  signedUrl(firmware: Firmware, now: number): string;
  /** The download URLs of a hosted multi-file firmware's files, in order, freshly signed at `now`. */
  signedFileUrls?(firmware: Firmware, now: number): string[];
  /** Reads `size` bytes at `offset` of a hosted package (download over MQTT). */
  readBlock(firmware: Firmware, offset: number, size: number): Promise<Buffer>;
  /** The package signature (`digestsign`) when the fleet holds a signing key. */
  signature(firmware: Firmware): string | undefined;
  /**
   * The signed release manifest's `extData` tags when the fleet holds a signing key and knows the
   * package's SHA-256; it expires with the URLs signed at `now`.
   */
  manifest?(firmware: Firmware, now: number): Record<string, string> | undefined;
}

export function descriptorFor(
  firmware: Firmware,
  strategy: Strategy | undefined,
  host: PackageHost | undefined,
  now: number,
): FirmwareDescriptor {
  const d: FirmwareDescriptor = {
    version: firmware.version,
    size: firmware.size,
    signMethod: firmware.signMethod,
    sign: firmware.signMethod === 'Md5' ? firmware.md5 : firmware.sha256,
    module: firmware.module,
  };
  if (firmware.md5) d.md5 = firmware.md5;
  if (firmware.files) {
    if (strategy?.downloadProtocol === 'mqtt') {
      throw refused(
        `download over MQTT carries one package, and firmware ${firmware.id} has ${firmware.files.length} files: use downloadProtocol "https"`,
      );
    }
    d.files = filesOf(firmware, host, now);
  } else if (strategy?.downloadProtocol === 'mqtt' && firmware.hosted) {
    d.streamId = firmware.streamId;
    d.streamFileId = 1;
  } else if (firmware.hosted) {
    if (!host) throw new Error('a hosted firmware needs the fleet to host packages');
    d.url = host.signedUrl(firmware, now);
  } else {
    d.url = firmware.url;
  }
  // The manifest goes last, so no tag of the firmware or the batch can stand in for it.
  const extData = { ...firmware.extData, ...strategy?.extData, ...host?.manifest?.(firmware, now) };
  if (Object.keys(extData).length) d.extData = extData;
  if (firmware.isDiff) d.isDiff = true;
  const digestsign = firmware.digestsign ?? host?.signature(firmware);
  if (digestsign) d.digestsign = digestsign;
  return d;
}

/** The `files` of a notice: only the four fields Link SDK 4 reads, hosted files at fresh URLs. */
function filesOf(firmware: Firmware, host: PackageHost | undefined, now: number): PackageFile[] {
  if (firmware.hosted && !host?.signedFileUrls) throw new Error('a hosted firmware needs the fleet to host packages');
  const urls = firmware.hosted && host?.signedFileUrls ? host.signedFileUrls(firmware, now) : [];
  return (firmware.files ?? []).map((f, i) => ({
    fileName: f.fileName,
    fileSize: f.fileSize,
    fileUrl: firmware.hosted ? urls[i] : (f.fileUrl ?? ''),
    fileSign: f.fileSign,
  }));
}
