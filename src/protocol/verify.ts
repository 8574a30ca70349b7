/** Device role: does a downloaded package match the notice that announced it? */
import { PackageDigest } from './digest';
import { FirmwareDescriptor } from './notice';

export type PackageCheck = { ok: true } | { ok: false; reason: string };

export function checkPackage(digest: PackageDigest, firmware: FirmwareDescriptor): PackageCheck {
  if (firmware.files) {
    return { ok: false, reason: 'the notice lists several files; check each file against its fileSign' };
  }
  if (digest.size !== firmware.size) {
    return { ok: false, reason: `size mismatch: the package has ${digest.size} bytes, the notice says ${firmware.size}` };
  }
  const actual = firmware.signMethod === 'Md5' ? digest.md5 : digest.sha256;
  if (actual !== firmware.sign) {
    return { ok: false, reason: `${firmware.signMethod} mismatch: the package digest is ${actual}, the notice says ${firmware.sign}` };
  }
  return { ok: true };
}
