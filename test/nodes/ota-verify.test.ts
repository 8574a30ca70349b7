import { createHash, KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { canonicalManifest, ReleaseManifest, signManifest } from '../../src/identity';
import {
  buildUpgradeNotice,
  generateSigningKeyPair,
  parseFirmwareDescriptor,
  readPrivateKey,
  signPackageDigest,
} from '../../src/protocol';
import { catchAll, catchNodeModule } from '../helpers/core-nodes';
import { FlowNode, node, onTab, probe } from '../helpers/flow';
import { assertNothingSent, assertRedRing, assertRefusal, Inbox, inboxes, recordStatuses } from '../helpers/red';
import { EXAMPLE_PACKAGE, LINK_SDK_4, sdkVector } from '../helpers/sdk-vectors';

const verifyNode = require('../../../nodes/ota-verify.js');

helper.init(require.resolve('node-red'));

/** An ota-verify with a probe on each output and a Catch node on the same tab. */
async function verifyFlow(
  props: Record<string, unknown>,
): Promise<{ verify: FlowNode; passed: Inbox; failed: Inbox; caught: Inbox }> {
  const out1 = probe();
  const out2 = probe();
  const errors = probe();
  const verify = node('ota-verify', props, [[out1.id], [out2.id]]);
  await helper.load([verifyNode, catchNodeModule], onTab(verify, out1, out2, catchAll(errors), errors));
  const [passed, failed, caught] = inboxes(out1.id, out2.id, errors.id);
  return { verify, passed, failed, caught };
}

const URL = 'https://ota.example.com/fw/MCU-1.0.1.bin?Expires=1700000000&Signature=abc123';
const DEVICE_ROLE = { role: 'device', productKey: 'a1B2c3D4e5F', deviceName: 'dev-001' };

/** The T2 of the MCU module for "hello world!" that Link SDK 4 accepts (sdk-shapes.json). */
const MCU_NOTICE = sdkVector(LINK_SDK_4, 'upgrade', { accepted: true }).payload;

/** What ota-verify reports about "hello world!" checked against a notice of `module`. */
function verificationOf(module: string) {
  return {
    version: '1.0.1',
    module,
    size: EXAMPLE_PACKAGE.size,
    md5: EXAMPLE_PACKAGE.md5,
    sha256: EXAMPLE_PACKAGE.sha256,
  };
}

describe('ota-verify', function () {
  let dir: string;

  before(function (done) {
    helper.startServer(done);
  });
  after(function (done) {
    helper.stopServer(done);
  });
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'ota-verify-'));
  });
  afterEach(async function () {
    await helper.unload();
    await rm(dir, { recursive: true, force: true });
  });

  describe('device role', function () {
    it('a package in a Buffer that matches its T2 passes on output 1', async function () {
      const { verify, passed, failed } = await verifyFlow(DEVICE_ROLE);
      helper.getNode(verify.id).receive({ payload: EXAMPLE_PACKAGE.bytes, notice: MCU_NOTICE });
      const msg = await passed.next();
      should(msg.verification).eql({ ok: true, ...verificationOf('MCU') });
      should(msg.payload).eql(EXAMPLE_PACKAGE.bytes);
      await assertNothingSent([failed]);
    });

    it('a package in the file named by msg.filename that matches a SHA256 T2 passes', async function () {
      const file = join(dir, 'firmware.bin');
      await writeFile(file, EXAMPLE_PACKAGE.bytes);
      const notice = `{"code":"1000","data":{"size":12,"version":"1.0.1","url":"${URL}","signMethod":"SHA256","sign":"${EXAMPLE_PACKAGE.sha256}"},"id":1,"message":"success"}`;
      const { verify, passed, failed } = await verifyFlow(DEVICE_ROLE);
      helper.getNode(verify.id).receive({ filename: file, notice });
      const msg = await passed.next();
      should(msg.verification).eql({ ok: true, ...verificationOf('default') });
      await assertNothingSent([failed]);
    });

    it('a firmware descriptor is accepted as the notice', async function () {
      const { verify, passed } = await verifyFlow(DEVICE_ROLE);
      const descriptor = { version: '1.0.1', url: URL, size: 12, sha256: EXAMPLE_PACKAGE.sha256 };
      helper.getNode(verify.id).receive({ payload: EXAMPLE_PACKAGE.bytes, notice: descriptor });
      const msg = await passed.next();
      should(msg.verification).eql({ ok: true, ...verificationOf('default') });
    });

    it('a package of the wrong size fails on output 2 with the reason and a ready T3 -3', async function () {
      const { verify, passed, failed } = await verifyFlow(DEVICE_ROLE);
      helper.getNode(verify.id).receive({ payload: Buffer.from('hello world!!'), notice: MCU_NOTICE });
      const msg = await failed.next();
      const reason = 'size mismatch: the package has 13 bytes, the notice says 12';
      should({ reason: msg.reason, topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
        reason,
        topic: '/ota/device/progress/a1B2c3D4e5F/dev-001',
        payload: `{"id":1,"params":{"step":"-3","desc":"${reason}","module":"MCU"}}`,
        qos: 1,
      });
      should(msg.verification).eql({
        ok: false,
        reason,
        version: '1.0.1',
        module: 'MCU',
        ...digestsOf('hello world!!'),
      });
      await assertNothingSent([passed]);
    });

    it('a package with the right size and another digest fails on output 2 with the reason and a ready T3 -3', async function () {
      const { verify, passed, failed } = await verifyFlow(DEVICE_ROLE);
      helper
        .getNode(verify.id)
        .receive({ payload: Buffer.from('HELLO WORLD!'), notice: MCU_NOTICE, productKey: 'pk2', deviceName: 'dev2' });
      const msg = await failed.next();
      const reason = `Md5 mismatch: the package digest is ${digestsOf('HELLO WORLD!').md5}, the notice says ${EXAMPLE_PACKAGE.md5}`;
      should({ reason: msg.reason, topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
        reason,
        topic: '/ota/device/progress/pk2/dev2',
        payload: `{"id":1,"params":{"step":"-3","desc":"${reason}","module":"MCU"}}`,
        qos: 1,
      });
      await assertNothingSent([passed]);
    });

    describe('a notice of several files', function () {
      const APP = Buffer.from('application image');
      const RES = Buffer.from('resources, fonts and pictures');

      /** A T2 of version 2.0.0 listing app.bin and res.bin by their MD5. */
      function filesNotice(): string {
        const files = [APP, RES].map((bytes, i) => {
          const fileName = ['app.bin', 'res.bin'][i];
          return {
            fileName,
            fileSize: bytes.length,
            fileUrl: `https://ota.example.com/fw/${fileName}`,
            fileSign: digestsOf(bytes.toString()).md5,
          };
        });
        return buildUpgradeNotice(parseFirmwareDescriptor({ version: '2.0.0', signMethod: 'Md5', files }), 1);
      }

      const fileOf = (fileName: string, bytes: Buffer) => ({ fileName, ...digestsOf(bytes.toString()) });

      it('files in msg.payload as {fileName: Buffer} that all match pass on output 1, each with its digests', async function () {
        const { verify, passed, failed } = await verifyFlow(DEVICE_ROLE);
        helper.getNode(verify.id).receive({ payload: { 'app.bin': APP, 'res.bin': RES }, notice: filesNotice() });
        const msg = await passed.next();
        should(msg.verification).eql({
          ok: true,
          version: '2.0.0',
          module: 'default',
          size: APP.length + RES.length,
          files: [fileOf('app.bin', APP), fileOf('res.bin', RES)],
        });
        should(msg.payload).eql({ 'app.bin': APP, 'res.bin': RES });
        await assertNothingSent([failed]);
      });

      it('a tampered file fails on output 2, naming the file, with a ready T3 -3', async function () {
        const { verify, passed, failed } = await verifyFlow(DEVICE_ROLE);
        const tampered = Buffer.from('RESOURCES, fonts and pictures');
        helper.getNode(verify.id).receive({ payload: { 'app.bin': APP, 'res.bin': tampered }, notice: filesNotice() });
        const msg = await failed.next();
        const reason = `Md5 mismatch in file "res.bin": its digest is ${digestsOf(tampered.toString()).md5}, the notice says ${digestsOf(RES.toString()).md5}`;
        should({ reason: msg.reason, topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
          reason,
          topic: '/ota/device/progress/a1B2c3D4e5F/dev-001',
          payload: JSON.stringify({ id: 1, params: { step: '-3', desc: reason } }),
          qos: 1,
        });
        should(msg.verification).eql({
          ok: false,
          reason,
          version: '2.0.0',
          module: 'default',
          size: APP.length + tampered.length,
          files: [fileOf('app.bin', APP), fileOf('res.bin', tampered)],
        });
        await assertNothingSent([passed]);
      });

      it('a missing file fails on output 2, naming it', async function () {
        const { verify, passed, failed } = await verifyFlow(DEVICE_ROLE);
        helper.getNode(verify.id).receive({ payload: { 'app.bin': APP }, notice: filesNotice() });
        should((await failed.next()).reason).equal(
          'missing file "res.bin": the notice lists it, but it was not downloaded',
        );
        await assertNothingSent([passed]);
      });

      it('with a public key, matching files fail as an unsigned release: no manifest signs several files', async function () {
        const { verify, passed, failed } = await verifyFlow({
          ...DEVICE_ROLE,
          publicKey: generateSigningKeyPair().publicKey,
        });
        helper.getNode(verify.id).receive({ payload: { 'app.bin': APP, 'res.bin': RES }, notice: filesNotice() });
        const msg = await failed.next();
        should(msg.reason).equal(
          'unsigned release: the notice lists several files, and release manifests sign single packages only; this device accepts only releases signed by its fleet',
        );
        should(msg.payload).equal(JSON.stringify({ id: 1, params: { step: '-3', desc: msg.reason } }));
        await assertNothingSent([passed]);
      });

      it('one Buffer for a notice of several files is refused, naming msg.payload', async function () {
        const { verify, passed, failed, caught } = await verifyFlow(DEVICE_ROLE);
        helper.getNode(verify.id).receive({ payload: APP, notice: filesNotice() });
        const error = await caught.next();
        assertRefusal(
          error,
          { id: verify.id, type: 'ota-verify' },
          /^ProtocolError: msg\.payload must be the downloaded files as an object \{fileName: Buffer\} \(the notice lists several files\), got /,
        );
        await assertNothingSent([passed, failed]);
      });

      it('a file that is not a Buffer is refused, naming it', async function () {
        const { verify, caught } = await verifyFlow(DEVICE_ROLE);
        helper
          .getNode(verify.id)
          .receive({ payload: { 'app.bin': APP, 'res.bin': 'resources' }, notice: filesNotice() });
        assertRefusal(
          await caught.next(),
          { id: verify.id, type: 'ota-verify' },
          'msg.payload["res.bin"] must be the downloaded file as a Buffer, got "resources"',
        );
      });
    });

    describe('with a public key: the signed release manifest', function () {
      const fleet = generateSigningKeyPair();
      const fleetKey = readPrivateKey('fleet', fleet.privateKey);
      const attackerKey = readPrivateKey('attacker', generateSigningKeyPair().privateKey);
      const SIGNED_DEVICE = { ...DEVICE_ROLE, publicKey: fleet.publicKey };
      const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

      /** The release "hello world!" 2.0.1 of the whole firmware of a1B2c3D4e5F, as the fleet signs it. */
      function release(change: Partial<ReleaseManifest> = {}): ReleaseManifest {
        return {
          productKey: 'a1B2c3D4e5F',
          module: 'default',
          version: '2.0.1',
          size: 12,
          sha256: EXAMPLE_PACKAGE.sha256,
          sequence: 7,
          expires: inAnHour(),
          ...change,
        };
      }

      /** A T2 for "hello world!" 2.0.1 whose extData holds `extData` (by default, the fleet's signature of `manifest`). */
      function signedNotice(
        manifest: ReleaseManifest = release(),
        key: KeyObject = fleetKey,
        extra: Record<string, unknown> = {},
      ): string {
        const extData = signManifest(key, manifest);
        return buildUpgradeNotice(
          parseFirmwareDescriptor({
            version: '2.0.1',
            size: 12,
            url: URL,
            md5: EXAMPLE_PACKAGE.md5,
            extData,
            ...extra,
          }),
          1,
        );
      }

      const verified = {
        version: '2.0.1',
        module: 'default',
        size: 12,
        md5: EXAMPLE_PACKAGE.md5,
        sha256: EXAMPLE_PACKAGE.sha256,
      };

      async function passes(verify: FlowNode, passed: Inbox, notice: string, extra: Record<string, unknown> = {}) {
        helper.getNode(verify.id).receive({ payload: EXAMPLE_PACKAGE.bytes, notice, ...extra });
        return (await passed.next()).verification;
      }

      /** Output 2: the reason, and the ready T3 -3 of dev-001. */
      async function refused(
        verify: FlowNode,
        failed: Inbox,
        notice: string,
        reason: string | RegExp,
        payload: Buffer = EXAMPLE_PACKAGE.bytes,
      ) {
        helper.getNode(verify.id).receive({ payload, notice });
        const msg = await failed.next();
        if (typeof reason === 'string') should(msg.reason).equal(reason);
        else should(msg.reason).match(reason);
        should({ topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
          topic: '/ota/device/progress/a1B2c3D4e5F/dev-001',
          payload: JSON.stringify({ id: 1, params: { step: '-3', desc: msg.reason } }),
          qos: 1,
        });
        should(msg.verification).containEql({ ok: false, reason: msg.reason });
        return msg;
      }

      it('a package whose notice carries a manifest signed by the fleet passes, with its sequence and expiry', async function () {
        const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
        const manifest = release();
        should(await passes(verify, passed, signedNotice(manifest))).eql({
          ok: true,
          ...verified,
          sequence: 7,
          expires: manifest.expires,
        });
        should(helper.getNode(verify.id).context().get('installedSequences')).eql({ 'a1B2c3D4e5F/dev-001/default': 7 });
        await assertNothingSent([failed]);
      });

      it('an unsigned notice fails on output 2 with a ready T3 -3', async function () {
        const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
        const notice = buildUpgradeNotice(
          parseFirmwareDescriptor({ version: '2.0.1', size: 12, url: URL, md5: EXAMPLE_PACKAGE.md5 }),
          1,
        );
        const msg = await refused(
          verify,
          failed,
          notice,
          'unsigned release: the notice carries no release manifest (extData.otaManifest), and this device accepts only releases signed by its fleet',
        );
        should(msg.verification).eql({ ok: false, reason: msg.reason, ...verified });
        await assertNothingSent([passed]);
      });

      it('a manifest signed by another key fails', async function () {
        const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
        await refused(
          verify,
          failed,
          signedNotice(release(), attackerKey),
          "release manifest signature does not verify with this device's trusted key: the manifest was tampered with or signed by another key",
        );
        await assertNothingSent([passed]);
      });

      it('a tampered manifest (its sequence raised after signing) fails', async function () {
        const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
        const genuine = signManifest(fleetKey, release());
        const extData = { ...genuine, otaManifest: canonicalManifest(release({ sequence: 99 })).toString('base64') };
        const notice = buildUpgradeNotice(
          parseFirmwareDescriptor({ version: '2.0.1', size: 12, url: URL, md5: EXAMPLE_PACKAGE.md5, extData }),
          1,
        );
        await refused(
          verify,
          failed,
          notice,
          "release manifest signature does not verify with this device's trusted key: the manifest was tampered with or signed by another key",
        );
        should(helper.getNode(verify.id).context().get('installedSequences')).be.undefined();
        await assertNothingSent([passed]);
      });

      const mismatches: [string, Partial<ReleaseManifest>, string][] = [
        [
          'version',
          { version: '2.0.0' },
          'release manifest does not match the notice: its version is "2.0.0", the notice\'s is "2.0.1"',
        ],
        ['size', { size: 13 }, "release manifest does not match the notice: its size is 13, the notice's is 12"],
        [
          'productKey',
          { productKey: 'pk2' },
          'release manifest does not match the notice: its productKey is "pk2", this device\'s is "a1B2c3D4e5F"',
        ],
        [
          'sha256',
          { sha256: 'ab'.repeat(32) },
          `release manifest does not match the downloaded package: its sha256 is ${'ab'.repeat(32)}, the package's is ${EXAMPLE_PACKAGE.sha256}`,
        ],
      ];
      for (const [field, change, reason] of mismatches) {
        it(`a genuine manifest of another ${field} fails, naming the ${field}`, async function () {
          const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
          const msg = await refused(verify, failed, signedNotice(release(change)), reason);
          should(msg.verification).containEql({ sequence: 7 });
          await assertNothingSent([passed]);
        });
      }

      it('an expired manifest fails, saying when it expired', async function () {
        const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
        await refused(
          verify,
          failed,
          signedNotice(release({ expires: 1_700_000_000 })),
          /^expired release manifest: it was valid until 2023-11-14T22:13:20Z \(expires=1700000000\) and this device's clock says \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; ask the platform for a fresh notice, or set the device's clock$/,
        );
        await assertNothingSent([passed]);
      });

      it('an older sequence after a newer one passed fails as a downgrade replay, and the record stays', async function () {
        const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
        await passes(verify, passed, signedNotice(release({ sequence: 9 })));
        await refused(
          verify,
          failed,
          signedNotice(release({ sequence: 8 })),
          'a downgrade replay: the release manifest has sequence 8, lower than 9, the highest this device installed for module "default"',
        );
        should(helper.getNode(verify.id).context().get('installedSequences')).eql({ 'a1B2c3D4e5F/dev-001/default': 9 });
      });

      it('the same sequence again passes (a retry)', async function () {
        const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
        await passes(verify, passed, signedNotice(release({ sequence: 9 })));
        should(await passes(verify, passed, signedNotice(release({ sequence: 9 })))).containEql({
          ok: true,
          sequence: 9,
        });
        await assertNothingSent([failed]);
      });

      it('sequences are kept per device and module: another device takes a lower one', async function () {
        const { verify, passed } = await verifyFlow(SIGNED_DEVICE);
        await passes(verify, passed, signedNotice(release({ sequence: 9 })));
        await passes(verify, passed, signedNotice(release({ sequence: 3 })), { deviceName: 'dev-002' });
        should(helper.getNode(verify.id).context().get('installedSequences')).eql({
          'a1B2c3D4e5F/dev-001/default': 9,
          'a1B2c3D4e5F/dev-002/default': 3,
        });
      });

      it('a digestsign beside the manifest is checked too', async function () {
        const { verify, passed, failed } = await verifyFlow(SIGNED_DEVICE);
        const forged = signPackageDigest(attackerKey, EXAMPLE_PACKAGE.sha256);
        await refused(
          verify,
          failed,
          signedNotice(release(), fleetKey, { digestsign: forged }),
          'the package signature (digestsign) does not match the package: it was tampered with or signed by another key',
        );
        should(
          await passes(
            verify,
            passed,
            signedNotice(release(), fleetKey, { digestsign: signPackageDigest(fleetKey, EXAMPLE_PACKAGE.sha256) }),
          ),
        ).containEql({ ok: true });
      });

      it('a package that does not match its notice fails by its digest first', async function () {
        const { verify, failed } = await verifyFlow(SIGNED_DEVICE);
        await refused(
          verify,
          failed,
          signedNotice(),
          `Md5 mismatch: the package digest is ${digestsOf('HELLO WORLD!').md5}, the notice says ${EXAMPLE_PACKAGE.md5}`,
          Buffer.from('HELLO WORLD!'),
        );
      });
    });

    describe('refusals', function () {
      async function refuse(
        props: Record<string, unknown>,
        msg: Record<string, unknown>,
        message: string | RegExp,
      ): Promise<void> {
        const { verify, passed, failed, caught } = await verifyFlow(props);
        const statuses = recordStatuses(verify.id);
        helper.getNode(verify.id).receive(msg);
        const error = await caught.next();
        assertRefusal(error, { id: verify.id, type: 'ota-verify' }, message);
        assertRedRing(statuses, String((error.error as { message: string }).message).replace(/^ProtocolError: /, ''));
        await assertNothingSent([passed, failed]);
      }

      it('a package without its notice is refused', async function () {
        await refuse(
          DEVICE_ROLE,
          { payload: EXAMPLE_PACKAGE.bytes },
          'msg.notice must be a JSON object (as a string, a Buffer or a parsed object), got nothing',
        );
      });

      it('a T5 saying nothing is pending is refused as a notice', async function () {
        await refuse(
          DEVICE_ROLE,
          { payload: EXAMPLE_PACKAGE.bytes, notice: '{"id":18,"code":200,"data":{}}' },
          'msg.notice must be a notice with firmware (this T5 says nothing is pending), got "{\\"id\\":18,\\"code\\":200,\\"data\\":{}}"',
        );
      });

      it('a notice that is not a T2 is refused', async function () {
        await refuse(
          DEVICE_ROLE,
          { payload: EXAMPLE_PACKAGE.bytes, notice: '{"code":"2000","data":{}}' },
          'msg.notice.code must be "1000" (T2) or 200 (T5), got "2000"',
        );
      });

      it('an empty package is refused', async function () {
        await refuse(
          DEVICE_ROLE,
          { payload: Buffer.alloc(0), notice: MCU_NOTICE },
          'msg.payload must be a non-empty package, got a Buffer of 0 bytes',
        );
      });

      it('a message with neither a Buffer nor msg.filename is refused', async function () {
        await refuse(
          DEVICE_ROLE,
          { payload: 'hello world!', notice: MCU_NOTICE },
          'msg.payload must be the package as a Buffer (or its path in msg.filename), got "hello world!"',
        );
      });

      it('a msg.filename that does not exist reaches the Catch node with its path, and sends nothing', async function () {
        const { verify, passed, failed, caught } = await verifyFlow(DEVICE_ROLE);
        const statuses = recordStatuses(verify.id);
        const missing = join(dir, 'missing.bin');
        helper.getNode(verify.id).receive({ filename: missing, notice: MCU_NOTICE });
        const error = (await caught.next()).error as { message: string; source: { id: string } };
        should(error.source.id).equal(verify.id);
        should(error.message).containEql(missing);
        should(statuses.some((s) => s.fill === 'red' && s.shape === 'ring')).be.true();
        await assertNothingSent([passed, failed]);
      });
      // gets "Error: ENOENT: no such file or directory, open '…'" without naming msg.filename or the
      // rule, unlike every other refusal (docs/node-contracts.md: "a message naming the field, the rule
      // and what came").
      it('a msg.filename that does not exist is refused naming msg.filename', async function () {
        const { verify, caught } = await verifyFlow(DEVICE_ROLE);
        const missing = join(dir, 'missing.bin');
        helper.getNode(verify.id).receive({ filename: missing, notice: MCU_NOTICE });
        const error = (await caught.next()).error as { message: string };
        should(error.message).match(/msg\.filename/);
        should(error.message).containEql(missing);
      });

      for (const bad of ['/', '+', '#']) {
        it(`a msg.deviceName containing "${bad}" never reaches a topic`, async function () {
          await refuse(
            DEVICE_ROLE,
            { payload: Buffer.from('HELLO WORLD!'), notice: MCU_NOTICE, deviceName: `dev${bad}` },
            `msg.deviceName must be one MQTT topic level (no "/", "+", "#" or NUL; found "${bad}"), got "dev${bad}"`,
          );
        });
      }

      it('an empty msg.deviceName with no device name on the node is refused', async function () {
        await refuse(
          { role: 'device', productKey: 'pk1' },
          { payload: EXAMPLE_PACKAGE.bytes, notice: MCU_NOTICE, deviceName: '' },
          'msg.deviceName is required: set on the node or in msg.deviceName',
        );
      });
    });
  });

  describe('platform role', function () {
    it('a package in a Buffer becomes a firmware descriptor with its size and digests', async function () {
      const { verify, passed, failed } = await verifyFlow({ role: 'platform', version: '1.0.1', module: 'MCU' });
      helper.getNode(verify.id).receive({ payload: EXAMPLE_PACKAGE.bytes });
      const msg = await passed.next();
      should(msg.payload).eql({
        version: '1.0.1',
        module: 'MCU',
        size: 12,
        md5: EXAMPLE_PACKAGE.md5,
        sha256: EXAMPLE_PACKAGE.sha256,
        signMethod: 'Md5',
        sign: EXAMPLE_PACKAGE.md5,
      });
      await assertNothingSent([failed]);
    });

    it("msg.version and msg.module override the node's, and a file in msg.filename is read", async function () {
      const file = join(dir, 'firmware.bin');
      await writeFile(file, EXAMPLE_PACKAGE.bytes);
      const { verify, passed } = await verifyFlow({ role: 'platform', version: '1.0.0' });
      helper.getNode(verify.id).receive({ filename: file, version: '2.0.0', module: 'resource' });
      const msg = await passed.next();
      should(msg.payload).eql({
        version: '2.0.0',
        module: 'resource',
        size: 12,
        md5: EXAMPLE_PACKAGE.md5,
        sha256: EXAMPLE_PACKAGE.sha256,
        signMethod: 'Md5',
        sign: EXAMPLE_PACKAGE.md5,
      });
    });

    it('is the default role', async function () {
      const { verify, passed } = await verifyFlow({ version: '1.0.1' });
      helper.getNode(verify.id).receive({ payload: EXAMPLE_PACKAGE.bytes });
      const msg = await passed.next();
      should(msg.payload).eql({
        version: '1.0.1',
        module: 'default',
        size: 12,
        md5: EXAMPLE_PACKAGE.md5,
        sha256: EXAMPLE_PACKAGE.sha256,
        signMethod: 'Md5',
        sign: EXAMPLE_PACKAGE.md5,
      });
    });

    describe('refusals', function () {
      it('a package without a version is refused', async function () {
        const { verify, passed, failed, caught } = await verifyFlow({ role: 'platform' });
        const statuses = recordStatuses(verify.id);
        helper.getNode(verify.id).receive({ payload: EXAMPLE_PACKAGE.bytes });
        const message = 'msg.version is required: a non-empty string of up to 64 printable characters';
        assertRefusal(await caught.next(), { id: verify.id, type: 'ota-verify' }, message);
        assertRedRing(statuses, message);
        await assertNothingSent([passed, failed]);
      });

      it('a message without a package is refused', async function () {
        const { verify, passed, failed, caught } = await verifyFlow({ role: 'platform', version: '1.0.1' });
        const statuses = recordStatuses(verify.id);
        helper.getNode(verify.id).receive({ payload: 'firmware.bin' });
        const message = 'msg.payload must be the package as a Buffer (or its path in msg.filename), got "firmware.bin"';
        assertRefusal(await caught.next(), { id: verify.id, type: 'ota-verify' }, message);
        assertRedRing(statuses, message);
        await assertNothingSent([passed, failed]);
      });
    });
  });
});

/** Size and digests of a package, computed here independently of the codec. */
function digestsOf(text: string) {
  const bytes = Buffer.from(text);
  return {
    size: bytes.length,
    md5: createHash('md5').update(bytes).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}
