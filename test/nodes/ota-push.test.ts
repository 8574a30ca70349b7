import helper from 'node-red-node-test-helper';
import should from 'should';
import { catchAll, catchNodeModule } from '../helpers/core-nodes';
import { FlowNode, node, onTab, probe } from '../helpers/flow';
import {
  assertNothingSent,
  assertRedRing,
  assertRefusal,
  delay,
  Inbox,
  inboxes,
  Msg,
  recordStatuses,
} from '../helpers/red';
import { EXAMPLE_PACKAGE, LINK_SDK_4, sdkVector } from '../helpers/sdk-vectors';

const pushNode = require('../../../nodes/ota-push.js');

helper.init(require.resolve('node-red'));

/** An ota-push with a probe on each output and a Catch node on the same tab. */
async function pushFlow(
  props: Record<string, unknown> = { allowUnverified: true },
): Promise<{ push: FlowNode; notices: Inbox; events: Inbox; caught: Inbox }> {
  const out1 = probe();
  const out2 = probe();
  const errors = probe();
  // Without a fleet nothing is verified: direct pushes need the node's explicit permission.
  const push = node('ota-push', props, [[out1.id], [out2.id]]);
  await helper.load([pushNode, catchNodeModule], onTab(push, out1, out2, catchAll(errors), errors));
  const [notices, events, caught] = inboxes(out1.id, out2.id, errors.id);
  return { push, notices, events, caught };
}

const URL = 'https://ota.example.com/fw/MCU-1.0.1.bin?Expires=1700000000&Signature=abc123';

/** The firmware of the Link SDK 4 T2 vector in sdk-shapes.json, as a user writes it. */
const MCU_FIRMWARE = {
  version: '1.0.1',
  url: URL,
  size: EXAMPLE_PACKAGE.size,
  signMethod: 'Md5',
  sign: EXAMPLE_PACKAGE.md5,
  module: 'MCU',
  extData: { info: 'batch-7' },
};

/** The id a T2 carries. */
function noticeId(msg: Msg): number {
  return (JSON.parse(String(msg.payload)) as { id: number }).id;
}

/** The T2 the default-module firmware of `version` gives, with the notice's id. */
function defaultModuleNotice(version: string, id: number): string {
  return (
    `{"code":"1000","data":{"size":12,"version":"${version}","url":"${URL}","signMethod":"Md5",` +
    `"sign":"${EXAMPLE_PACKAGE.md5}","md5":"${EXAMPLE_PACKAGE.md5}"},"id":${id},"message":"success"}`
  );
}

describe('ota-push', function () {
  before(function (done) {
    helper.startServer(done);
  });
  after(function (done) {
    helper.stopServer(done);
  });
  afterEach(function () {
    return helper.unload();
  });

  describe('direct push', function () {
    it('a descriptor and one device give exactly the T2 that Link SDK 4 accepts, at QoS 1', async function () {
      const vector = sdkVector(LINK_SDK_4, 'upgrade', { accepted: true });
      const { push, notices, events } = await pushFlow();
      const before = Date.now();
      helper.getNode(push.id).receive({ payload: MCU_FIRMWARE, productKey: 'a1B2c3D4e5F', deviceName: 'dev-001' });
      const msg = await notices.next();
      const id = noticeId(msg);
      should(id).be.within(before, Date.now());
      should({
        topic: msg.topic,
        payload: msg.payload,
        qos: msg.qos,
        productKey: msg.productKey,
        deviceName: msg.deviceName,
      }).eql({
        topic: '/ota/device/upgrade/a1B2c3D4e5F/dev-001',
        payload: vector.payload.replace('"id":1617773607348', `"id":${id}`),
        qos: 1,
        productKey: 'a1B2c3D4e5F',
        deviceName: 'dev-001',
      });
      await assertNothingSent([events]);
    });

    it('a descriptor with only md5 is sent as an Md5 notice of the default module', async function () {
      const { push, notices } = await pushFlow();
      helper.getNode(push.id).receive({
        payload: { version: '1.0.2', url: URL, size: 12, md5: EXAMPLE_PACKAGE.md5 },
        productKey: 'pk1',
        deviceName: 'dev1',
      });
      const msg = await notices.next();
      should(msg.payload).equal(defaultModuleNotice('1.0.2', noticeId(msg)));
    });

    it('a list of names with msg.productKey gives one T2 per device, each with its own id', async function () {
      const { push, notices, events } = await pushFlow();
      const firmware = { version: '1.0.2', url: URL, size: 12, md5: EXAMPLE_PACKAGE.md5 };
      helper.getNode(push.id).receive({ payload: firmware, productKey: 'pk1', devices: ['dev1', 'dev2', 'dev3'] });
      const sent = [await notices.next(), await notices.next(), await notices.next()];
      should(sent.map((m) => [m.topic, m.productKey, m.deviceName, m.qos])).eql([
        ['/ota/device/upgrade/pk1/dev1', 'pk1', 'dev1', 1],
        ['/ota/device/upgrade/pk1/dev2', 'pk1', 'dev2', 1],
        ['/ota/device/upgrade/pk1/dev3', 'pk1', 'dev3', 1],
      ]);
      const ids = sent.map(noticeId);
      should(new Set(ids).size).equal(3);
      for (const m of sent) should(m.payload).equal(defaultModuleNotice('1.0.2', noticeId(m)));
      should(new Set(sent.map((m) => m._msgid)).size).equal(3);
      await assertNothingSent([events]);
      should(notices.messages).have.length(3);
    });

    it('msg.devices is not copied into the notices', async function () {
      const { push, notices } = await pushFlow();
      helper
        .getNode(push.id)
        .receive({ payload: MCU_FIRMWARE, productKey: 'pk1', devices: ['dev1', 'dev2'], batchNote: 'kept' });
      const sent = [await notices.next(), await notices.next()];
      for (const m of sent) {
        should(m).not.have.property('devices');
        should(m.batchNote).equal('kept');
      }
    });

    it('a list of {productKey, deviceName} objects reaches devices of several products', async function () {
      const { push, notices } = await pushFlow();
      helper.getNode(push.id).receive({
        payload: MCU_FIRMWARE,
        devices: [
          { productKey: 'pkA', deviceName: 'dev1' },
          { productKey: 'pkB', deviceName: 'dev1' },
        ],
      });
      const sent = [await notices.next(), await notices.next()];
      should(sent.map((m) => m.topic)).eql(['/ota/device/upgrade/pkA/dev1', '/ota/device/upgrade/pkB/dev1']);
      should(noticeId(sent[0])).not.equal(noticeId(sent[1]));
    });

    it('a device listed twice is pushed once', async function () {
      const { push, notices } = await pushFlow();
      helper.getNode(push.id).receive({ payload: MCU_FIRMWARE, productKey: 'pk1', devices: ['dev1', 'dev1'] });
      await notices.next();
      await delay(50);
      should(notices.messages.map((m) => m.topic)).eql(['/ota/device/upgrade/pk1/dev1']);
    });

    it('two pushes in a row never reuse a notice id', async function () {
      const { push, notices } = await pushFlow();
      helper.getNode(push.id).receive({ payload: MCU_FIRMWARE, productKey: 'pk1', deviceName: 'dev1' });
      helper.getNode(push.id).receive({ payload: MCU_FIRMWARE, productKey: 'pk1', deviceName: 'dev1' });
      const first = noticeId(await notices.next());
      const second = noticeId(await notices.next());
      should(second).be.above(first);
    });
  });

  describe('the verification gate without a fleet', function () {
    it('by default a direct push is refused: without a fleet nothing is verified', async function () {
      const { push, notices, events, caught } = await pushFlow({});
      const statuses = recordStatuses(push.id);
      helper.getNode(push.id).receive({ payload: MCU_FIRMWARE, productKey: 'pk1', deviceName: 'dev1' });
      const error = await caught.next();
      const message =
        'a direct push without an ota-fleet cannot pass the verification gate: pick the fleet whose catalog holds the verified firmware, ' +
        'or turn on "allow unverified direct pushes" on this node';
      should(error.error).match({
        message: `FleetError: ${message}`,
        code: 'OTA_REFUSED',
        source: { id: push.id, type: 'ota-push' },
      });
      assertRedRing(statuses, message);
      await assertNothingSent([notices, events]);
    });

    it('with "allow unverified direct pushes" on, the status says so before and after a push', async function () {
      const { push, notices } = await pushFlow({ allowUnverified: true });
      const statuses = recordStatuses(push.id);
      helper.getNode(push.id).receive({ payload: MCU_FIRMWARE, productKey: 'pk1', deviceName: 'dev1' });
      await notices.next();
      await delay(600);
      should(statuses.map((s) => s.text)).containEql('unverified pushes allowed · 1 pushed');
      should(statuses.every((s) => s.fill === 'yellow')).be.true();
    });
  });

  describe('refusals', function () {
    async function refuse(msg: Record<string, unknown>, message: string | RegExp): Promise<void> {
      const { push, notices, events, caught } = await pushFlow();
      const statuses = recordStatuses(push.id);
      helper.getNode(push.id).receive(msg);
      const error = await caught.next();
      assertRefusal(error, { id: push.id, type: 'ota-push' }, message);
      assertRedRing(statuses, String((error.error as { message: string }).message).replace(/^ProtocolError: /, ''));
      await assertNothingSent([notices, events]);
    }

    it('a descriptor without a url is refused', async function () {
      const { url: _url, ...noUrl } = MCU_FIRMWARE;
      await refuse(
        { payload: noUrl, productKey: 'pk1', deviceName: 'dev1' },
        'msg.payload.url must be an http:// or https:// URL, got nothing',
      );
    });

    it('a signMethod other than Md5 or SHA256 is refused', async function () {
      await refuse(
        { payload: { ...MCU_FIRMWARE, signMethod: 'SHA1' }, productKey: 'pk1', deviceName: 'dev1' },
        'msg.payload.signMethod must be "Md5" or "SHA256", got "SHA1"',
      );
    });

    it('a sign that is not an MD5 digest is refused', async function () {
      await refuse(
        { payload: { ...MCU_FIRMWARE, sign: 'abc' }, productKey: 'pk1', deviceName: 'dev1' },
        'msg.payload.sign must be the 32-character hex MD5 digest of the package, got "abc"',
      );
    });

    it('a descriptor with no device is refused', async function () {
      await refuse(
        { payload: MCU_FIRMWARE, productKey: 'pk1' },
        'msg.deviceName is required: set, or a list in msg.devices',
      );
    });

    for (const bad of ['/', '+', '#']) {
      it(`a msg.deviceName containing "${bad}" never reaches a topic`, async function () {
        await refuse(
          { payload: MCU_FIRMWARE, productKey: 'pk1', deviceName: `dev${bad}` },
          `msg.deviceName must be one MQTT topic level (no "/", "+", "#" or NUL; found "${bad}"), got "dev${bad}"`,
        );
      });
    }

    it('an empty msg.deviceName never reaches a topic', async function () {
      await refuse(
        { payload: MCU_FIRMWARE, productKey: 'pk1', deviceName: '' },
        'msg.deviceName must be a non-empty string, got an empty string',
      );
    });

    it('one bad name in msg.devices refuses the whole list: no device is pushed', async function () {
      await refuse(
        { payload: MCU_FIRMWARE, productKey: 'pk1', devices: ['dev1', 'dev+'] },
        'msg.devices[1] must be one MQTT topic level (no "/", "+", "#" or NUL; found "+"), got "dev+"',
      );
    });

    it('a list of names without msg.productKey is refused', async function () {
      await refuse(
        { payload: MCU_FIRMWARE, devices: ['dev1'] },
        'msg.productKey (for msg.devices[0]) is required: a non-empty string of up to 64 characters',
      );
    });

    it('an empty msg.devices is refused', async function () {
      await refuse(
        { payload: MCU_FIRMWARE, productKey: 'pk1', devices: [] },
        'msg.devices must be an array of 1 to 100000 device names or {productKey, deviceName} objects, got an array of 0 items',
      );
    });
  });
});
