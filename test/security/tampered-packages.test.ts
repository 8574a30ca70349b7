/**
 * Security: with a public key configured, ota-verify (device role) refuses a tampered package —
 * a flipped byte, a truncated file, a signature by another key, a signature of another package,
 * no signature — even when the attacker also rewrote the notice's size and digests. Each refusal
 * leaves on output 2 with the reason and a ready T3 step -3 for `mqtt out`.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { digestBuffer, generateSigningKeyPair, readPrivateKey, signPackageDigest } from '../../src/protocol';
import { catchAll, catchNodeModule } from '../helpers/core-nodes';
import { node, onTab, probe } from '../helpers/flow';
import { printFigures } from '../helpers/fuzz-run';
import { Inbox, inboxes, Msg } from '../helpers/red';

const verifyModule = require('../../../nodes/ota-verify.js');

helper.init(require.resolve('node-red'));

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 30;
const fleetKeys = generateSigningKeyPair();
const attackerKeys = generateSigningKeyPair();
const PACKAGE = randomBytes(100_000);

/** The T2 a platform with the fleet's signing key sends for `bytes` (or what an attacker makes of it). */
function noticeFor(bytes: Buffer, signWith: string | null = fleetKeys.privateKey, signedBytes: Buffer = bytes) {
  const digest = digestBuffer(bytes);
  const data: Record<string, unknown> = { size: digest.size, version: '2.0.0', url: 'https://cdn.example.com/fw.bin', signMethod: 'SHA256', sign: digest.sha256, md5: digest.md5 };
  if (signWith) data.digestsign = signPackageDigest(readPrivateKey('key', signWith), digestBuffer(signedBytes).sha256);
  return { code: '1000', data, id: 1, message: 'success' };
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
    const verify = node('ota-verify', { role: 'device', productKey: 'pk1', deviceName: 'dev-1', publicKey: fleetKeys.publicKey }, [[ok.id], [bad.id]]);
    verifyId = verify.id;
    await helper.load([verifyModule, catchNodeModule], onTab(verify, catchAll(errors), ok, bad, errors));
    [passed, refused, caught] = inboxes(ok.id, bad.id, errors.id);
  });

  afterEach(function () {
    return helper.unload();
  });

  /** Output 2 with the reason, and the message is the T3 -3 a device publishes. */
  async function assertRefused(payload: Buffer, notice: unknown, reason: RegExp): Promise<Msg> {
    helper.getNode(verifyId).receive({ payload, notice });
    const msg = await refused.next();
    should(msg.reason).match(reason);
    should(msg.topic).equal('/ota/device/progress/pk1/dev-1');
    should(msg.qos).equal(1);
    const t3 = JSON.parse(String(msg.payload)) as { id: number; params: unknown };
    should(t3.params).eql({ step: '-3', desc: msg.reason });
    should(msg.verification).match({ ok: false, version: '2.0.0' });
    should(passed.messages).eql([]);
    should(caught.messages).eql([]);
    return msg;
  }

  it('the genuine package with its signed notice passes (so the refusals below are refusals)', async function () {
    helper.getNode(verifyId).receive({ payload: PACKAGE, notice: noticeFor(PACKAGE) });
    should((await passed.next()).verification).match({ ok: true, size: PACKAGE.length });
  });

  it('a flipped byte is refused, with the notice as sent and with its digests rewritten to match', async function () {
    const tampered = Buffer.from(PACKAGE);
    tampered[5000] ^= 0x01;
    await assertRefused(tampered, noticeFor(PACKAGE), /^SHA256 mismatch/);
    await assertRefused(tampered, noticeFor(tampered, fleetKeys.privateKey, PACKAGE), /signature \(digestsign\) does not match/);
  });

  it('a truncated package is refused, with the notice as sent and with its size and digests rewritten', async function () {
    const truncated = PACKAGE.subarray(0, PACKAGE.length - 1000);
    await assertRefused(truncated, noticeFor(PACKAGE), /^size mismatch/);
    await assertRefused(truncated, noticeFor(truncated, fleetKeys.privateKey, PACKAGE), /signature \(digestsign\) does not match/);
  });

  it("a package signed with another key, or carrying another package's genuine signature, is refused", async function () {
    const evil = Buffer.concat([PACKAGE, Buffer.from('backdoor')]);
    await assertRefused(evil, noticeFor(evil, attackerKeys.privateKey), /signature \(digestsign\) does not match/);
    await assertRefused(evil, noticeFor(evil, fleetKeys.privateKey, PACKAGE), /signature \(digestsign\) does not match/);
    const signature = noticeFor(PACKAGE).data.digestsign as string;
    const flipped = Buffer.from(signature, 'base64');
    flipped[10] ^= 0x80;
    const notice = noticeFor(PACKAGE);
    notice.data.digestsign = flipped.toString('base64');
    await assertRefused(PACKAGE, notice, /signature \(digestsign\) does not match/);
  });

  it('a package whose notice carries no digestsign is refused', async function () {
    await assertRefused(PACKAGE, noticeFor(PACKAGE, null), /carries no digestsign/);
  });

  it('any one byte flipped anywhere is refused, however the notice is rewritten', async function () {
    await fc.assert(
      fc.asyncProperty(fc.nat(PACKAGE.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (at, mask, rewrite) => {
        const tampered = Buffer.from(PACKAGE);
        tampered[at] ^= mask;
        const before = refused.messages.length;
        await assertRefused(tampered, rewrite ? noticeFor(tampered, fleetKeys.privateKey, PACKAGE) : noticeFor(PACKAGE), rewrite ? /digestsign/ : /mismatch/);
        should(refused.messages.length).equal(before + 1);
      }),
      { numRuns: 200, seed: SEED },
    );
    printFigures('tampered packages', { byteFlips: 200, seed: SEED, passed: 0, refusedWithT3: 200 });
  });
});
