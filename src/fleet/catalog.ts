/** The firmware catalog: records of packages, hosted here or at an external URL. */
import { FirmwareDescriptor, ProtocolError } from '../protocol';
import { FleetCore } from './core';
import { conflict } from './errors';
import type { Firmware, FirmwareFile, Verification } from './types';

export type NewFirmware = Omit<Firmware, 'id' | 'streamId' | 'createdAt' | 'verification' | 'sequence'> & {
  verification?: Verification;
};

/** Adds a firmware record; the same version with the same bytes returns the existing record. */
export function addFirmware(core: FleetCore, input: NewFirmware): Firmware {
  return core.run((work) => {
    const existing = core.store.firmwareByVersion(input.productKey, input.module, input.version);
    if (existing) {
      const sameBytes = samePackage(input, existing);
      if (sameBytes && input.hosted === existing.hosted && locationOf(input) === locationOf(existing)) return existing;
      if (sameBytes && !input.hosted && !existing.hosted && input.url) {
        // The same external package at a new address (a CDN's freshly signed URL): the newest wins.
        core.store.setFirmwareUrl(existing.id, input.url);
        core.forgetFirmware(existing.id);
        return core.firmwareOf(existing.id);
      }
      throw conflict(
        `version ${input.version} of ${input.productKey}/${input.module} already exists (firmware ${existing.id}) with ` +
          `${sameBytes ? 'another location' : 'different bytes'}; give the new package a new version, or delete the old firmware first`,
      );
    }
    const firmware: Firmware = {
      ...input,
      id: core.newId(6),
      streamId: core.store.nextStreamId(),
      verification: input.verification ?? (core.settings.requireVerification ? 'unverified' : 'not-required'),
      sequence: core.store.nextReleaseSequence(input.productKey, input.module),
      createdAt: core.clock.now(),
    };
    for (const key of Object.keys(firmware) as (keyof Firmware)[])
      if (firmware[key] === undefined) delete firmware[key];
    core.store.insertFirmware(firmware);
    work.firmware.push(firmware);
    return firmware;
  });
}

/**
 * Whether two records announce the same bytes. A list of files is compared file by file (name,
 * size, digest, in order): external lists know no package digest at all, so two of them would
 * otherwise look alike, and a list never equals a single package.
 */
export function samePackage(
  a: Pick<Firmware, 'md5' | 'sha256' | 'files'>,
  b: Pick<Firmware, 'md5' | 'sha256' | 'files'>,
): boolean {
  if (a.files || b.files) return a.files !== undefined && b.files !== undefined && sameFileList(a.files, b.files);
  return a.sha256 && b.sha256 ? a.sha256 === b.sha256 : a.md5 === b.md5;
}

function sameFileList(a: FirmwareFile[], b: FirmwareFile[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((file, i) => {
    const other = b[i];
    const bothKnow = file.sha256 !== undefined && other.sha256 !== undefined;
    return (
      file.fileName === other.fileName &&
      file.fileSize === other.fileSize &&
      file.fileSign === other.fileSign &&
      (!bothKnow || file.sha256 === other.sha256)
    );
  });
}

/** Where a record's bytes are downloaded from: its URL, or the URLs of its files. */
function locationOf(firmware: Pick<Firmware, 'url' | 'files'>): string {
  return [firmware.url ?? '', ...(firmware.files ?? []).map((f) => f.fileUrl ?? '')].join('\n');
}

/** A firmware record for an external package, from a notice descriptor (direct pushes). */
export function firmwareFromDescriptor(
  core: FleetCore,
  productKey: string,
  descriptor: FirmwareDescriptor,
  field = 'msg.payload',
): Firmware {
  if (descriptor.isDiff && !descriptor.srcVersion) {
    // Without it the package would be sent to devices at any version, which it cannot patch.
    throw new ProtocolError(
      `${field}.srcVersion`,
      'the version the differential package (isDiff) applies to',
      undefined,
    );
  }
  if (descriptor.streamId !== undefined) {
    throw new ProtocolError(
      'msg.payload.dProtocol',
      'absent with a fleet: download over MQTT is a batch setting (strategy.downloadProtocol "mqtt") for firmware the fleet hosts',
      'mqtt',
    );
  }
  const md5 = descriptor.md5 ?? (descriptor.signMethod === 'Md5' ? descriptor.sign : '');
  const sha256 = descriptor.signMethod === 'SHA256' ? descriptor.sign : '';
  // Verification belongs to the bytes: a package verified under another record stays verified.
  const verified = core.settings.requireVerification
    ? core.store.verifiedFirmwareByDigest(productKey, { sha256, md5 })
    : undefined;
  return addFirmware(core, {
    productKey,
    module: descriptor.module,
    version: descriptor.version,
    size: descriptor.size,
    md5,
    sha256,
    signMethod: descriptor.signMethod,
    url: descriptor.url,
    files: descriptor.files,
    hosted: false,
    isDiff: descriptor.isDiff === true,
    srcVersion: descriptor.srcVersion,
    extData: descriptor.extData,
    digestsign: descriptor.digestsign,
    ...(verified ? { verification: 'verified' as const } : {}),
  });
}

/** Deletes a firmware no batch uses; returns the record (its file may then be removed). */
export function deleteFirmware(core: FleetCore, id: string): Firmware {
  return core.run((work) => {
    const firmware = core.firmwareOf(id);
    const open = core.store.batchesUsingFirmware(id, true);
    if (open > 0) throw conflict(`firmware ${id} is used by ${open} running batch(es); cancel them first`);
    if (core.store.batchesUsingFirmware(id, false) > 0) {
      throw conflict(`firmware ${id} is referenced by finished batches, whose history needs it`);
    }
    core.store.deleteFirmware(id);
    core.forgetFirmware(id);
    // Listeners (the console, Home Assistant's latest version) learn of the removal as of any change.
    work.firmware.push(firmware);
    return firmware;
  });
}
