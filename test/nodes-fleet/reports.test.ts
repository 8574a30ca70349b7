/**
 * ota-inform and ota-progress (platform role) bound to a fleet: reports fill the inventory, move
 * the device's task, and queries are answered through the fleet's ota-push.
 */
import { createHash } from 'node:crypto';
import helper from 'node-red-node-test-helper';
import should from 'should';
import {
  Deployed,
  deploy,
  feed,
  FleetSuite,
  fleetSuite,
  noticeOf,
  platformFlow,
  reportVersions,
  t1,
  t3,
  t4,
  t8,
} from '../helpers/fleet-red';
import { parseBlockReply } from '../../src/protocol';
import { assertNothingSent, Msg } from '../helpers/red';

helper.init(require.resolve('node-red'));

const PACKAGE = Buffer.from('firmware 2.0.0 for pk1');

/**
 * A fleet that needs no verification, dev1 and dev2 at 1.0.0, and a static batch to 2.0.0 that
 * notified both (or only dev1, with a push rate of one a minute).
 */
async function runningBatch(
  suite: FleetSuite,
  strategy: Record<string, unknown> = {},
): Promise<{ d: Deployed; batchId: number; firmwareId: string; notice: Msg }> {
  const d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
  await reportVersions(d, 'pk1', ['dev1', 'dev2'], '1.0.0');
  const upload = await helper
    .request()
    .post(`/ota/fleets/${d.platform.fleet.id}/firmware?productKey=pk1&version=2.0.0`)
    .set('Content-Type', 'application/octet-stream')
    .send(PACKAGE)
    .expect(201);
  feed(d.platform.push!, {
    _msgid: 'b',
    payload: { firmwareId: upload.body.id, type: 'static', targets: { selection: 'ALL' }, strategy },
  });
  const first = await d.sent.next();
  if (!strategy.maximumPerMinute) await d.sent.next();
  return { d, batchId: first.batchId as number, firmwareId: upload.body.id, notice: first };
}

/** The parts of an ota-push output message that a device and `mqtt out` see. */
function wire(msg: Msg) {
  return {
    topic: msg.topic,
    qos: msg.qos,
    productKey: msg.productKey,
    deviceName: msg.deviceName,
    batchId: msg.batchId,
  };
}

describe('ota-inform and ota-progress with a fleet', function () {
  const suite = fleetSuite('reports');

  describe('the inventory', function () {
    it('T1 reports fill the device list and the version distribution of the admin API', async function () {
      const d = await deploy(platformFlow(suite));
      const start = Date.now();
      await reportVersions(d, 'pk1', ['dev1', 'dev2'], '1.0.0');
      await reportVersions(d, 'pk1', ['dev3'], '1.1.0');
      feed(d.platform.inform, t1('pk2', 'dev1', '7', 'MCU'));
      await d.informed.next();
      const end = Date.now();

      const devices = (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/devices`).expect(200))
        .body as Record<string, unknown>[];
      for (const device of devices) {
        should(device.lastSeen).be.within(start, end);
        should(device.firstSeen).equal(device.lastSeen);
      }
      should(devices.map(({ firstSeen: _f, lastSeen: _l, ...rest }) => rest)).eql([
        { productKey: 'pk1', deviceName: 'dev1', module: 'default', version: '1.0.0' },
        { productKey: 'pk1', deviceName: 'dev2', module: 'default', version: '1.0.0' },
        { productKey: 'pk1', deviceName: 'dev3', module: 'default', version: '1.1.0' },
        { productKey: 'pk2', deviceName: 'dev1', module: 'MCU', version: '7' },
      ]);

      const versions = (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/versions`).expect(200)).body;
      should(versions).eql([
        { productKey: 'pk1', module: 'default', version: '1.0.0', count: 2 },
        { productKey: 'pk1', module: 'default', version: '1.1.0', count: 1 },
        { productKey: 'pk2', module: 'MCU', version: '7', count: 1 },
      ]);
    });

    it('a new version replaces the old one in the inventory', async function () {
      const d = await deploy(platformFlow(suite));
      await reportVersions(d, 'pk1', ['dev1'], '1.0.0');
      await reportVersions(d, 'pk1', ['dev1'], '1.0.1');
      const versions = (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/versions`).expect(200)).body;
      should(versions).eql([{ productKey: 'pk1', module: 'default', version: '1.0.1', count: 1 }]);
    });

    it('a report from a device with no task gives the plain event, without batchId or state', async function () {
      const d = await deploy(platformFlow(suite));
      feed(d.platform.inform, t1('pk1', 'dev1', '1.0.0'));
      should((await d.informed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        version: '1.0.0',
        id: 1,
      });
      feed(d.platform.progress, t3('pk1', 'dev1', 30));
      should((await d.progressed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        step: 30,
        desc: '',
        state: 'IN_PROGRESS',
        id: 2,
      });
    });
  });

  describe('events of a device in a batch', function () {
    it('a T3 step moves the task to IN_PROGRESS and the event says so with the batch', async function () {
      const { d, batchId } = await runningBatch(suite);
      feed(d.platform.progress, t3('pk1', 'dev1', 40, 'downloading'));
      should((await d.progressed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        step: 40,
        desc: 'downloading',
        state: 'IN_PROGRESS',
        id: 2,
        batchId,
      });
    });

    it('a T1 with the destination version completes the task: state SUCCEEDED', async function () {
      const { d, batchId } = await runningBatch(suite);
      feed(d.platform.progress, t3('pk1', 'dev1', 100));
      await d.progressed.next();
      feed(d.platform.inform, t1('pk1', 'dev1', '2.0.0'));
      should((await d.informed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        version: '2.0.0',
        id: 1,
        batchId,
        state: 'SUCCEEDED',
      });
      const tasks = (
        await helper
          .request()
          .get(`/ota/fleets/${d.platform.fleet.id}/batches/${batchId}/tasks?state=SUCCEEDED`)
          .expect(200)
      ).body;
      should(tasks.map((t: { deviceName: string; step: number }) => [t.deviceName, t.step])).eql([['dev1', 100]]);
    });

    it('a T3 failure step fails the task: state FAILED with the readable reason', async function () {
      const { d, batchId } = await runningBatch(suite);
      feed(d.platform.progress, t3('pk1', 'dev2', -2, 'connection reset'));
      should((await d.progressed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev2',
        module: 'default',
        step: -2,
        desc: 'connection reset',
        state: 'FAILED',
        reason: 'step -2 (download failed): connection reset',
        id: 2,
        batchId,
      });
    });

    it('a T1 with neither the source nor the destination version fails the task with a version mismatch', async function () {
      const { d, batchId } = await runningBatch(suite);
      feed(d.platform.inform, t1('pk1', 'dev1', '1.5.0'));
      should((await d.informed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        version: '1.5.0',
        id: 1,
        batchId,
        state: 'FAILED',
        reason: 'version mismatch: the device reported 1.5.0, expected 2.0.0 (was 1.0.0)',
      });
    });
  });

  describe('queries answered through ota-push', function () {
    it('a T4 from a device with a pending task gets the T5 with the notice on ota-push output 1', async function () {
      const { d, batchId } = await runningBatch(suite);
      feed(d.platform.inform, t4('pk1', 'dev1', '77'));
      should((await d.informed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        query: true,
        id: '77',
        pending: true,
        batchId,
        state: 'NOTIFIED',
      });
      const reply = await d.sent.next();
      should(wire(reply)).eql({
        topic: '/sys/pk1/dev1/thing/ota/firmware/get_reply',
        qos: 1,
        productKey: 'pk1',
        deviceName: 'dev1',
        batchId,
      });
      const body = JSON.parse(String(reply.payload));
      should(body).eql({
        id: '77',
        code: 200,
        data: {
          size: PACKAGE.length,
          version: '2.0.0',
          url: body.data.url,
          signMethod: 'Md5',
          sign: md5(PACKAGE),
          md5: md5(PACKAGE),
        },
      });
      should(body.data.url).startWith(`${suite.nodeUrl}/ota/firmware/${d.platform.fleet.id}/`);
    });

    it('a T4 with nothing pending gets a T5 with data:{}', async function () {
      const d = await deploy(platformFlow(suite));
      await reportVersions(d, 'pk1', ['dev9'], '1.0.0');
      feed(d.platform.inform, t4('pk1', 'dev9', '5'));
      should((await d.informed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev9',
        module: 'default',
        query: true,
        id: '5',
        pending: false,
      });
      const reply = await d.sent.next();
      should({ ...wire(reply), payload: reply.payload }).eql({
        topic: '/sys/pk1/dev9/thing/ota/firmware/get_reply',
        qos: 1,
        productKey: 'pk1',
        deviceName: 'dev9',
        batchId: undefined,
        payload: '{"id":"5","code":200,"data":{}}',
      });
    });

    it('an iotkit 3.x T8 request gets a T2-shaped answer on the same topic, whatever the push rate', async function () {
      const { d, batchId } = await runningBatch(suite, { maximumPerMinute: 1 });
      should(d.sent.messages.map((m) => m.deviceName)).eql(['dev1']);
      feed(d.platform.inform, t8('pk1', 'dev2', '1.0.0'));
      should((await d.informed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev2',
        module: 'default',
        version: '1.0.0',
        query: true,
        id: 0,
        pending: true,
        batchId,
        state: 'NOTIFIED',
      });
      const answer = await d.sent.next();
      should(wire(answer)).eql({
        topic: '/ota/device/request/pk1/dev2',
        qos: 1,
        productKey: 'pk1',
        deviceName: 'dev2',
        batchId,
      });
      const notice = noticeOf(answer);
      should(notice).eql({
        code: '1000',
        data: {
          size: PACKAGE.length,
          version: '2.0.0',
          url: notice.data.url,
          signMethod: 'Md5',
          sign: md5(PACKAGE),
          md5: md5(PACKAGE),
        },
        id: notice.id,
        message: 'success',
      });
      should(notice.id).be.a.Number();
    });

    it('a T6 block request of a download over MQTT gets the T7 block through ota-push', async function () {
      const { d, batchId, notice } = await runningBatch(suite, { downloadProtocol: 'mqtt' });
      const data = noticeOf(notice).data;
      should(data).match({ dProtocol: 'mqtt', streamFileId: 1, size: PACKAGE.length });
      should(data).not.have.property('url');
      const t6 = {
        id: '9',
        version: '1.0',
        params: {
          fileToken: 'tok',
          fileInfo: { streamId: data.streamId, fileId: 1 },
          fileBlock: { size: 10, offset: 4 },
        },
      };
      feed(d.platform.inform, {
        _msgid: 't6',
        topic: '/sys/pk1/dev1/thing/file/download',
        payload: JSON.stringify(t6),
      });
      should((await d.informed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        download: { streamId: data.streamId, fileId: 1, size: 10, offset: 4, fileToken: 'tok' },
        id: '9',
        batchId,
        state: 'NOTIFIED',
      });
      const reply = await d.sent.next();
      should(wire(reply)).eql({
        topic: '/sys/pk1/dev1/thing/file/download_reply',
        qos: 0,
        productKey: 'pk1',
        deviceName: 'dev1',
        batchId,
      });
      const frame = parseBlockReply(reply.payload as Buffer);
      should(frame.header).eql({ id: '9', fileToken: 'tok', fileLength: PACKAGE.length, bSize: 10, bOffset: 4 });
      should(frame.block.equals(PACKAGE.subarray(4, 14))).be.true();
    });

    it('the echo of a T8 answer, heard back on the request topic, produces nothing', async function () {
      const { d } = await runningBatch(suite, { maximumPerMinute: 1 });
      feed(d.platform.inform, t8('pk1', 'dev2', '1.0.0'));
      await d.informed.next();
      const answer = await d.sent.next();
      const seen = { informed: d.informed.messages.length, sent: d.sent.messages.length };
      feed(d.platform.inform, { _msgid: 'echo', topic: answer.topic, payload: Buffer.from(String(answer.payload)) });
      await assertNothingSent([d.caught]);
      should({ informed: d.informed.messages.length, sent: d.sent.messages.length }).eql(seen);
    });
  });
});

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}
