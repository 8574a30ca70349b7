/**
 * Signed, expiring download URLs, like the cloud's pre-signed URLs: an HMAC-SHA256 over the fleet,
 * the firmware, the file of a multi-file firmware and the expiry, so a URL cannot be stretched in
 * time or replayed for another package or another file of the same one.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedPath {
  fleet: string;
  firmware: string;
  /** Expiry, seconds since the epoch. */
  expires: number;
  /** The index of a file in a multi-file firmware; absent for a single package. */
  file?: number;
}

export function urlSignature(secret: string, p: SignedPath): string {
  // A single package's text has no fourth line, so its URLs stay valid and never match a file's.
  const text = `${p.fleet}\n${p.firmware}\n${p.expires}${p.file === undefined ? '' : `\n${p.file}`}`;
  return createHmac('sha256', secret).update(text).digest('base64url');
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export function checkUrlSignature(secret: string, p: SignedPath, signature: unknown, nowMs: number): SignatureCheck {
  if (typeof signature !== 'string' || signature.length === 0) return { ok: false, reason: 'the URL is not signed' };
  if (!Number.isSafeInteger(p.expires)) return { ok: false, reason: 'the URL has no valid expiry' };
  const expected = Buffer.from(urlSignature(secret, p));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'the URL signature does not match' };
  if (p.expires * 1000 < nowMs)
    return { ok: false, reason: 'the URL has expired; the device can ask again (T4) for a fresh one' };
  return { ok: true };
}
