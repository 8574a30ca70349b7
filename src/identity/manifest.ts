/**
 * The signed release manifest (docs/release-manifest.md): eight lines that bind a package to its
 * product, module, version, size, SHA-256, release sequence and expiry, signed with the fleet's
 * Ed25519 key and carried base64 in a notice's `extData`. Devices that do not know it ignore
 * extData; devices that do refuse unsigned, tampered, mismatched, expired and older releases.
 */
import { KeyObject, sign, verify } from 'node:crypto';
import { FirmwareDescriptor, PackageDigest, ProtocolError } from '../protocol';

export interface ReleaseManifest {
  productKey: string;
  /** `default` for the whole firmware. */
  module: string;
  version: string;
  /** Bytes of the package. */
  size: number;
  /** 64 lowercase hex characters. */
  sha256: string;
  /** The fleet's release sequence for this product and module: from 1, only grows. */
  sequence: number;
  /** Unix time in seconds; the manifest is valid up to and including this second. */
  expires: number;
}

/** The two `extData` tags of a signed notice. */
export const MANIFEST_KEYS = Object.freeze({ manifest: 'otaManifest', signature: 'otaManifestSig' } as const);

export const MANIFEST_HEADER = 'ota-release-manifest/1';

type NumberKey = 'size' | 'sequence' | 'expires';

/** Lines 2 to 8, in their order. */
const FIELDS: readonly (keyof ReleaseManifest)[] = [
  'productKey',
  'module',
  'version',
  'size',
  'sha256',
  'sequence',
  'expires',
];

const NUMBER_RULES: Record<NumberKey, { pattern: RegExp; expected: string }> = {
  size: { pattern: /^(0|[1-9][0-9]*)$/, expected: 'a decimal number of bytes without leading zeros' },
  sequence: { pattern: /^[1-9][0-9]*$/, expected: 'a decimal number from 1, without leading zeros' },
  expires: { pattern: /^(0|[1-9][0-9]*)$/, expected: 'decimal Unix seconds without leading zeros' },
};

// C0 and C1 control characters and DEL: a value is one line of printable text.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const SIGNATURE_BYTES = 64;

// ---- building ------------------------------------------------------------------------------------

function checkText(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new ProtocolError(field, 'a non-empty string', value);
  if (CONTROL.test(value) || !value.isWellFormed())
    throw new ProtocolError(field, 'text without control characters', value);
  return value;
}

function checkNumber(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ProtocolError(field, `an integer from ${min} to ${Number.MAX_SAFE_INTEGER}`, value);
  }
  return value;
}

/** Validates a manifest given by code; errors name the field (`manifest.sequence`). */
export function checkReleaseManifest(m: ReleaseManifest, field = 'manifest'): ReleaseManifest {
  const sha256 = m.sha256;
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
    throw new ProtocolError(`${field}.sha256`, 'the 64-character lowercase hex SHA-256 of the package', sha256);
  }
  return {
    productKey: checkText(`${field}.productKey`, m.productKey),
    module: checkText(`${field}.module`, m.module),
    version: checkText(`${field}.version`, m.version),
    size: checkNumber(`${field}.size`, m.size, 0),
    sha256,
    sequence: checkNumber(`${field}.sequence`, m.sequence, 1),
    expires: checkNumber(`${field}.expires`, m.expires, 0),
  };
}

/** The exact bytes that are signed: UTF-8, eight lines joined by LF, no trailing newline. */
export function canonicalManifest(m: ReleaseManifest): Buffer {
  const valid = checkReleaseManifest(m);
  const lines = [MANIFEST_HEADER, ...FIELDS.map((key) => `${key}=${valid[key]}`)];
  return Buffer.from(lines.join('\n'), 'utf8');
}

/** The two extData tags for a notice: the canonical bytes and their Ed25519 signature, base64. */
export function signManifest(privateKey: KeyObject, m: ReleaseManifest): Record<string, string> {
  const bytes = canonicalManifest(m);
  return {
    [MANIFEST_KEYS.manifest]: bytes.toString('base64'),
    [MANIFEST_KEYS.signature]: sign(null, bytes, privateKey).toString('base64'),
  };
}

// ---- parsing -------------------------------------------------------------------------------------

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads the canonical bytes strictly: the exact header, then each key once, in order, with a
 * value that follows its rule. Throws a ProtocolError naming the line and what it expects.
 */
export function parseManifest(bytes: Uint8Array, field: string = MANIFEST_KEYS.manifest): ReleaseManifest {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new ProtocolError(field, 'UTF-8 text', Buffer.from(bytes));
  }
  const lines = text.split('\n');
  if (lines.length !== FIELDS.length + 1) {
    throw new ProtocolError(
      `${field} (lines)`,
      `${FIELDS.length + 1} lines joined by LF, without a trailing newline`,
      lines.length,
    );
  }
  if (lines[0] !== MANIFEST_HEADER) throw new ProtocolError(`${field} line 1`, `"${MANIFEST_HEADER}"`, lines[0]);
  const values: Record<string, string | number> = {};
  FIELDS.forEach((key, i) => {
    const at = `${field} line ${i + 2}`;
    const line = lines[i + 1];
    if (!line.startsWith(`${key}=`)) throw new ProtocolError(at, `"${key}=" and ${expectedValue(key)}`, line);
    values[key] = readValue(at, key, line.slice(key.length + 1), line);
  });
  return values as unknown as ReleaseManifest;
}

function expectedValue(key: keyof ReleaseManifest): string {
  if (key === 'sha256') return '64 lowercase hex characters';
  if (key in NUMBER_RULES) return NUMBER_RULES[key as NumberKey].expected;
  return 'non-empty text without control characters';
}

function readValue(at: string, key: keyof ReleaseManifest, value: string, line: string): string | number {
  const expected = `"${key}=" and ${expectedValue(key)}`;
  if (key === 'sha256') {
    if (!SHA256_HEX.test(value)) throw new ProtocolError(at, expected, line);
    return value;
  }
  if (key in NUMBER_RULES) {
    const n = Number(value);
    if (!NUMBER_RULES[key as NumberKey].pattern.test(value) || !Number.isSafeInteger(n)) {
      throw new ProtocolError(at, `${expected}, at most ${Number.MAX_SAFE_INTEGER}`, line);
    }
    return n;
  }
  if (value.length === 0 || CONTROL.test(value)) throw new ProtocolError(at, expected, line);
  return value;
}

// ---- checking on a device ------------------------------------------------------------------------

/** Which check refused a manifest. */
export type ManifestCheckName = 'unsigned' | 'malformed' | 'signature' | 'notice' | 'package' | 'expired' | 'replay';

export type ManifestCheck =
  | { ok: true; manifest: ReleaseManifest }
  /** `manifest` is there when it was authentic (signed by the trusted key) but refused for what it says. */
  | { ok: false; check: ManifestCheckName; reason: string; manifest?: ReleaseManifest };

export interface ManifestCheckInput {
  /** The notice's extData. */
  extData: Readonly<Record<string, string>> | undefined;
  /** The fleet's Ed25519 public key, trusted by this device. */
  publicKey: KeyObject;
  /** The notice the package came with. */
  notice: FirmwareDescriptor;
  /** The product key of this device. */
  productKey: string;
  /** Size and digests of the downloaded package; its sha256 must have been computed. */
  digest: PackageDigest;
  /** The device's clock, in milliseconds. */
  now: number;
  /** The highest sequence installed on this device for the notice's module, if any. */
  installedSequence?: number;
}

/**
 * Device side: the notice must carry a manifest signed by the trusted key that announces this
 * notice's firmware for this product, matches the downloaded bytes, has not expired, and is not
 * older than what the device already installed. The same sequence again (a retry) passes.
 */
export function checkManifest(input: ManifestCheckInput): ManifestCheck {
  if (!SHA256_HEX.test(input.digest.sha256)) {
    throw new Error('checkManifest needs the SHA-256 of the downloaded package: compute it while the package is read');
  }
  const encoded = input.extData?.[MANIFEST_KEYS.manifest];
  const encodedSig = input.extData?.[MANIFEST_KEYS.signature];
  if (encoded === undefined) {
    return refuse(
      'unsigned',
      `unsigned release: the notice carries no release manifest (extData.${MANIFEST_KEYS.manifest}), and this device accepts only releases signed by its fleet`,
    );
  }
  if (encodedSig === undefined) {
    return refuse(
      'unsigned',
      `unsigned release: the notice carries a release manifest but no signature (extData.${MANIFEST_KEYS.signature})`,
    );
  }
  const bytes = strictBase64(encoded);
  if (!bytes)
    return refuse(
      'malformed',
      `malformed release manifest: extData.${MANIFEST_KEYS.manifest} must be standard base64 with padding`,
    );
  const signature = strictBase64(encodedSig);
  if (!signature || signature.length !== SIGNATURE_BYTES) {
    return refuse(
      'malformed',
      `malformed release manifest signature: extData.${MANIFEST_KEYS.signature} must be the base64 of a ${SIGNATURE_BYTES}-byte Ed25519 signature`,
    );
  }
  if (!verifySignature(bytes, signature, input.publicKey)) {
    return refuse(
      'signature',
      "release manifest signature does not verify with this device's trusted key: the manifest was tampered with or signed by another key",
    );
  }
  let manifest: ReleaseManifest;
  try {
    manifest = parseManifest(bytes);
  } catch (err) {
    return refuse('malformed', `malformed release manifest: ${(err as Error).message}`);
  }
  const refusal =
    noticeMismatch(manifest, input) ??
    packageMismatch(manifest, input.digest) ??
    expiry(manifest, input.now) ??
    replay(manifest, input.installedSequence);
  return refusal ? { ...refusal, manifest } : { ok: true, manifest };
}

function refuse(check: ManifestCheckName, reason: string): { ok: false; check: ManifestCheckName; reason: string } {
  return { ok: false, check, reason };
}

/** Base64 that re-encodes to exactly the text given, so one text has one meaning. */
function strictBase64(text: string): Buffer | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text))
    return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function verifySignature(bytes: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  try {
    return verify(null, bytes, publicKey, signature);
  } catch {
    return false;
  }
}

function noticeMismatch(m: ReleaseManifest, input: ManifestCheckInput) {
  const fw = input.notice;
  const pairs: [string, string | number, string | number, string][] = [
    ['productKey', m.productKey, input.productKey, "this device's"],
    ['module', m.module, fw.module, "the notice's"],
    ['version', m.version, fw.version, "the notice's"],
    ['size', m.size, fw.size, "the notice's"],
  ];
  for (const [key, inManifest, actual, whose] of pairs) {
    if (inManifest !== actual) {
      return refuse(
        'notice',
        `release manifest does not match the notice: its ${key} is ${show(inManifest)}, ${whose} is ${show(actual)}`,
      );
    }
  }
  return undefined;
}

function packageMismatch(m: ReleaseManifest, digest: PackageDigest) {
  if (m.size !== digest.size) {
    return refuse(
      'package',
      `release manifest does not match the downloaded package: its size is ${m.size} bytes, the package has ${digest.size}`,
    );
  }
  if (m.sha256 !== digest.sha256) {
    return refuse(
      'package',
      `release manifest does not match the downloaded package: its sha256 is ${m.sha256}, the package's is ${digest.sha256}`,
    );
  }
  return undefined;
}

function expiry(m: ReleaseManifest, now: number) {
  if (m.expires * 1000 >= now) return undefined;
  return refuse(
    'expired',
    `expired release manifest: it was valid until ${isoSeconds(m.expires * 1000)} (expires=${m.expires}) and this device's clock says ${isoSeconds(now)}; ask the platform for a fresh notice, or set the device's clock`,
  );
}

function replay(m: ReleaseManifest, installed: number | undefined) {
  if (installed === undefined || m.sequence >= installed) return undefined;
  return refuse(
    'replay',
    `a downgrade replay: the release manifest has sequence ${m.sequence}, lower than ${installed}, the highest this device installed for module "${m.module}"`,
  );
}

function show(value: string | number): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function isoSeconds(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---- what a device remembers ---------------------------------------------------------------------

/** The key of a device's module in an installed-sequence record: `<productKey>/<deviceName>/<module>`. */
export function installedSequenceKey(productKey: string, deviceName: string, module: string): string {
  return `${productKey}/${deviceName}/${module}`;
}

/**
 * The record after installing `sequence` under `key`: the highest sequence stays, so installing
 * an older one again (which checkManifest refuses anyway) can never lower it. Returns a new object.
 */
export function nextInstalledSequences(
  installed: Readonly<Record<string, number>> | undefined,
  key: string,
  sequence: number,
): Record<string, number> {
  const record = { ...(installed ?? {}) };
  record[key] = Math.max(record[key] ?? 0, sequence);
  return record;
}
