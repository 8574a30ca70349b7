/**
 * Security: with a public key configured, ota-verify (device role) refuses a tampered package —
 * a flipped byte, a truncated file, a release signed by another key, another package's genuine
 * signature, a corrupted signature, no release manifest — even when the attacker also rewrote
 * the notice's size and digests; and a genuine release that is expired, or older than one the
 * device already installed (a downgrade replay). Each refusal leaves on output 2 with the reason
 * and a ready T3 step -3 for `mqtt out`.
 */
import { KeyObject, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { signManifest } from '../../src/identity';
import { digestBuffer, generateSigningKeyPair, readPrivateKey, signPackageDigest } from '../../src/protocol';
import { catchAll, catchNodeModule } from '../helpers/core-nodes';
import { node, onTab, probe } from '../helpers/flow';
import { printFigures } from '../helpers/fuzz-run';
import { Inbox, inboxes, Msg } from '../helpers/red';

const verifyModule = require('../../../nodes/ota-verify.js');

helper.init(require.resolve('node-red'));

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 30;
const fleetKeys = generateSigningKeyPair();
const fleetKey = readPrivateKey('fleet key', fleetKeys.privateKey);
const attackerKey = readPrivateKey('attacker key', generateSigningKeyPair().privateKey);
const PACKAGE = randomBytes(100_000);
const IN_A_DAY = Math.floor(Date.now() / 1000) + 24 * 3600;

const SIGNATURE_REFUSED =
  "release manifest signature does not verify with this device's trusted key: the manifest was tampered with or signed by another key";

interface Release {
  /** Who signs the release manifest and the digestsign: the fleet by default. */
  key?: KeyObject;
  /** The package the signer vouched for; the notice itself announces the bytes given to noticeFor. */
  vouchedFor?: Buffer;
  /** false: the digestsign alone, as notices were before release manifests. */
  manifest?: boolean;
  version?: string;
  sequence?: number;
  /** Unix seconds. */
  expires?: number;
}

/** The T2 a platform with the fleet's signing key sends for `bytes` (or what an attacker makes of it). */
function noticeFor(bytes: Buffer, release: Release = {}) {
  const {
    key = fleetKey,
    vouchedFor = bytes,
    manifest = true,
    version = '2.0.0',
    sequence = 1,
    expires = IN_A_DAY,
  } = release;
  const digest = digestBuffer(bytes);
  const vouched = digestBuffer(vouchedFor);
  const data: Record<string, unknown> = {
    size: digest.size,
    version,
    url: 'https://cdn.example.com/fw.bin',
    signMethod: 'SHA256',
    sign: digest.sha256,
    md5: digest.md5,
  };
  data.digestsign = signPackageDigest(key, vouched.sha256);
  if (manifest)
    data.extData = signManifest(key, {
      productKey: 'pk1',
      module: 'default',
      version,
      size: vouched.size,
      sha256: vouched.sha256,
      sequence,
      expires,
    });
  return { code: '1000', data, id: 1, message: 'success' };
}

/** A notice whose extData tag `tag` was corrupted by flipping one bit of its decoded bytes (`at` < 0 counts from the end). */
function withFlippedTag(notice: ReturnType<typeof noticeFor>, tag: 'otaManifest' | 'otaManifestSig', at: number) {
  const extData = { ...(notice.data.extData as Record<string, string>) };
  const bytes = Buffer.from(extData[tag], 'base64');
  bytes[at < 0 ? bytes.length + at : at] ^= 0x01;
  extData[tag] = bytes.toString('base64');
  return { ...notice, data: { ...notice.data, extData } };
}

describe('security: tampered packages and ota-verify with a public key', function () {
  let passed: Inbox;
  let refused: Inbox;
  let caught: Inbox;
  let verifyId: string;

  beforeEach(async function () {
    const ok = probe();
    const bad = probe();
    const errors = probe();
    const verify = node(
      'ota-verify',
      { role: 'device', productKey: 'pk1', deviceName: 'dev-1', publicKey: fleetKeys.publicKey },
      [[ok.id], [bad.id]],
    );
    verifyId = verify.id;
    await helper.load([verifyModule, catchNodeModule], onTab(verify, catchAll(errors), ok, bad, errors));
    [passed, refused, caught] = inboxes(ok.id, bad.id, errors.id);
  });

  afterEach(function () {
    return helper.unload();
  });

  /** Output 2 with the reason (the whole text, or its pattern), and the message is the T3 -3 a device publishes. */
  async function assertRefused(payload: Buffer, notice: unknown, reason: string | RegExp): Promise<Msg> {
    const passes = passed.messages.length;
    helper.getNode(verifyId).receive({ payload, notice });
    const msg = await refused.next();
    if (typeof reason === 'string') should(msg.reason).equal(reason);
    else should(msg.reason).match(reason);
    should(msg.topic).equal('/ota/device/progress/pk1/dev-1');
    should(msg.qos).equal(1);
    const t3 = JSON.parse(String(msg.payload)) as { id: number; params: unknown };
    should(t3.params).eql({ step: '-3', desc: msg.reason });
    should(msg.verification).match({ ok: false, version: '2.0.0' });
    should(passed.messages).have.length(passes);
    should(caught.messages).eql([]);
    return msg;
  }

  async function assertPassed(payload: Buffer, notice: unknown): Promise<Msg> {
    helper.getNode(verifyId).receive({ payload, notice });
    const msg = await passed.next();
    should(caught.messages).eql([]);
    return msg;
  }

  it('the genuine package with its signed notice passes (so the refusals below are refusals)', async function () {
    const msg = await assertPassed(PACKAGE, noticeFor(PACKAGE));
    should(msg.verification).match({ ok: true, size: PACKAGE.length, sequence: 1, expires: IN_A_DAY });
    should(refused.messages).eql([]);
  });

  it('a flipped byte is refused, with the notice as sent and with its digests rewritten to match', async function () {
    const tampered = Buffer.from(PACKAGE);
    tampered[5000] ^= 0x01;
    await assertRefused(tampered, noticeFor(PACKAGE), /^SHA256 mismatch/);
    await assertRefused(
      tampered,
      noticeFor(tampered, { vouchedFor: PACKAGE }),
      `release manifest does not match the downloaded package: its sha256 is ${digestBuffer(PACKAGE).sha256}, the package's is ${digestBuffer(tampered).sha256}`,
    );
  });

  it('a truncated package is refused, with the notice as sent and with its size and digests rewritten', async function () {
    const truncated = PACKAGE.subarray(0, PACKAGE.length - 1000);
    await assertRefused(truncated, noticeFor(PACKAGE), /^size mismatch/);
    await assertRefused(
      truncated,
      noticeFor(truncated, { vouchedFor: PACKAGE }),
      `release manifest does not match the notice: its size is ${PACKAGE.length}, the notice's is ${truncated.length}`,
    );
  });

  it("a package signed with another key, or carrying another package's genuine signature, is refused", async function () {
    const evil = Buffer.concat([PACKAGE, Buffer.from('backdoor')]);
    await assertRefused(evil, noticeFor(evil, { key: attackerKey }), SIGNATURE_REFUSED);
    await assertRefused(
      evil,
      noticeFor(evil, { vouchedFor: PACKAGE }),
      `release manifest does not match the notice: its size is ${PACKAGE.length}, the notice's is ${evil.length}`,
    );
  });

  it('a corrupted manifest signature, a manifest edited after signing and a corrupted digestsign are refused', async function () {
    await assertRefused(PACKAGE, withFlippedTag(noticeFor(PACKAGE), 'otaManifestSig', 10), SIGNATURE_REFUSED);
    // The manifest's last byte is a digit of expires=…: flipped, it says another second.
    await assertRefused(PACKAGE, withFlippedTag(noticeFor(PACKAGE), 'otaManifest', -1), SIGNATURE_REFUSED);
    const notice = noticeFor(PACKAGE);
    const flipped = Buffer.from(notice.data.digestsign as string, 'base64');
    flipped[10] ^= 0x80;
    notice.data.digestsign = flipped.toString('base64');
    await assertRefused(PACKAGE, notice, /signature \(digestsign\) does not match/);
  });

  it('the genuine package with a manifest signed by another key is refused, even beside a genuine digestsign', async function () {
    const notice = noticeFor(PACKAGE);
    notice.data.extData = noticeFor(PACKAGE, { key: attackerKey, sequence: 99 }).data.extData;
    await assertRefused(PACKAGE, notice, SIGNATURE_REFUSED);
  });

  it('a package whose notice carries no release manifest is refused, even with a genuine digestsign', async function () {
    await assertRefused(
      PACKAGE,
      noticeFor(PACKAGE, { manifest: false }),
      'unsigned release: the notice carries no release manifest (extData.otaManifest), and this device accepts only releases signed by its fleet',
    );
    const notice = noticeFor(PACKAGE);
    const { otaManifestSig: _dropped, ...extData } = notice.data.extData as Record<string, string>;
    notice.data.extData = extData;
    await assertRefused(
      PACKAGE,
      notice,
      'unsigned release: the notice carries a release manifest but no signature (extData.otaManifestSig)',
    );
  });

  it('an expired manifest is refused', async function () {
    const expires = Math.floor(Date.now() / 1000) - 60;
    await assertRefused(
      PACKAGE,
      noticeFor(PACKAGE, { expires }),
      new RegExp(
        `^expired release manifest: it was valid until \\S+ \\(expires=${expires}\\) and this device's clock says `,
      ),
    );
  });

  it('a manifest of an older sequence, replayed after a newer one passed, is refused as a downgrade replay', async function () {
    const newer = Buffer.concat([PACKAGE, Buffer.from('2.1.0')]);
    should((await assertPassed(newer, noticeFor(newer, { version: '2.1.0', sequence: 2 }))).verification).match({
      ok: true,
      version: '2.1.0',
      sequence: 2,
    });
    await assertRefused(
      PACKAGE,
      noticeFor(PACKAGE, { sequence: 1 }),
      'a downgrade replay: the release manifest has sequence 1, lower than 2, the highest this device installed for module "default"',
    );
    // The same release again is a retry, not a replay.
    should((await assertPassed(newer, noticeFor(newer, { version: '2.1.0', sequence: 2 }))).verification).match({
      ok: true,
      sequence: 2,
    });
  });

  it('any one byte flipped anywhere is refused, however the notice is rewritten', async function () {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(PACKAGE.length - 1),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        async (at, mask, rewrite) => {
          const tampered = Buffer.from(PACKAGE);
          tampered[at] ^= mask;
          const before = refused.messages.length;
          await assertRefused(
            tampered,
            rewrite ? noticeFor(tampered, { vouchedFor: PACKAGE }) : noticeFor(PACKAGE),
            rewrite ? /^release manifest does not match the downloaded package: its sha256 is/ : /^SHA256 mismatch/,
          );
          should(refused.messages.length).equal(before + 1);
        },
      ),
      { numRuns: 200, seed: SEED },
    );
    printFigures('tampered packages', { byteFlips: 200, seed: SEED, passed: 0, refusedWithT3: 200 });
  });
});
