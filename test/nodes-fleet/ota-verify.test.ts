/**
 * ota-verify bound to a fleet (platform role): packages from a Buffer, a file or a URL become
 * hosted catalog records; with test devices, a verify batch decides. Device role with a public
 * key: the fleet's release manifests (and their sequence: no downgrade replay) and package
 * signatures are checked.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { urlSignature } from '../../src/fleet';
import { signManifest } from '../../src/identity';
import { generateSigningKeyPair, readPrivateKey, signPackageDigest } from '../../src/protocol';
import {
  Deployed,
  deploy,
  eventually,
  feed,
  FleetSuite,
  fleetSuite,
  httpRequest,
  noticeOf,
  Platform,
  platformFlow,
  reportVersions,
  t1,
  t3,
} from '../helpers/fleet-red';
import { FlowNode, node, probe } from '../helpers/flow';
import { assertNothingSent, delay, Inbox, inboxes, Msg } from '../helpers/red';

helper.init(require.resolve('node-red'));

const PACKAGE = Buffer.from('firmware 2.0.0 for pk1, to be verified');

function digests(bytes: Buffer) {
  return {
    size: bytes.length,
    md5: createHash('md5').update(bytes).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** The catalog record ota-verify sends, checked whole; its id, streamId, time and url are returned. */
function assertRecord(
  suite: FleetSuite,
  d: Deployed,
  msg: Msg,
  expected: { version: string; verification: string; bytes: Buffer; sequence: number },
) {
  const record = msg.payload as Record<string, unknown> & { id: string; url: string };
  should(record).eql({
    id: record.id,
    productKey: 'pk1',
    module: 'default',
    version: expected.version,
    ...digests(expected.bytes),
    signMethod: 'Md5',
    hosted: true,
    isDiff: false,
    streamId: record.streamId,
    verification: expected.verification,
    sequence: expected.sequence,
    createdAt: record.createdAt,
    url: record.url,
  });
  should(record.url).match(
    new RegExp(`^${suite.nodeUrl}/ota/firmware/${d.platform.fleet.id}/${record.id}\\?e=\\d+&s=[\\w-]{43}$`),
  );
  return record;
}

describe('ota-verify with a fleet', function () {
  const suite = fleetSuite('verify');

  describe('platform role: upload', function () {
    it('a Buffer becomes a hosted catalog record on output 1, unverified, with a signed URL that serves it', async function () {
      const d = await deploy(platformFlow(suite));
      feed(d.platform.verify, { _msgid: 'up', payload: PACKAGE, productKey: 'pk1', version: '2.0.0' });
      const msg = await d.verified.next();
      const record = assertRecord(suite, d, msg, {
        version: '2.0.0',
        verification: 'unverified',
        bytes: PACKAGE,
        sequence: 1,
      });
      const download = await httpRequest(record.url);
      should({ status: download.status, same: download.body.equals(PACKAGE) }).eql({ status: 200, same: true });
      const { url: _url, ...catalogued } = record;
      should(
        (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/firmware/${record.id}`).expect(200)).body,
      ).eql(catalogued);
      await assertNothingSent([d.verifyFailed, d.caught]);
    });

    it('is not-required when the fleet does not require verification', async function () {
      const d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
      feed(d.platform.verify, { _msgid: 'up', payload: PACKAGE, productKey: 'pk1', version: '2.0.0' });
      assertRecord(suite, d, await d.verified.next(), {
        version: '2.0.0',
        verification: 'not-required',
        bytes: PACKAGE,
        sequence: 1,
      });
    });

    it('a file named by msg.filename is uploaded the same way, with the labels from the node', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'ota-verify-file-'));
      try {
        const file = join(dir, 'fw.bin');
        await writeFile(file, PACKAGE);
        const d = await deploy(platformFlow(suite, { verifyProps: { productKey: 'pk1', version: '2.0.1' } }));
        feed(d.platform.verify, { _msgid: 'up', filename: file });
        assertRecord(suite, d, await d.verified.next(), {
          version: '2.0.1',
          verification: 'unverified',
          bytes: PACKAGE,
          sequence: 1,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    describe('from an http URL', function () {
      let server: http.Server;
      let origin: string;
      before(async function () {
        server = http.createServer((req, res) => {
          if (req.url === '/fw.bin') res.writeHead(200, { 'Content-Length': PACKAGE.length }).end(PACKAGE);
          else res.writeHead(404).end('not here');
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
        origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      after(async function () {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      });

      it('a package at msg.url is fetched and uploaded the same way', async function () {
        const d = await deploy(platformFlow(suite));
        feed(d.platform.verify, { _msgid: 'up', url: `${origin}/fw.bin`, productKey: 'pk1', version: '2.0.2' });
        assertRecord(suite, d, await d.verified.next(), {
          version: '2.0.2',
          verification: 'unverified',
          bytes: PACKAGE,
          sequence: 1,
        });
      });

      it('a msg.url that does not answer 200 is refused with the status', async function () {
        const d = await deploy(platformFlow(suite));
        feed(d.platform.verify, { _msgid: 'up', url: `${origin}/missing.bin`, productKey: 'pk1', version: '2.0.2' });
        const caught = await d.caught.next();
        should((caught.error as { message: string }).message).equal(
          `FleetError: fetching ${origin}/missing.bin answered HTTP 404, not 200`,
        );
        await assertNothingSent([d.verified, d.verifyFailed]);
        should((await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/firmware`).expect(200)).body).eql([]);
      });
    });
  });

  describe('platform role: verification on test devices', function () {
    /** t1, t2 (test devices) and t3 at 1.0.0; the package sent to ota-verify with the test devices. */
    async function verifying(): Promise<{ d: Deployed; batchId: number }> {
      const d = await deploy(platformFlow(suite));
      await reportVersions(d, 'pk1', ['t1', 't2', 't3'], '1.0.0');
      feed(d.platform.verify, {
        _msgid: 'up',
        payload: PACKAGE,
        productKey: 'pk1',
        version: '2.0.0',
        testDevices: ['t1', 't2'],
      });
      const notices = [await d.sent.next(), await d.sent.next()];
      should(notices.map((m) => m.topic)).eql(['/ota/device/upgrade/pk1/t1', '/ota/device/upgrade/pk1/t2']);
      return { d, batchId: notices[0].batchId as number };
    }

    it('starts a verify batch and sends output 1 only once every test device runs the new version: verified', async function () {
      const { d, batchId } = await verifying();
      should(
        (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches/${batchId}`).expect(200)).body,
      ).match({ type: 'verify', targets: { selection: 'SPECIFIC', devices: ['t1', 't2'] } });
      feed(d.platform.progress, t3('pk1', 't1', 0));
      feed(d.platform.progress, t3('pk1', 't1', 100));
      feed(d.platform.inform, t1('pk1', 't1', '2.0.0'));
      await d.informed.next((m) => (m.payload as { state?: string }).state === 'SUCCEEDED');
      await assertNothingSent([d.verified, d.verifyFailed], 100);

      feed(d.platform.inform, t1('pk1', 't2', '2.0.0'));
      const msg = await d.verified.next();
      assertRecord(suite, d, msg, { version: '2.0.0', verification: 'verified', bytes: PACKAGE, sequence: 1 });
      should(msg.batchId).equal(batchId);
      await assertNothingSent([d.verifyFailed, d.caught]);
    });

    it('a verified firmware then passes the gate of a static batch, which leaves the test devices out', async function () {
      const { d } = await verifying();
      feed(d.platform.inform, t1('pk1', 't1', '2.0.0'));
      feed(d.platform.inform, t1('pk1', 't2', '2.0.0'));
      const record = (await d.verified.next()).payload as { id: string };
      feed(d.platform.push!, {
        _msgid: 'b',
        payload: { firmwareId: record.id, type: 'static', targets: { selection: 'ALL' } },
      });
      const notice = await d.sent.next();
      should([notice.topic, noticeOf(notice).data.version]).eql(['/ota/device/upgrade/pk1/t3', '2.0.0']);
      await delay(50);
      should(d.sent.messages).have.length(3);
      await assertNothingSent([d.caught]);
    });

    it('a test device that fails sends output 2 with each failure and verify-failed, and the gate stays shut', async function () {
      const { d } = await verifying();
      feed(d.platform.progress, t3('pk1', 't1', -3, 'md5 mismatch'));
      const msg = await d.verifyFailed.next();
      const record = msg.payload as Record<string, unknown> & { failures: unknown; id: string };
      const { failures, ...rest } = record;
      should(failures).eql([
        { deviceName: 't1', reason: 'step -3 (verification failed (digest or signature mismatch)): md5 mismatch' },
      ]);
      assertRecord(
        suite,
        d,
        { ...msg, payload: rest },
        { version: '2.0.0', verification: 'verify-failed', bytes: PACKAGE, sequence: 1 },
      );
      await assertNothingSent([d.verified]);

      feed(d.platform.push!, {
        _msgid: 'b',
        payload: { firmwareId: record.id, type: 'static', targets: { selection: 'ALL' } },
      });
      const caught = await d.caught.next();
      should((caught.error as { message: string }).message).match(
        /^FleetError: firmware \w+ \(pk1\/default 2\.0\.0\) is verify-failed: verify it on up to 10 test devices first/,
      );
    });

    it('a canceled verification ends the waiting message', async function () {
      const { d, batchId } = await verifying();
      await helper.request().post(`/ota/fleets/${d.platform.fleet.id}/batches/${batchId}/cancel`).expect(200);
      await eventually(
        'the waiting message to end',
        () => d.verifyFailed.messages.length + d.caught.messages.length > 0,
      );
      const [caught] = d.caught.messages;
      if (caught) should((caught.error as { message: string }).message).match(/cancel/);
      else should((d.verifyFailed.messages[0].payload as { verification: string }).verification).equal('unverified');
      await assertNothingSent([d.verified]);
    });

    it('more than 10 test devices are refused', async function () {
      const d = await deploy(platformFlow(suite));
      const many = Array.from({ length: 11 }, (_, i) => `t${i}`);
      feed(d.platform.verify, {
        _msgid: 'up',
        payload: PACKAGE,
        productKey: 'pk1',
        version: '2.0.0',
        testDevices: many,
      });
      const caught = await d.caught.next();
      should((caught.error as { message: string }).message).equal(
        'ProtocolError: msg.testDevices must be a list of at most 10 test device names, got an array of 11 items',
      );
      await assertNothingSent([d.verified, d.verifyFailed, d.sent]);
    });
  });

  describe("device role with the fleet's public key", function () {
    const keys = generateSigningKeyPair();
    const URL_SECRET = 'a secret only this test knows';
    const PACKAGE_2_1 = Buffer.from('firmware 2.1.0 for pk1, the newer release');

    interface SignedPlatform {
      d: Deployed;
      device: FlowNode;
      passed: Inbox;
      failed: Inbox;
    }

    /**
     * The platform flow (its fleet signing packages and release manifests, verification not
     * required) plus a device-role ota-verify with the public key, for dev1 of pk1 at 1.0.0.
     */
    async function signedPlatform(): Promise<SignedPlatform> {
      const platform: Platform = platformFlow(suite, {
        fleetProps: { requireVerification: false, publicKey: keys.publicKey },
      });
      const passedProbe = probe();
      const failedProbe = probe();
      const device = node(
        'ota-verify',
        { role: 'device', publicKey: keys.publicKey, productKey: 'pk1', deviceName: 'dev1' },
        [[passedProbe.id], [failedProbe.id]],
      );
      const tab = platform.flow[0].id;
      platform.flow.push(...[device, passedProbe, failedProbe].map((n) => ({ ...n, z: tab })));
      const d = await deploy(platform, { signingKey: keys.privateKey, urlSecret: URL_SECRET });
      const [passed, failed] = inboxes(passedProbe.id, failedProbe.id);
      await reportVersions(d, 'pk1', ['dev1'], '1.0.0');
      return { d, device, passed, failed };
    }

    /** Uploads `bytes` as `version` through the platform ota-verify: the catalog record. */
    async function upload(
      d: Deployed,
      version: string,
      bytes: Buffer,
    ): Promise<Record<string, unknown> & { id: string; sequence: number }> {
      feed(d.platform.verify, { _msgid: 'up', payload: bytes, productKey: 'pk1', version });
      return (await d.verified.next()).payload as Record<string, unknown> & { id: string; sequence: number };
    }

    /** What a device downloads from a notice's URL. */
    async function download(notice: Msg): Promise<Buffer> {
      const answer = await httpRequest(noticeOf(notice).data.url as string);
      should(answer.status).equal(200);
      return answer.body;
    }

    /** 2.0.0 uploaded and pushed to every device by a static batch: dev1's notice and download. */
    async function signedFleet(): Promise<SignedPlatform & { notice: Msg; bytes: Buffer }> {
      const platform = await signedPlatform();
      const record = await upload(platform.d, '2.0.0', PACKAGE);
      feed(platform.d.platform.push!, {
        _msgid: 'b',
        payload: { firmwareId: record.id, type: 'static', targets: { selection: 'ALL' } },
      });
      const notice = await platform.d.sent.next();
      return { ...platform, notice, bytes: await download(notice) };
    }

    /** The expiry of a notice's signed URL, in Unix seconds: the manifest expires with it. */
    function urlExpiry(notice: Msg): number {
      return Number(new URL(noticeOf(notice).data.url as string).searchParams.get('e'));
    }

    it('the notice carries the digestsign and release manifest of the signing key and a URL signed with the urlSecret credential', async function () {
      const { d, notice } = await signedFleet();
      const data = noticeOf(notice).data;
      const signingKey = readPrivateKey('signingKey', keys.privateKey);
      should(data.digestsign).equal(signPackageDigest(signingKey, digests(PACKAGE).sha256));
      const { md5: _md5, ...sizeAndSha256 } = digests(PACKAGE);
      should(data.extData).eql(
        signManifest(signingKey, {
          productKey: 'pk1',
          module: 'default',
          version: '2.0.0',
          ...sizeAndSha256,
          sequence: 1,
          expires: urlExpiry(notice),
        }),
      );
      const url = new URL(data.url as string);
      const firmware = url.pathname.split('/').pop() as string;
      should(url.searchParams.get('s')).equal(
        urlSignature(URL_SECRET, { fleet: d.platform.fleet.id, firmware, expires: urlExpiry(notice) }),
      );
      should((await helper.request().get('/ota/fleets').expect(200)).body).eql([
        { id: d.platform.fleet.id, name: 'test fleet', publicKey: keys.publicKey, requireVerification: false },
      ]);
    });

    it('a downloaded package whose release manifest and digestsign match passes on output 1, with its sequence and expiry', async function () {
      const { device, passed, failed, notice, bytes } = await signedFleet();
      feed(device, { _msgid: 'dl', payload: bytes, notice: notice.payload });
      const msg = await passed.next();
      should(msg.verification).eql({
        ok: true,
        version: '2.0.0',
        module: 'default',
        ...digests(PACKAGE),
        sequence: 1,
        expires: urlExpiry(notice),
      });
      await assertNothingSent([failed]);
    });

    /** What a device-role ota-verify sends on output 2 for `reason`: a ready T3 -3. */
    function assertT3(msg: Msg, reason: string): void {
      should({ reason: msg.reason, topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
        reason,
        topic: '/ota/device/progress/pk1/dev1',
        payload: JSON.stringify({ id: 1, params: { step: '-3', desc: reason } }),
        qos: 1,
      });
    }

    it('a tampered package fails on output 2 with a T3 -3', async function () {
      const { device, passed, failed, notice, bytes } = await signedFleet();
      const tampered = Buffer.from(bytes);
      tampered[5] ^= 0xff;
      feed(device, { _msgid: 'dl', payload: tampered, notice: notice.payload });
      assertT3(
        await failed.next(),
        `Md5 mismatch: the package digest is ${digests(tampered).md5}, the notice says ${digests(PACKAGE).md5}`,
      );
      await assertNothingSent([passed]);
    });

    it('a notice whose digestsign was made by another key fails on output 2 with a T3 -3', async function () {
      const { device, passed, failed, notice, bytes } = await signedFleet();
      const body = noticeOf(notice);
      const forged = signPackageDigest(
        readPrivateKey('other', generateSigningKeyPair().privateKey),
        digests(PACKAGE).sha256,
      );
      feed(device, {
        _msgid: 'dl',
        payload: bytes,
        notice: JSON.stringify({ ...body, data: { ...body.data, digestsign: forged } }),
      });
      assertT3(
        await failed.next(),
        'the package signature (digestsign) does not match the package: it was tampered with or signed by another key',
      );
      await assertNothingSent([passed]);
    });

    it('a notice without its release manifest fails on output 2 with a T3 -3, even with a genuine digestsign', async function () {
      const { device, passed, failed, notice, bytes } = await signedFleet();
      const body = noticeOf(notice);
      const { extData: _dropped, ...data } = body.data;
      feed(device, { _msgid: 'dl', payload: bytes, notice: JSON.stringify({ ...body, data }) });
      assertT3(
        await failed.next(),
        'unsigned release: the notice carries no release manifest (extData.otaManifest), and this device accepts only releases signed by its fleet',
      );
      await assertNothingSent([passed]);
    });

    it("after the fleet's 2.1.0 (sequence 2) passed, its genuine notice of 2.0.0 (sequence 1) fails as a downgrade replay", async function () {
      const { d, device, passed, failed } = await signedPlatform();
      const older = await upload(d, '2.0.0', PACKAGE);
      const newer = await upload(d, '2.1.0', PACKAGE_2_1);
      should([older.sequence, newer.sequence]).eql([1, 2]);
      feed(d.platform.push!, { _msgid: 'push-2.1.0', payload: newer, productKey: 'pk1', deviceName: 'dev1' });
      const notice21 = await d.sent.next();
      feed(device, { _msgid: 'dl-2.1.0', payload: await download(notice21), notice: notice21.payload });
      should((await passed.next()).verification).eql({
        ok: true,
        version: '2.1.0',
        module: 'default',
        ...digests(PACKAGE_2_1),
        sequence: 2,
        expires: urlExpiry(notice21),
      });

      // The fleet's own notice of the older release, genuinely signed: what a replay would carry.
      feed(d.platform.push!, { _msgid: 'push-2.0.0', payload: older, productKey: 'pk1', deviceName: 'dev1' });
      const notice20 = await d.sent.next();
      should(noticeOf(notice20).data.version).equal('2.0.0');
      feed(device, { _msgid: 'dl-2.0.0', payload: await download(notice20), notice: notice20.payload });
      const refused = await failed.next();
      const reason =
        'a downgrade replay: the release manifest has sequence 1, lower than 2, the highest this device installed for module "default"';
      assertT3(refused, reason);
      should(refused.verification).eql({
        ok: false,
        reason,
        version: '2.0.0',
        module: 'default',
        ...digests(PACKAGE),
        sequence: 1,
        expires: urlExpiry(notice20),
      });
      should(passed.messages).have.length(1);
    });
  });
});
