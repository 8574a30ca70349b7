import helper from 'node-red-node-test-helper';
import should from 'should';
import { catchAll, catchNodeModule } from '../helpers/core-nodes';
import { FlowNode, node, onTab, probe } from '../helpers/flow';
import { assertNothingSent, assertRedRing, assertRefusal, Inbox, inboxes, recordStatuses } from '../helpers/red';
import { IOTKIT_3, LINK_SDK_4, sdkVector } from '../helpers/sdk-vectors';

const informNode = require('../../../nodes/ota-inform.js');

helper.init(require.resolve('node-red'));

/** An ota-inform wired to an output probe, with a Catch node on the same tab. */
async function informFlow(props: Record<string, unknown>): Promise<{ inform: FlowNode; output: Inbox; caught: Inbox }> {
  const out = probe();
  const errors = probe();
  const inform = node('ota-inform', props, [[out.id]]);
  await helper.load([informNode, catchNodeModule], onTab(inform, out, catchAll(errors), errors));
  const [output, caught] = inboxes(out.id, errors.id);
  return { inform, output, caught };
}

describe('ota-inform', function () {
  before(function (done) {
    helper.startServer(done);
  });
  after(function (done) {
    helper.stopServer(done);
  });
  afterEach(function () {
    return helper.unload();
  });

  describe('platform role', function () {
    it('a T1 becomes a version event', async function () {
      const { inform, output } = await informFlow({ role: 'platform' });
      helper
        .getNode(inform.id)
        .receive({ topic: '/ota/device/inform/pk1/dev1', payload: '{"id":1,"params":{"version":"1.0.0"}}' });
      const msg = await output.next();
      should(msg.payload).eql({ productKey: 'pk1', deviceName: 'dev1', module: 'default', version: '1.0.0', id: 1 });
    });

    it('is the default role', async function () {
      const { inform, output } = await informFlow({});
      helper
        .getNode(inform.id)
        .receive({ topic: '/ota/device/inform/pk1/dev1', payload: '{"params":{"version":"2.0"}}' });
      const msg = await output.next();
      should(msg.payload).eql({ productKey: 'pk1', deviceName: 'dev1', module: 'default', version: '2.0' });
    });

    it('a Link SDK 4 T1 with a module, as a Buffer from mqtt in, names the module', async function () {
      const t1 = sdkVector(LINK_SDK_4, 'inform', { module: 'MCU' });
      const { inform, output } = await informFlow({ role: 'platform' });
      helper.getNode(inform.id).receive({ topic: t1.topic, payload: Buffer.from(t1.payload) });
      const msg = await output.next();
      should(msg.payload).eql({
        productKey: 'a1B2c3D4e5F',
        deviceName: 'dev-001',
        module: 'MCU',
        version: '1.0.1',
        id: 2,
      });
    });

    it('a T1 already parsed by mqtt in (auto-detect) is read the same way', async function () {
      const { inform, output } = await informFlow({ role: 'platform' });
      helper
        .getNode(inform.id)
        .receive({ topic: '/ota/device/inform/pk1/dev1', payload: { id: '123', params: { version: '1-45-345a' } } });
      const msg = await output.next();
      should(msg.payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        version: '1-45-345a',
        id: '123',
      });
    });

    it('a T1 without an id gives an event without an id', async function () {
      const { inform, output } = await informFlow({ role: 'platform' });
      helper.getNode(inform.id).receive({
        topic: '/ota/device/inform/pk1/dev1',
        payload: '{"params":{"version":"1.0.0","module":"default"}}',
      });
      const msg = await output.next();
      should(msg.payload).eql({ productKey: 'pk1', deviceName: 'dev1', module: 'default', version: '1.0.0' });
    });

    it('a Link SDK 4 T4 becomes a query event', async function () {
      const t4 = sdkVector(LINK_SDK_4, 'firmwareGet', { module: 'MCU' });
      const { inform, output } = await informFlow({ role: 'platform' });
      helper.getNode(inform.id).receive({ topic: t4.topic, payload: t4.payload });
      const msg = await output.next();
      should(msg.payload).eql({ productKey: 'a1B2c3D4e5F', deviceName: 'dev-001', module: 'MCU', query: true, id: 20 });
    });

    it('a T4 in the full documented form becomes a query event', async function () {
      const { inform, output } = await informFlow({ role: 'platform' });
      helper.getNode(inform.id).receive({
        topic: '/sys/pk1/dev1/thing/ota/firmware/get',
        payload: '{"id":"123","version":"1.0","params":{"module":"MCU"},"method":"thing.ota.firmware.get"}',
      });
      const msg = await output.next();
      should(msg.payload).eql({ productKey: 'pk1', deviceName: 'dev1', module: 'MCU', query: true, id: '123' });
    });

    it('a Link SDK 4 T6 with its trailing comma becomes a download event', async function () {
      const t6 = sdkVector(LINK_SDK_4, 'fileDownload', { size: 5120 });
      const { inform, output } = await informFlow({ role: 'platform' });
      helper.getNode(inform.id).receive({ topic: t6.topic, payload: t6.payload });
      const msg = await output.next();
      should(msg.payload).eql({
        productKey: 'a1B2c3D4e5F',
        deviceName: 'dev-001',
        download: { streamId: 1234567, fileId: 1, offset: 0, size: 5120, fileToken: 'default' },
        id: '1',
      });
    });
    // so a T8 on /ota/device/request/${pk}/${dn} is refused ("msg.topic must be T1 … or T4 … or T6 …").
    it('an iotkit 3.x T8 request becomes a version query event', async function () {
      const t8 = sdkVector(IOTKIT_3, 'firmwareGet', { version: '1.0.0' });
      const { inform, output, caught } = await informFlow({ role: 'platform' });
      helper.getNode(inform.id).receive({ topic: t8.topic, payload: t8.payload });
      const msg = await output.next();
      should(msg.payload).eql({
        productKey: 'a1B2c3D4e5F',
        deviceName: 'dev-001',
        module: 'default',
        version: '1.0.0',
        query: true,
        id: 0,
      });
      should(caught.messages).eql([]);
    });
    // is refused with an error instead of being dropped in silence.
    it('the echo of our own T8 answer is dropped without an output or an error', async function () {
      const answer = sdkVector(IOTKIT_3, 'firmwareGetReply');
      const { inform, output, caught } = await informFlow({ role: 'platform' });
      helper.getNode(inform.id).receive({ topic: answer.topic, payload: answer.payload });
      await assertNothingSent([output, caught]);
    });

    describe('refusals', function () {
      async function refuse(topic: string, payload: unknown, message: string | RegExp): Promise<void> {
        const { inform, output, caught } = await informFlow({ role: 'platform' });
        const statuses = recordStatuses(inform.id);
        helper.getNode(inform.id).receive({ topic, payload });
        const error = await caught.next();
        assertRefusal(error, { id: inform.id, type: 'ota-inform' }, message);
        assertRedRing(statuses, String((error.error as { message: string }).message).replace(/^ProtocolError: /, ''));
        await assertNothingSent([output]);
      }

      it('a T1 whose device name level is "+" is refused by its topic level', async function () {
        await refuse(
          '/ota/device/inform/pk1/+',
          '{"id":1,"params":{"version":"1.0.0"}}',
          'the deviceName level of msg.topic must be one MQTT topic level (no "/", "+", "#" or NUL; found "+"), got "/ota/device/inform/pk1/+"',
        );
      });

      it('a T1 whose device name level is "#" is refused by its topic level', async function () {
        await refuse(
          '/ota/device/inform/pk1/#',
          '{"id":1,"params":{"version":"1.0.0"}}',
          'the deviceName level of msg.topic must be one MQTT topic level (no "/", "+", "#" or NUL; found "#"), got "/ota/device/inform/pk1/#"',
        );
      });

      it('a T1 with an empty product key level is refused', async function () {
        await refuse(
          '/ota/device/inform//dev1',
          '{"id":1,"params":{"version":"1.0.0"}}',
          'the productKey level of msg.topic must be a non-empty string, got "/ota/device/inform//dev1"',
        );
      });

      it('a device name containing "/" splits the topic and is refused as not an accepted topic', async function () {
        await refuse(
          '/ota/device/inform/pk1/dev/1',
          '{"id":1,"params":{"version":"1.0.0"}}',
          /^ProtocolError: msg\.topic must be one of the OTA topics/,
        );
      });

      it('a T3 progress report is refused: ota-inform takes T1, T4 and T6', async function () {
        await refuse(
          '/ota/device/progress/pk1/dev1',
          '{"id":1,"params":{"step":"5"}}',
          /^ProtocolError: msg\.topic must be T1 \/ota\/device\/inform\/\$\{pk\}\/\$\{dn\} or T4 .* or T6 .*, got "\/ota\/device\/progress\/pk1\/dev1"$/,
        );
      });

      it('a payload that is not JSON is refused', async function () {
        await refuse(
          '/ota/device/inform/pk1/dev1',
          'version 1.0.0',
          'msg.payload must be valid JSON, got "version 1.0.0"',
        );
      });

      it('a T1 without params.version is refused', async function () {
        await refuse(
          '/ota/device/inform/pk1/dev1',
          '{"id":1,"params":{}}',
          'params.version is required: a non-empty string of up to 64 printable characters',
        );
      });

      it('a T1 whose version has a control character is refused', async function () {
        await refuse(
          '/ota/device/inform/pk1/dev1',
          '{"id":1,"params":{"version":"1.0\\u0000"}}',
          'params.version must be printable text (no control characters), got "1.0\\u0000"',
        );
      });
    });
  });

  describe('device role', function () {
    it("a version string becomes a T1 for the node's device, at QoS 1", async function () {
      const { inform, output } = await informFlow({ role: 'device', productKey: 'pk1', deviceName: 'dev1' });
      helper.getNode(inform.id).receive({ payload: '1.0.1' });
      const msg = await output.next();
      should({ topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
        topic: '/ota/device/inform/pk1/dev1',
        payload: '{"id":1,"params":{"version":"1.0.1"}}',
        qos: 1,
      });
    });

    it("the node's module goes into the T1", async function () {
      const { inform, output } = await informFlow({
        role: 'device',
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'MCU',
      });
      helper.getNode(inform.id).receive({ payload: '1.0.1' });
      const msg = await output.next();
      should(msg.payload).equal('{"id":1,"params":{"version":"1.0.1","module":"MCU"}}');
    });

    it('{version, module} in msg.payload sets the module of this report', async function () {
      const { inform, output } = await informFlow({
        role: 'device',
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'MCU',
      });
      helper.getNode(inform.id).receive({ payload: { version: 'res-1.2.5', module: 'resource' } });
      const msg = await output.next();
      should(msg.payload).equal('{"id":1,"params":{"version":"res-1.2.5","module":"resource"}}');
    });

    it("msg.productKey and msg.deviceName override the node's device", async function () {
      const { inform, output } = await informFlow({ role: 'device', productKey: 'pk1', deviceName: 'dev1' });
      helper.getNode(inform.id).receive({ payload: '1.0.1', productKey: 'pk2', deviceName: 'dev2' });
      const msg = await output.next();
      should({ topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
        topic: '/ota/device/inform/pk2/dev2',
        payload: '{"id":1,"params":{"version":"1.0.1"}}',
        qos: 1,
      });
    });

    describe('refusals', function () {
      async function refuse(
        props: Record<string, unknown>,
        msg: Record<string, unknown>,
        message: string,
      ): Promise<void> {
        const { inform, output, caught } = await informFlow({ role: 'device', ...props });
        const statuses = recordStatuses(inform.id);
        helper.getNode(inform.id).receive(msg);
        assertRefusal(await caught.next(), { id: inform.id, type: 'ota-inform' }, message);
        assertRedRing(statuses, message);
        await assertNothingSent([output]);
      }

      for (const bad of ['/', '+', '#']) {
        it(`a msg.deviceName containing "${bad}" never reaches a topic`, async function () {
          await refuse(
            { productKey: 'pk1', deviceName: 'dev1' },
            { payload: '1.0.1', deviceName: `dev${bad}1` },
            `msg.deviceName must be one MQTT topic level (no "/", "+", "#" or NUL; found "${bad}"), got "dev${bad}1"`,
          );
        });
      }

      it('a msg.productKey containing "+" never reaches a topic', async function () {
        await refuse(
          { productKey: 'pk1', deviceName: 'dev1' },
          { payload: '1.0.1', productKey: '+' },
          'msg.productKey must be one MQTT topic level (no "/", "+", "#" or NUL; found "+"), got "+"',
        );
      });

      it('an empty msg.deviceName with no device name on the node is refused', async function () {
        await refuse(
          { productKey: 'pk1' },
          { payload: '1.0.1', deviceName: '' },
          'msg.deviceName is required: set on the node or in msg.deviceName',
        );
      });

      it('a device name on the node containing "#" never reaches a topic', async function () {
        await refuse(
          { productKey: 'pk1', deviceName: 'dev#' },
          { payload: '1.0.1' },
          'the node\'s deviceName must be one MQTT topic level (no "/", "+", "#" or NUL; found "#"), got "dev#"',
        );
      });

      it('a number in msg.payload is refused', async function () {
        await refuse(
          { productKey: 'pk1', deviceName: 'dev1' },
          { payload: 101 },
          'msg.payload must be a version string or {version, module}, got 101',
        );
      });

      it('an empty version is refused', async function () {
        await refuse(
          { productKey: 'pk1', deviceName: 'dev1' },
          { payload: { version: '' } },
          'msg.payload.version must be a non-empty string, got an empty string',
        );
      });
    });
  });
});
