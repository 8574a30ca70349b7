/**
 * A fleet end to end on a real MQTT broker (Aedes in process): core `mqtt in` feeds ota-inform and
 * ota-progress, ota-push publishes through core `mqtt out`, and mqtt.js devices download the
 * package from the signed URL of their notice, check it, and report.
 */
import { createHash } from 'node:crypto';
import mqtt, { MqttClient } from 'mqtt';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { buildProgressReport, buildVersionReport, parseTopic, parseUpgradeNotice } from '../../src/protocol';
import { startAedes, TestBroker } from '../helpers/broker';
import { catchAll, mqttBroker, mqttIn, mqttNodeModule, mqttOut } from '../helpers/core-nodes';
import { eventually, fleetConfig, fleetSuite, httpRequest, loadFlow } from '../helpers/fleet-red';
import { node, onTab, probe } from '../helpers/flow';
import { delay, inboxes } from '../helpers/red';

helper.init(require.resolve('node-red'));

const PACKAGE = Buffer.from('firmware 2.0.0, served to devices over HTTP'.repeat(100));

/** Devices on one connection: on a notice each downloads the URL, checks the MD5, reports 100 and the new version. */
async function connectDevices(url: string): Promise<{ client: MqttClient; downloads: Map<string, string> }> {
  const client = await mqtt.connectAsync(url, { clientId: `fleet-devices-${process.pid}`, reconnectPeriod: 0 });
  const downloads = new Map<string, string>();
  await client.subscribeAsync('/ota/device/upgrade/pk1/+', { qos: 1 });
  client.on('message', (topic, payload) => {
    const { deviceName } = parseTopic(topic);
    const firmware = parseUpgradeNotice(payload).firmware;
    if (!firmware?.url) return;
    void (async () => {
      client.publish(`/ota/device/progress/pk1/${deviceName}`, buildProgressReport({ step: 0 }), { qos: 1 });
      const res = await httpRequest(firmware.url as string);
      const md5 = createHash('md5').update(res.body).digest('hex');
      downloads.set(deviceName, `${res.status} ${md5 === firmware.sign ? 'md5 ok' : 'md5 mismatch'}`);
      if (md5 !== firmware.sign)
        return void client.publish(
          `/ota/device/progress/pk1/${deviceName}`,
          buildProgressReport({ step: -3, desc: 'md5' }),
          { qos: 1 },
        );
      client.publish(`/ota/device/progress/pk1/${deviceName}`, buildProgressReport({ step: 100 }), { qos: 1 });
      client.publish(`/ota/device/inform/pk1/${deviceName}`, buildVersionReport({ version: firmware.version }), {
        qos: 1,
      });
    })();
  });
  return { client, downloads };
}

describe('a fleet on a real MQTT broker', function () {
  const suite = fleetSuite('broker');
  let broker: TestBroker;
  let devices: MqttClient | undefined;

  before(async function () {
    broker = await startAedes();
  });
  after(async function () {
    await broker.close();
  });
  afterEach(async function () {
    await devices?.endAsync(true);
    devices = undefined;
  });

  it('devices report, get the batch notice, download the signed URL and complete the batch', async function () {
    const names = ['dev1', 'dev2', 'dev3'];
    const fleet = fleetConfig(suite, { requireVerification: false });
    const brokerConfig = mqttBroker(broker.port);
    const [informed, progressed, sent, events, caught] = [probe(), probe(), probe(), probe(), probe()];
    const inform = node('ota-inform', { role: 'platform', fleet: fleet.id }, [[informed.id]]);
    const progress = node('ota-progress', { role: 'platform', fleet: fleet.id }, [[progressed.id]]);
    const publisher = mqttOut(brokerConfig);
    const push = node('ota-push', { fleet: fleet.id }, [[publisher.id, sent.id], [events.id]]);
    await loadFlow(
      onTab(
        fleet,
        brokerConfig,
        mqttIn(brokerConfig, '/ota/device/inform/+/+', [[inform.id]]),
        mqttIn(brokerConfig, '/ota/device/progress/+/+', [[progress.id]], 'buffer'),
        inform,
        progress,
        push,
        publisher,
        catchAll(caught),
        informed,
        progressed,
        sent,
        events,
        caught,
      ),
      {},
      [mqttNodeModule],
    );
    const [, , , batchEvents, errors] = inboxes(informed.id, progressed.id, sent.id, events.id, caught.id);
    const connection = await connectDevices(broker.url);
    devices = connection.client;

    // Until the flow's subscription is live, reports are lost: repeat them until the inventory has all.
    const listed = async () =>
      (await helper.request().get(`/ota/fleets/${fleet.id}/devices`).expect(200)).body.length === names.length;
    await eventually(
      'the three devices to be in the inventory',
      async () => {
        if (await listed()) return true;
        for (const name of names)
          devices?.publish(`/ota/device/inform/pk1/${name}`, buildVersionReport({ version: '1.0.0' }), { qos: 1 });
        await delay(100);
        return listed();
      },
      5000,
    );

    const upload = await helper
      .request()
      .post(`/ota/fleets/${fleet.id}/firmware?productKey=pk1&version=2.0.0`)
      .set('Content-Type', 'application/octet-stream')
      .send(PACKAGE)
      .expect(201);
    helper
      .getNode(push.id)
      .receive({ payload: { firmwareId: upload.body.id, type: 'static', targets: { selection: 'ALL' } } });

    const completed = await batchEvents.next(
      (m) => m.topic === 'batch' && (m.payload as { to: string }).to === 'COMPLETED',
      8000,
    );
    should((completed.payload as { counts: unknown }).counts).eql({
      CONFIRM: 0,
      QUEUED: 0,
      NOTIFIED: 0,
      IN_PROGRESS: 0,
      SUCCEEDED: 3,
      FAILED: 0,
      CANCELED: 0,
    });
    should(Object.fromEntries(connection.downloads)).eql({
      dev1: '200 md5 ok',
      dev2: '200 md5 ok',
      dev3: '200 md5 ok',
    });
    const versions = (await helper.request().get(`/ota/fleets/${fleet.id}/versions`).expect(200)).body;
    should(versions).eql([{ productKey: 'pk1', module: 'default', version: '2.0.0', count: 3 }]);
    should(errors.messages).eql([]);
  });
});
