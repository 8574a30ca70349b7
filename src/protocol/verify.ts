/** Device role: does a downloaded package, or each file of a multi-file notice, match the notice that announced it? */
import { PackageDigest } from './digest';
import { FirmwareDescriptor, SignMethod } from './notice';

export type PackageCheck = { ok: true } | { ok: false; reason: string };

/**
 * Why a device that requires signed releases refuses a notice of several files: the platform signs
 * release manifests for single packages only, so such a notice never carries one.
 */
export const UNSIGNED_FILES_REASON =
  'unsigned release: the notice lists several files, and release manifests sign single packages only; this device accepts only releases signed by its fleet';

function digestBy(method: SignMethod, digest: PackageDigest): string {
  return method === 'Md5' ? digest.md5 : digest.sha256;
}

export function checkPackage(digest: PackageDigest, firmware: FirmwareDescriptor): PackageCheck {
  if (firmware.files) {
    return { ok: false, reason: 'the notice lists several files; check each file against its fileSign' };
  }
  if (digest.size !== firmware.size) {
    return {
      ok: false,
      reason: `size mismatch: the package has ${digest.size} bytes, the notice says ${firmware.size}`,
    };
  }
  const actual = digestBy(firmware.signMethod, digest);
  if (actual !== firmware.sign) {
    return {
      ok: false,
      reason: `${firmware.signMethod} mismatch: the package digest is ${actual}, the notice says ${firmware.sign}`,
    };
  }
  return { ok: true };
}

/**
 * A notice with `files`: every listed file was downloaded, with its `fileSize` and its `fileSign`
 * by the notice's signMethod, and nothing else came. The first difference, in the notice's order
 * and then the unlisted files, is the reason; it names the file.
 */
export function checkFiles(digests: ReadonlyMap<string, PackageDigest>, firmware: FirmwareDescriptor): PackageCheck {
  if (!firmware.files) {
    return { ok: false, reason: 'the notice announces one package, not a list of files; check it against its sign' };
  }
  for (const file of firmware.files) {
    const digest = digests.get(file.fileName);
    if (!digest)
      return { ok: false, reason: `missing file "${file.fileName}": the notice lists it, but it was not downloaded` };
    if (digest.size !== file.fileSize) {
      return {
        ok: false,
        reason: `size mismatch in file "${file.fileName}": it has ${digest.size} bytes, the notice says ${file.fileSize}`,
      };
    }
    const actual = digestBy(firmware.signMethod, digest);
    if (actual !== file.fileSign) {
      return {
        ok: false,
        reason: `${firmware.signMethod} mismatch in file "${file.fileName}": its digest is ${actual}, the notice says ${file.fileSign}`,
      };
    }
  }
  const listed = new Set(firmware.files.map((f) => f.fileName));
  const extra = [...digests.keys()].find((name) => !listed.has(name));
  if (extra !== undefined) return { ok: false, reason: `unexpected file "${extra}": the notice does not list it` };
  return { ok: true };
}
