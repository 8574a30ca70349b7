/**
 * The signed release manifest: its canonical bytes, strict parser and signature, every device-side
 * refusal by its reason, properties over any manifest and any one-byte change, and the worked
 * example of docs/release-manifest.md checked value for value against the code.
 */
import { createPrivateKey, createPublicKey, KeyObject, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import should from 'should';
import {
  canonicalManifest,
  checkManifest,
  installedSequenceKey,
  ManifestCheckInput,
  MANIFEST_KEYS,
  nextInstalledSequences,
  parseManifest,
  ReleaseManifest,
  signManifest,
} from '../../src/identity';
import {
  digestBuffer,
  FirmwareDescriptor,
  generateSigningKeyPair,
  parseFirmwareDescriptor,
  readPrivateKey,
  readPublicKey,
} from '../../src/protocol';
import { printFigures } from '../helpers/fuzz-run';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 71;
const FLEET = generateSigningKeyPair();
const OTHER = generateSigningKeyPair();
const FLEET_PRIVATE = readPrivateKey('key', FLEET.privateKey);
const FLEET_PUBLIC = readPublicKey('key', FLEET.publicKey);

const PACKAGE = Buffer.from('hello world!');
const DIGEST = digestBuffer(PACKAGE);
/** 2030-01-01T00:00:00Z. */
const EXPIRES = 1_893_456_000;
const NOW = (EXPIRES - 3600) * 1000;

const MANIFEST: ReleaseManifest = {
  productKey: 'pk1',
  module: 'default',
  version: '2.0.1',
  size: 12,
  sha256: DIGEST.sha256,
  sequence: 7,
  expires: EXPIRES,
};
const NOTICE: FirmwareDescriptor = parseFirmwareDescriptor({
  version: '2.0.1',
  size: 12,
  url: 'https://ota.example.com/fw.bin',
  md5: DIGEST.md5,
});

/** What a device with the fleet's key checks, for the manifest `m` (signed by `key`) and a notice of `notice`. */
function input(
  overrides: Partial<ManifestCheckInput> = {},
  m: ReleaseManifest = MANIFEST,
  key: KeyObject = FLEET_PRIVATE,
): ManifestCheckInput {
  return {
    extData: signManifest(key, m),
    publicKey: FLEET_PUBLIC,
    notice: NOTICE,
    productKey: 'pk1',
    digest: DIGEST,
    now: NOW,
    ...overrides,
  };
}

/** extData carrying `bytes` (and `signature`, by default the fleet's signature of those bytes). */
function extDataOf(bytes: Buffer, signature: Buffer = sign(null, bytes, FLEET_PRIVATE)): Record<string, string> {
  return {
    [MANIFEST_KEYS.manifest]: bytes.toString('base64'),
    [MANIFEST_KEYS.signature]: signature.toString('base64'),
  };
}

const CANONICAL = [
  'ota-release-manifest/1',
  'productKey=pk1',
  'module=default',
  'version=2.0.1',
  'size=12',
  `sha256=${DIGEST.sha256}`,
  'sequence=7',
  `expires=${EXPIRES}`,
];

describe('release manifest', function () {
  describe('canonical bytes', function () {
    it('are the eight lines in order, joined by LF, without a trailing newline', function () {
      should(canonicalManifest(MANIFEST).toString('utf8')).equal(CANONICAL.join('\n'));
    });

    it('parse back into the same manifest', function () {
      should(parseManifest(canonicalManifest(MANIFEST))).eql(MANIFEST);
    });

    it('keep an "=" inside a value, which belongs to the value', function () {
      const m = { ...MANIFEST, version: 'v=2' };
      should(canonicalManifest(m).toString()).containEql('\nversion=v=2\n');
      should(parseManifest(canonicalManifest(m))).eql(m);
    });

    const refusals: [string, Partial<ReleaseManifest>, string][] = [
      [
        'a version with a newline',
        { version: '2.0\n1' },
        'manifest.version must be text without control characters, got "2.0\\n1"',
      ],
      ['an empty module', { module: '' }, 'manifest.module must be a non-empty string, got an empty string'],
      [
        'a product key with a C1 control character',
        { productKey: 'pk\u0085' },
        'manifest.productKey must be text without control characters, got "pk\u0085"',
      ],
      ['sequence 0', { sequence: 0 }, 'manifest.sequence must be an integer from 1 to 9007199254740991, got 0'],
      [
        'a size that is not an integer',
        { size: 1.5 },
        'manifest.size must be an integer from 0 to 9007199254740991, got 1.5',
      ],
      ['a negative expiry', { expires: -1 }, 'manifest.expires must be an integer from 0 to 9007199254740991, got -1'],
      [
        'an uppercase sha256',
        { sha256: DIGEST.sha256.toUpperCase() },
        `manifest.sha256 must be the 64-character lowercase hex SHA-256 of the package, got "${DIGEST.sha256.toUpperCase().slice(0, 40)}… (64 chars)"`,
      ],
    ];
    for (const [what, change, message] of refusals) {
      it(`are refused for ${what}`, function () {
        should(() => canonicalManifest({ ...MANIFEST, ...change })).throw(message);
        should(() => signManifest(FLEET_PRIVATE, { ...MANIFEST, ...change })).throw(message);
      });
    }
  });

  describe('parseManifest refuses', function () {
    const lines = (change: (l: string[]) => string[]) => Buffer.from(change([...CANONICAL]).join('\n'));
    const cases: [string, Buffer, string][] = [
      [
        'a trailing newline',
        Buffer.from(`${CANONICAL.join('\n')}\n`),
        'otaManifest (lines) must be 8 lines joined by LF, without a trailing newline, got 9',
      ],
      [
        'CRLF line ends',
        Buffer.from(CANONICAL.join('\r\n')),
        'otaManifest line 1 must be "ota-release-manifest/1", got "ota-release-manifest/1\\r"',
      ],
      [
        'another header',
        lines((l) => ['ota-release-manifest/2', ...l.slice(1)]),
        'otaManifest line 1 must be "ota-release-manifest/1", got "ota-release-manifest/2"',
      ],
      [
        'a byte-order mark',
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), lines((l) => l)]),
        'otaManifest line 1 must be "ota-release-manifest/1", got "\ufeffota-release-manifest/1"',
      ],
      [
        'keys out of order',
        lines((l) => [l[0], l[2], l[1], ...l.slice(3)]),
        'otaManifest line 2 must be "productKey=" and non-empty text without control characters, got "module=default"',
      ],
      [
        'a key twice',
        lines((l) => [...l.slice(0, 4), 'version=2.0.2', ...l.slice(5)]),
        'otaManifest line 5 must be "size=" and a decimal number of bytes without leading zeros, got "version=2.0.2"',
      ],
      [
        'a space before "="',
        lines((l) => [l[0], 'productKey =pk1', ...l.slice(2)]),
        'otaManifest line 2 must be "productKey=" and non-empty text without control characters, got "productKey =pk1"',
      ],
      [
        'an empty value',
        lines((l) => [l[0], l[1], 'module=', ...l.slice(3)]),
        'otaManifest line 3 must be "module=" and non-empty text without control characters, got "module="',
      ],
      [
        'a tab in a value',
        lines((l) => [...l.slice(0, 3), 'version=2.0\t1', ...l.slice(4)]),
        'otaManifest line 4 must be "version=" and non-empty text without control characters, got "version=2.0\\t1"',
      ],
      [
        'a size with a leading zero',
        lines((l) => [...l.slice(0, 4), 'size=012', ...l.slice(5)]),
        'otaManifest line 5 must be "size=" and a decimal number of bytes without leading zeros, at most 9007199254740991, got "size=012"',
      ],
      [
        'an uppercase sha256',
        lines((l) => [...l.slice(0, 5), l[5].toUpperCase().replace('SHA256', 'sha256'), ...l.slice(6)]),
        `otaManifest line 6 must be "sha256=" and 64 lowercase hex characters, got "sha256=${DIGEST.sha256.toUpperCase().slice(0, 33)}… (71 chars)"`,
      ],
      [
        'sequence 0',
        lines((l) => [...l.slice(0, 6), 'sequence=0', l[7]]),
        'otaManifest line 7 must be "sequence=" and a decimal number from 1, without leading zeros, at most 9007199254740991, got "sequence=0"',
      ],
      [
        'a signed number',
        lines((l) => [...l.slice(0, 6), 'sequence=+7', l[7]]),
        'otaManifest line 7 must be "sequence=" and a decimal number from 1, without leading zeros, at most 9007199254740991, got "sequence=+7"',
      ],
      [
        'a number above 2^53 - 1',
        lines((l) => [...l.slice(0, 7), 'expires=9007199254740992']),
        'otaManifest line 8 must be "expires=" and decimal Unix seconds without leading zeros, at most 9007199254740991, got "expires=9007199254740992"',
      ],
      [
        'a missing line',
        lines((l) => l.slice(0, 7)),
        'otaManifest (lines) must be 8 lines joined by LF, without a trailing newline, got 7',
      ],
      [
        'bytes that are not UTF-8',
        Buffer.from([0xff, 0xfe, 0x0a]),
        'otaManifest must be UTF-8 text, got a Buffer of 3 bytes',
      ],
    ];
    for (const [what, bytes, message] of cases) {
      it(what, function () {
        should(() => parseManifest(bytes)).throw(message);
      });
    }
  });

  describe('signManifest', function () {
    it('returns the two extData tags: the canonical bytes and their Ed25519 signature, base64', function () {
      const bytes = canonicalManifest(MANIFEST);
      should(signManifest(FLEET_PRIVATE, MANIFEST)).eql({
        otaManifest: bytes.toString('base64'),
        otaManifestSig: sign(null, bytes, FLEET_PRIVATE).toString('base64'),
      });
    });
  });

  describe('checkManifest on a device', function () {
    it('passes a manifest signed by the trusted key that matches the notice and the package, and returns it', function () {
      should(checkManifest(input())).eql({ ok: true, manifest: MANIFEST });
    });

    it('passes the same sequence again (a retry) and a higher one', function () {
      should(checkManifest(input({ installedSequence: 7 }))).eql({ ok: true, manifest: MANIFEST });
      should(checkManifest(input({ installedSequence: 6 }))).eql({ ok: true, manifest: MANIFEST });
    });

    it('passes up to and including the second it expires', function () {
      should(checkManifest(input({ now: EXPIRES * 1000 })).ok).be.true();
      should(checkManifest(input({ now: EXPIRES * 1000 + 1 })).ok).be.false();
    });

    it('passes a module manifest against a notice of that module', function () {
      const m = { ...MANIFEST, module: 'MCU' };
      const notice = { ...NOTICE, module: 'MCU' };
      should(checkManifest(input({ notice }, m))).eql({ ok: true, manifest: m });
    });

    /** The refusal for `given`, without the manifest it may carry. */
    function refusal(given: ManifestCheckInput) {
      const result = checkManifest(given);
      if (result.ok) throw new Error('expected a refusal');
      return { check: result.check, reason: result.reason };
    }

    it('refuses a notice without a manifest as unsigned', function () {
      should(refusal(input({ extData: undefined }))).eql({
        check: 'unsigned',
        reason:
          'unsigned release: the notice carries no release manifest (extData.otaManifest), and this device accepts only releases signed by its fleet',
      });
      should(refusal(input({ extData: { info: 'night build' } })).check).equal('unsigned');
    });

    it('refuses a manifest without its signature as unsigned', function () {
      const { otaManifest } = signManifest(FLEET_PRIVATE, MANIFEST);
      should(refusal(input({ extData: { otaManifest } }))).eql({
        check: 'unsigned',
        reason: 'unsigned release: the notice carries a release manifest but no signature (extData.otaManifestSig)',
      });
    });

    it('refuses a manifest that is not canonical base64 as malformed', function () {
      const extData = signManifest(FLEET_PRIVATE, MANIFEST);
      const expected = {
        check: 'malformed',
        reason: 'malformed release manifest: extData.otaManifest must be standard base64 with padding',
      };
      should(refusal(input({ extData: { ...extData, otaManifest: extData.otaManifest.replace(/=+$/, '') } }))).eql(
        expected,
      );
      should(
        refusal(
          input({
            extData: { ...extData, otaManifest: Buffer.from(canonicalManifest(MANIFEST)).toString('base64url') },
          }),
        ),
      ).eql(expected);
      should(refusal(input({ extData: { ...extData, otaManifest: ` ${extData.otaManifest}` } }))).eql(expected);
    });

    it('refuses a signature that is not 64 bytes as malformed', function () {
      const extData = signManifest(FLEET_PRIVATE, MANIFEST);
      should(refusal(input({ extData: { ...extData, otaManifestSig: Buffer.alloc(63).toString('base64') } }))).eql({
        check: 'malformed',
        reason:
          'malformed release manifest signature: extData.otaManifestSig must be the base64 of a 64-byte Ed25519 signature',
      });
    });

    const SIGNATURE_REASON =
      "release manifest signature does not verify with this device's trusted key: the manifest was tampered with or signed by another key";

    it('refuses a manifest signed by another key', function () {
      should(refusal(input({}, MANIFEST, readPrivateKey('key', OTHER.privateKey)))).eql({
        check: 'signature',
        reason: SIGNATURE_REASON,
      });
    });

    it('refuses a manifest whose bytes were changed after signing (a higher sequence written in)', function () {
      const genuine = signManifest(FLEET_PRIVATE, MANIFEST);
      const forged = canonicalManifest({ ...MANIFEST, sequence: 70 }).toString('base64');
      should(refusal(input({ extData: { ...genuine, otaManifest: forged } }))).eql({
        check: 'signature',
        reason: SIGNATURE_REASON,
      });
    });

    it("refuses signed bytes that are not a manifest as malformed, with the parser's reason", function () {
      const bytes = Buffer.from(CANONICAL.join('\n').replace('size=12', 'size=012'));
      should(refusal(input({ extData: extDataOf(bytes) }))).eql({
        check: 'malformed',
        reason:
          'malformed release manifest: otaManifest line 5 must be "size=" and a decimal number of bytes without leading zeros, at most 9007199254740991, got "size=012"',
      });
    });

    const noticeCases: [string, Partial<ManifestCheckInput>, ReleaseManifest, string][] = [
      [
        'another product',
        { productKey: 'pk2' },
        MANIFEST,
        'release manifest does not match the notice: its productKey is "pk1", this device\'s is "pk2"',
      ],
      [
        'another module',
        {},
        { ...MANIFEST, module: 'MCU' },
        'release manifest does not match the notice: its module is "MCU", the notice\'s is "default"',
      ],
      [
        'another version',
        {},
        { ...MANIFEST, version: '1.0.0' },
        'release manifest does not match the notice: its version is "1.0.0", the notice\'s is "2.0.1"',
      ],
      [
        'another size',
        { notice: { ...NOTICE, size: 13 }, digest: digestBuffer(Buffer.from('hello world!!')) },
        MANIFEST,
        "release manifest does not match the notice: its size is 12, the notice's is 13",
      ],
    ];
    for (const [what, overrides, m, reason] of noticeCases) {
      it(`refuses a manifest for ${what} than the notice, naming the field`, function () {
        should(refusal(input(overrides, m))).eql({ check: 'notice', reason });
      });
    }

    it('refuses a manifest of another size than the downloaded package', function () {
      const digest = digestBuffer(Buffer.from('hello world!!'));
      should(refusal(input({ digest }))).eql({
        check: 'package',
        reason: 'release manifest does not match the downloaded package: its size is 12 bytes, the package has 13',
      });
    });

    it('refuses a manifest of another sha256 than the downloaded package', function () {
      const digest = digestBuffer(Buffer.from('HELLO WORLD!'));
      should(refusal(input({ digest }))).eql({
        check: 'package',
        reason: `release manifest does not match the downloaded package: its sha256 is ${DIGEST.sha256}, the package's is ${digest.sha256}`,
      });
    });

    it('refuses an expired manifest, saying when it expired and what the device clock says', function () {
      should(refusal(input({ now: (EXPIRES + 90) * 1000 }))).eql({
        check: 'expired',
        reason:
          "expired release manifest: it was valid until 2030-01-01T00:00:00Z (expires=1893456000) and this device's clock says 2030-01-01T00:01:30Z; ask the platform for a fresh notice, or set the device's clock",
      });
    });

    it('refuses a lower sequence than the highest installed as a downgrade replay, with both numbers', function () {
      should(refusal(input({ installedSequence: 8 }))).eql({
        check: 'replay',
        reason:
          'a downgrade replay: the release manifest has sequence 7, lower than 8, the highest this device installed for module "default"',
      });
    });

    it('returns the authentic manifest with a refusal for what it says', function () {
      should(checkManifest(input({ installedSequence: 8 }))).containEql({ manifest: MANIFEST });
      should(checkManifest(input({}, MANIFEST, readPrivateKey('key', OTHER.privateKey)))).not.have.property('manifest');
    });

    it('needs the SHA-256 of the package to have been computed', function () {
      should(() => checkManifest(input({ digest: { ...DIGEST, sha256: '' } }))).throw(
        /needs the SHA-256 of the downloaded package/,
      );
    });
  });

  describe('installed sequences', function () {
    it('are keyed by product, device and module', function () {
      should(installedSequenceKey('pk1', 'dev-1', 'MCU')).equal('pk1/dev-1/MCU');
    });

    it('keep the highest sequence per key and leave the record given untouched', function () {
      const before = { 'pk1/dev-1/default': 5 };
      should(nextInstalledSequences(before, 'pk1/dev-1/default', 7)).eql({ 'pk1/dev-1/default': 7 });
      should(nextInstalledSequences(before, 'pk1/dev-1/default', 3)).eql({ 'pk1/dev-1/default': 5 });
      should(nextInstalledSequences(before, 'pk1/dev-1/MCU', 1)).eql({ 'pk1/dev-1/default': 5, 'pk1/dev-1/MCU': 1 });
      should(nextInstalledSequences(undefined, 'k', 2)).eql({ k: 2 });
      should(before).eql({ 'pk1/dev-1/default': 5 });
    });
  });

  describe('properties', function () {
    const text = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
      // eslint-disable-next-line no-control-regex -- control characters are what a value may not hold
      .filter((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s));
    const manifest: fc.Arbitrary<ReleaseManifest> = fc
      .record({
        productKey: text,
        module: text,
        version: text,
        size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
        sequence: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        expires: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      })
      .map((m) => ({ ...m }));

    it('any valid manifest round-trips through its canonical bytes', function () {
      fc.assert(
        fc.property(manifest, (m) => {
          should(parseManifest(canonicalManifest(m))).eql(m);
        }),
        { numRuns: 1000, seed: SEED },
      );
    });

    /** A device whose notice and package are exactly what `m` says, at a time before it expires. */
    function deviceFor(m: ReleaseManifest, extData: Record<string, string>): ManifestCheckInput {
      const notice = { ...NOTICE, module: m.module, version: m.version, size: m.size };
      return {
        extData,
        publicKey: FLEET_PUBLIC,
        notice,
        productKey: m.productKey,
        digest: { size: m.size, md5: '', sha256: m.sha256 },
        now: 0,
      };
    }

    it('any valid manifest signed by the trusted key passes on a device it describes', function () {
      fc.assert(
        fc.property(manifest, (m) => {
          should(checkManifest(deviceFor(m, signManifest(FLEET_PRIVATE, m)))).eql({ ok: true, manifest: m });
        }),
        { numRuns: 300, seed: SEED },
      );
    });

    it('any single-byte change of the canonical bytes or of the signature is refused', function () {
      const counts = { manifestBytes: 0, signatureBytes: 0, base64Characters: 0, passed: 0 };
      const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';
      fc.assert(
        fc.property(
          manifest,
          fc.constantFrom('manifestBytes', 'signatureBytes', 'base64Characters'),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          fc.boolean(),
          (m, what: keyof typeof counts, at, mask, inSignature) => {
            const bytes = canonicalManifest(m);
            const signature = sign(null, bytes, FLEET_PRIVATE);
            let extData: Record<string, string>;
            if (what === 'manifestBytes') {
              const changed = Buffer.from(bytes);
              changed[at % changed.length] ^= mask;
              extData = extDataOf(changed, signature);
            } else if (what === 'signatureBytes') {
              const changed = Buffer.from(signature);
              changed[at % changed.length] ^= mask;
              extData = extDataOf(bytes, changed);
            } else {
              extData = extDataOf(bytes, signature);
              const key = inSignature ? MANIFEST_KEYS.signature : MANIFEST_KEYS.manifest;
              const textOf = extData[key];
              const i = at % textOf.length;
              const replacement =
                BASE64[(BASE64.indexOf(textOf[i]) + (mask % (BASE64.length - 1)) + 1) % BASE64.length];
              extData[key] = textOf.slice(0, i) + replacement + textOf.slice(i + 1);
            }
            counts[what]++;
            const result = checkManifest(deviceFor(m, extData));
            if (result.ok) counts.passed++;
            should(result.ok).be.false();
            if (!result.ok) should(['signature', 'malformed']).containEql(result.check);
          },
        ),
        { numRuns: 3000, seed: SEED },
      );
      printFigures('tampered release manifests', { ...counts, seed: SEED });
      should(counts.passed).equal(0);
    });
  });

  describe('docs/release-manifest.md', function () {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'release-manifest.md'), 'utf8');

    /** The inline-code value of the list item that starts with `label`. */
    function item(label: string): string {
      const line = doc.split('\n').find((l) => l.startsWith(`- ${label}`));
      const value = line && /`([^`]+)`$/.exec(line)?.[1];
      if (!value) throw new Error(`docs/release-manifest.md has no "- ${label} … \`value\`" line`);
      return value;
    }

    it('shows a worked example that is exactly what the code produces', function () {
      const seed = item('Seed (32 bytes, hex)');
      const privateKey = createPrivateKey({
        key: Buffer.from(`302e020100300506032b657004220420${seed}`, 'hex'),
        format: 'der',
        type: 'pkcs8',
      });
      const publicKey = createPublicKey(privateKey);
      const spki = publicKey.export({ format: 'der', type: 'spki' });
      should(item('Private key (base64 PKCS#8 DER')).equal(
        privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      );
      should(item('Public key (base64 SPKI DER)')).equal(spki.toString('base64'));
      should(item('Public key (raw 32 bytes, hex)')).equal(spki.subarray(spki.length - 32).toString('hex'));

      const canonical = /```\n(ota-release-manifest\/1\nproductKey=[^<`][^`]*?)\n```/.exec(doc)?.[1];
      should(canonical).be.a.String();
      const manifest = parseManifest(Buffer.from(canonical as string));
      should(manifest.sha256).equal(digestBuffer(Buffer.from('hello world!')).sha256);
      should(manifest.size).equal(12);
      should(canonicalManifest(manifest).toString('utf8')).equal(canonical);

      const tags = signManifest(privateKey, manifest);
      should(item('`otaManifest`:')).equal(tags.otaManifest);
      should(item('`otaManifestSig`:')).equal(tags.otaManifestSig);
      const notice = { ...NOTICE, module: manifest.module, version: manifest.version, size: manifest.size };
      should(
        checkManifest({
          extData: tags,
          publicKey,
          notice,
          productKey: manifest.productKey,
          digest: digestBuffer(Buffer.from('hello world!')),
          now: Date.now(),
        }),
      ).eql({ ok: true, manifest });
    });

    it('runs its Python and C checks on the same values', function () {
      const python = /```python\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
      for (const value of [item('Public key (base64 SPKI DER)'), item('`otaManifest`:'), item('`otaManifestSig`:')])
        should(python).containEql(`"${value}"`);
      should(doc).match(/```c\n[\s\S]*crypto_sign_verify_detached\(sig, bytes, len, pk\)[\s\S]*```/);
    });

    it('shows the exact format the code writes', function () {
      const format = /```\n(ota-release-manifest\/1\nproductKey=<[^`]*?)\n```/.exec(doc)?.[1];
      should(format?.split('\n').map((line) => line.split('=')[0])).eql(
        canonicalManifest(MANIFEST)
          .toString()
          .split('\n')
          .map((line) => line.split('=')[0]),
      );
    });
  });
});
