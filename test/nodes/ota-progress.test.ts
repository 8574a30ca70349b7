import helper from 'node-red-node-test-helper';
import should from 'should';
import { catchAll, catchNodeModule } from '../helpers/core-nodes';
import { FlowNode, node, onTab, probe } from '../helpers/flow';
import { assertNothingSent, assertRedRing, assertRefusal, Inbox, inboxes, recordStatuses } from '../helpers/red';
import { IOTKIT_2, IOTKIT_3, LINK_SDK_4, sdkVector } from '../helpers/sdk-vectors';

const progressNode = require('../../../nodes/ota-progress.js');

helper.init(require.resolve('node-red'));

/** An ota-progress wired to an output probe, with a Catch node on the same tab. */
async function progressFlow(
  props: Record<string, unknown>,
): Promise<{ progress: FlowNode; output: Inbox; caught: Inbox }> {
  const out = probe();
  const errors = probe();
  const progress = node('ota-progress', props, [[out.id]]);
  await helper.load([progressNode, catchNodeModule], onTab(progress, out, catchAll(errors), errors));
  const [output, caught] = inboxes(out.id, errors.id);
  return { progress, output, caught };
}

const DEVICE = { productKey: 'a1B2c3D4e5F', deviceName: 'dev-001' };

describe('ota-progress', function () {
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
    it('a Link SDK 4 T3 at step 0 is IN_PROGRESS, with no reason', async function () {
      const t3 = sdkVector(LINK_SDK_4, 'progress', { step: 0 });
      const { progress, output } = await progressFlow({ role: 'platform' });
      helper.getNode(progress.id).receive({ topic: t3.topic, payload: t3.payload });
      const msg = await output.next();
      should(msg.payload).eql({ ...DEVICE, module: 'default', step: 0, desc: '', state: 'IN_PROGRESS', id: 10 });
    });

    it('a T3 at step 100 is still IN_PROGRESS: only a T1 says the upgrade succeeded', async function () {
      const t3 = sdkVector(LINK_SDK_4, 'progress', { step: 100 });
      const { progress, output } = await progressFlow({});
      helper.getNode(progress.id).receive({ topic: t3.topic, payload: Buffer.from(t3.payload) });
      const msg = await output.next();
      should(msg.payload).eql({ ...DEVICE, module: 'default', step: 100, desc: '', state: 'IN_PROGRESS', id: 12 });
    });

    it('a T3 of a module names the module', async function () {
      const t3 = sdkVector(LINK_SDK_4, 'progress', { module: 'MCU' });
      const { progress, output } = await progressFlow({ role: 'platform' });
      helper.getNode(progress.id).receive({ topic: t3.topic, payload: t3.payload });
      const msg = await output.next();
      should(msg.payload).eql({
        ...DEVICE,
        module: 'MCU',
        step: -3,
        desc: '',
        state: 'FAILED',
        reason: 'step -3 (verification failed (digest or signature mismatch))',
        id: 17,
      });
    });

    const failures: Array<[number, string]> = [
      [-1, 'step -1 (upgrade failed)'],
      [-2, 'step -2 (download failed)'],
      [-3, 'step -3 (verification failed (digest or signature mismatch))'],
      [-4, 'step -4 (flash write (burn) failed)'],
    ];
    for (const [step, reason] of failures) {
      it(`a Link SDK 4 T3 at step ${step} is FAILED with the reason "${reason}"`, async function () {
        const t3 = sdkVector(LINK_SDK_4, 'progress', { step, module: 'default' });
        const { progress, output } = await progressFlow({ role: 'platform' });
        helper.getNode(progress.id).receive({ topic: t3.topic, payload: t3.payload });
        const msg = await output.next();
        should(msg.payload).eql({
          ...DEVICE,
          module: 'default',
          step,
          desc: '',
          state: 'FAILED',
          reason,
          id: t3.expect.id,
        });
      });
    }

    it("the device's description of a failure is part of the reason", async function () {
      const t3 = sdkVector(IOTKIT_3, 'progress', { step: -1 });
      const { progress, output } = await progressFlow({ role: 'platform' });
      helper.getNode(progress.id).receive({ topic: t3.topic, payload: t3.payload });
      const msg = await output.next();
      should(msg.payload).eql({
        ...DEVICE,
        module: 'default',
        step: -1,
        desc: 'upgrade failed',
        state: 'FAILED',
        reason: 'step -1 (upgrade failed): upgrade failed',
        id: 0,
      });
    });

    it('a T3 without desc (iotkit 2.x) has an empty desc', async function () {
      const t3 = sdkVector(IOTKIT_2, 'progress', { step: 23 });
      const { progress, output } = await progressFlow({ role: 'platform' });
      helper.getNode(progress.id).receive({ topic: t3.topic, payload: t3.payload });
      const msg = await output.next();
      should(msg.payload).eql({ ...DEVICE, module: 'default', step: 23, desc: '', state: 'IN_PROGRESS', id: 0 });
    });

    it('a step sent as a number is read like a string one', async function () {
      const { progress, output } = await progressFlow({ role: 'platform' });
      helper
        .getNode(progress.id)
        .receive({ topic: '/ota/device/progress/pk1/dev1', payload: '{"params":{"step":-2,"desc":"timeout"}}' });
      const msg = await output.next();
      should(msg.payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        step: -2,
        desc: 'timeout',
        state: 'FAILED',
        reason: 'step -2 (download failed): timeout',
      });
    });

    describe('refusals', function () {
      async function refuse(topic: string, payload: unknown, message: string | RegExp): Promise<void> {
        const { progress, output, caught } = await progressFlow({ role: 'platform' });
        const statuses = recordStatuses(progress.id);
        helper.getNode(progress.id).receive({ topic, payload });
        const error = await caught.next();
        assertRefusal(error, { id: progress.id, type: 'ota-progress' }, message);
        assertRedRing(statuses, String((error.error as { message: string }).message).replace(/^ProtocolError: /, ''));
        await assertNothingSent([output]);
      }

      it('a step of -5 is refused', async function () {
        await refuse(
          '/ota/device/progress/pk1/dev1',
          '{"id":1,"params":{"step":"-5"}}',
          'params.step must be an integer from -4 to 100, got "-5"',
        );
      });

      it('a step of 101 is refused', async function () {
        await refuse(
          '/ota/device/progress/pk1/dev1',
          '{"id":1,"params":{"step":101}}',
          'params.step must be an integer from -4 to 100, got 101',
        );
      });

      it('a step that is not an integer is refused', async function () {
        await refuse(
          '/ota/device/progress/pk1/dev1',
          '{"id":1,"params":{"step":"12.5"}}',
          'params.step must be an integer from -4 to 100, got "12.5"',
        );
      });

      it('a T3 without a step is refused', async function () {
        await refuse(
          '/ota/device/progress/pk1/dev1',
          '{"id":1,"params":{"desc":"x"}}',
          'params.step is required: an integer from -4 to 100',
        );
      });

      it('a T3 whose device name level is "+" is refused by its topic level', async function () {
        await refuse(
          '/ota/device/progress/pk1/+',
          '{"id":1,"params":{"step":"5"}}',
          'the deviceName level of msg.topic must be one MQTT topic level (no "/", "+", "#" or NUL; found "+"), got "/ota/device/progress/pk1/+"',
        );
      });

      it('a T3 with an empty device name level is refused', async function () {
        await refuse(
          '/ota/device/progress/pk1/',
          '{"id":1,"params":{"step":"5"}}',
          'the deviceName level of msg.topic must be a non-empty string, got "/ota/device/progress/pk1/"',
        );
      });

      it('a T1 version report is refused: ota-progress takes T3 only', async function () {
        await refuse(
          '/ota/device/inform/pk1/dev1',
          '{"id":1,"params":{"version":"1.0.0"}}',
          'msg.topic must be T3 /ota/device/progress/${pk}/${dn}, got "/ota/device/inform/pk1/dev1"',
        );
      });
    });
  });

  describe('device role', function () {
    it("a step number becomes a T3 for the node's device, at QoS 1", async function () {
      const { progress, output } = await progressFlow({ role: 'device', productKey: 'pk1', deviceName: 'dev1' });
      helper.getNode(progress.id).receive({ payload: 50 });
      const msg = await output.next();
      should({ topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
        topic: '/ota/device/progress/pk1/dev1',
        payload: '{"id":1,"params":{"step":"50","desc":""}}',
        qos: 1,
      });
    });

    it('{step, desc, module} becomes a T3 failure report of that module', async function () {
      const { progress, output } = await progressFlow({ role: 'device', productKey: 'pk1', deviceName: 'dev1' });
      helper.getNode(progress.id).receive({ payload: { step: -2, desc: 'connection reset', module: 'MCU' } });
      const msg = await output.next();
      should(msg.payload).equal('{"id":1,"params":{"step":"-2","desc":"connection reset","module":"MCU"}}');
    });

    it("the node's module goes into the T3", async function () {
      const { progress, output } = await progressFlow({
        role: 'device',
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'MCU',
      });
      helper.getNode(progress.id).receive({ payload: '100' });
      const msg = await output.next();
      should(msg.payload).equal('{"id":1,"params":{"step":"100","desc":"","module":"MCU"}}');
    });

    it("msg.productKey and msg.deviceName override the node's device", async function () {
      const { progress, output } = await progressFlow({ role: 'device', productKey: 'pk1', deviceName: 'dev1' });
      helper.getNode(progress.id).receive({ payload: -4, productKey: 'pk2', deviceName: 'dev2' });
      const msg = await output.next();
      should({ topic: msg.topic, payload: msg.payload, qos: msg.qos }).eql({
        topic: '/ota/device/progress/pk2/dev2',
        payload: '{"id":1,"params":{"step":"-4","desc":""}}',
        qos: 1,
      });
    });

    describe('refusals', function () {
      async function refuse(
        props: Record<string, unknown>,
        msg: Record<string, unknown>,
        message: string,
      ): Promise<void> {
        const { progress, output, caught } = await progressFlow({ role: 'device', ...props });
        const statuses = recordStatuses(progress.id);
        helper.getNode(progress.id).receive(msg);
        assertRefusal(await caught.next(), { id: progress.id, type: 'ota-progress' }, message);
        assertRedRing(statuses, message);
        await assertNothingSent([output]);
      }

      for (const bad of ['/', '+', '#']) {
        it(`a msg.deviceName containing "${bad}" never reaches a topic`, async function () {
          await refuse(
            { productKey: 'pk1', deviceName: 'dev1' },
            { payload: 10, deviceName: `${bad}` },
            `msg.deviceName must be one MQTT topic level (no "/", "+", "#" or NUL; found "${bad}"), got "${bad}"`,
          );
        });
      }

      it('an empty msg.deviceName with no device name on the node is refused', async function () {
        await refuse(
          { productKey: 'pk1' },
          { payload: 10, deviceName: '' },
          'msg.deviceName is required: set on the node or in msg.deviceName',
        );
      });

      it('a step that is not a number is refused', async function () {
        await refuse(
          { productKey: 'pk1', deviceName: 'dev1' },
          { payload: 'abc' },
          'msg.payload must be an integer from -4 to 100, got "abc"',
        );
      });

      it('a step of 101 in {step} is refused', async function () {
        await refuse(
          { productKey: 'pk1', deviceName: 'dev1' },
          { payload: { step: 101 } },
          'msg.payload.step must be an integer from -4 to 100, got 101',
        );
      });

      it('a desc that is not text is refused', async function () {
        await refuse(
          { productKey: 'pk1', deviceName: 'dev1' },
          { payload: { step: -1, desc: 42 } },
          'msg.payload.desc must be a string, got 42',
        );
      });
    });
  });
});
