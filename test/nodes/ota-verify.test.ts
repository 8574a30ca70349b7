import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { catchAll, catchNodeModule } from '../helpers/core-nodes';
import { FlowNode, node, onTab, probe } from '../helpers/flow';
import { assertNothingSent, assertRedRing, assertRefusal, Inbox, inboxes, recordStatuses } from '../helpers/red';
import { EXAMPLE_PACKAGE, LINK_SDK_4, sdkVector } from '../helpers/sdk-vectors';

const verifyNode = require('../../../nodes/ota-verify.js');

helper.init(require.resolve('node-red'));

/** An ota-verify with a probe on each output and a Catch node on the same tab. */
async function verifyFlow(props: Record<string, unknown>): Promise<{ verify: FlowNode; passed: Inbox; failed: Inbox; caught: Inbox }> {
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
  return { version: '1.0.1', module, size: EXAMPLE_PACKAGE.size, md5: EXAMPLE_PACKAGE.md5, sha256: EXAMPLE_PACKAGE.sha256 };
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
      should(msg.verification).eql({ ok: false, reason, version: '1.0.1', module: 'MCU', ...digestsOf('hello world!!') });
      await assertNothingSent([passed]);
    });

    it('a package with the right size and another digest fails on output 2 with the reason and a ready T3 -3', async function () {
      const { verify, passed, failed } = await verifyFlow(DEVICE_ROLE);
      helper.getNode(verify.id).receive({ payload: Buffer.from('HELLO WORLD!'), notice: MCU_NOTICE, productKey: 'pk2', deviceName: 'dev2' });
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

    describe('refusals', function () {
      async function refuse(props: Record<string, unknown>, msg: Record<string, unknown>, message: string | RegExp): Promise<void> {
        const { verify, passed, failed, caught } = await verifyFlow(props);
        const statuses = recordStatuses(verify.id);
        helper.getNode(verify.id).receive(msg);
        const error = await caught.next();
        assertRefusal(error, { id: verify.id, type: 'ota-verify' }, message);
        assertRedRing(statuses, String((error.error as { message: string }).message).replace(/^ProtocolError: /, ''));
        await assertNothingSent([passed, failed]);
      }

      it('a package without its notice is refused', async function () {
        await refuse(DEVICE_ROLE, { payload: EXAMPLE_PACKAGE.bytes }, 'msg.notice must be a JSON object (as a string, a Buffer or a parsed object), got nothing');
      });

      it('a T5 saying nothing is pending is refused as a notice', async function () {
        await refuse(
          DEVICE_ROLE,
          { payload: EXAMPLE_PACKAGE.bytes, notice: '{"id":18,"code":200,"data":{}}' },
          'msg.notice must be a notice with firmware (this T5 says nothing is pending), got "{\\"id\\":18,\\"code\\":200,\\"data\\":{}}"',
        );
      });

      it('a notice that is not a T2 is refused', async function () {
        await refuse(DEVICE_ROLE, { payload: EXAMPLE_PACKAGE.bytes, notice: '{"code":"2000","data":{}}' }, 'msg.notice.code must be "1000" (T2) or 200 (T5), got "2000"');
      });

      it('an empty package is refused', async function () {
        await refuse(DEVICE_ROLE, { payload: Buffer.alloc(0), notice: MCU_NOTICE }, 'msg.payload must be a non-empty package, got a Buffer of 0 bytes');
      });

      it('a message with neither a Buffer nor msg.filename is refused', async function () {
        await refuse(DEVICE_ROLE, { payload: 'hello world!', notice: MCU_NOTICE }, 'msg.payload must be the package as a Buffer (or its path in msg.filename), got "hello world!"');
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

    it('msg.version and msg.module override the node\'s, and a file in msg.filename is read', async function () {
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
