/**
 * The OTA nodes between core `mqtt in` / `mqtt out` and a real broker, with an mqtt.js client
 * playing a Link SDK 4 device: its reports become events, and a push reaches it as a T2.
 */
import mqtt, { MqttClient } from 'mqtt';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { startAedes, TestBroker } from '../helpers/broker';
import { Mosquitto, mosquittoPath } from '../helpers/mosquitto';
import { catchAll, catchNodeModule, mqttBroker, mqttIn, mqttNodeModule, mqttOut } from '../helpers/core-nodes';
import { FlowNode, node, onTab, probe } from '../helpers/flow';
import { delay, Inbox, inboxes, Msg } from '../helpers/red';
import { EXAMPLE_PACKAGE, LINK_SDK_4, sdkVector } from '../helpers/sdk-vectors';
import { needPart } from '../helpers/parts';

const informNode = require('../../../nodes/ota-inform.js');
const progressNode = require('../../../nodes/ota-progress.js');
const pushNode = require('../../../nodes/ota-push.js');

helper.init(require.resolve('node-red'));

const DEVICE = { productKey: 'a1B2c3D4e5F', deviceName: 'dev-001' };

interface OtaFlow {
  brokerConfig: FlowNode;
  push: FlowNode;
  informEvents: Inbox;
  progressEvents: Inbox;
  notices: Inbox;
  pushEvents: Inbox;
  errors: Inbox;
}

/**
 * mqtt in (T1) → ota-inform → probe, mqtt in (T3) → ota-progress → probe, ota-push → mqtt out
 * (and a probe), a Catch node for every error.
 */
async function loadOtaFlow(port: number): Promise<OtaFlow> {
  const informOut = probe();
  const progressOut = probe();
  const noticesOut = probe();
  const pushEventsOut = probe();
  const errorsOut = probe();
  const brokerConfig = mqttBroker(port);
  const inform = node('ota-inform', { role: 'platform' }, [[informOut.id]]);
  const progress = node('ota-progress', { role: 'platform' }, [[progressOut.id]]);
  const publisher = mqttOut(brokerConfig);
  // No fleet here, so nothing is verified: the node allows direct pushes explicitly.
  const push = node('ota-push', { allowUnverified: true }, [[publisher.id, noticesOut.id], [pushEventsOut.id]]);
  const flow = onTab(
    brokerConfig,
    mqttIn(brokerConfig, '/ota/device/inform/+/+', [[inform.id]]),
    mqttIn(brokerConfig, '/ota/device/progress/+/+', [[progress.id]], 'buffer'),
    inform,
    progress,
    push,
    publisher,
    catchAll(errorsOut),
    informOut,
    progressOut,
    noticesOut,
    pushEventsOut,
    errorsOut,
  );
  await helper.load([mqttNodeModule, informNode, progressNode, pushNode, catchNodeModule], flow);
  const [informEvents, progressEvents, notices, pushEvents, errors] = inboxes(
    informOut.id,
    progressOut.id,
    noticesOut.id,
    pushEventsOut.id,
    errorsOut.id,
  );
  return { brokerConfig, push, informEvents, progressEvents, notices, pushEvents, errors };
}

/** Waits until the flow's `mqtt-broker` node has connected. */
async function waitConnected(brokerConfig: FlowNode, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const config = helper.getNode(brokerConfig.id) as unknown as { connected: boolean };
  while (!config.connected) {
    if (Date.now() > deadline) throw new Error(`the mqtt-broker node did not connect within ${timeoutMs} ms`);
    await delay(20);
  }
}

/**
 * Connected is not subscribed: publishes `payload` on `topic` from `client` every 100 ms until the
 * flow's `events` inbox sees it come out, so the `mqtt in` subscription is known to be live.
 */
async function waitSubscribed(
  client: MqttClient,
  topic: string,
  payload: string,
  events: Inbox,
  timeoutMs = 5000,
): Promise<void> {
  const deviceName = topic.split('/').pop();
  let seen = false;
  const arrived = events
    .next((m) => (m.payload as { deviceName?: string }).deviceName === deviceName, timeoutMs)
    .then(() => {
      seen = true;
    });
  while (!seen) {
    await client.publishAsync(topic, payload, { qos: 0 });
    await Promise.race([arrived, delay(100)]);
  }
}

/** The next message `client` receives on `topic`. */
function nextPublish(client: MqttClient, topic: string, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`nothing was published on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(received: string, payload: Buffer) {
      if (received !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(payload);
    }
    client.on('message', onMessage);
  });
}

/** A device as Link SDK 4 connects it: its own client id, clean session, MQTT 3.1.1. */
async function connectDevice(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: `${DEVICE.productKey}.${DEVICE.deviceName}`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
}

const brokers: Array<{ name: string; start: () => Promise<TestBroker | undefined>; missing?: string }> = [
  { name: 'Aedes (in process)', start: startAedes },
  {
    name: 'Mosquitto',
    start: () => Mosquitto.start(),
    missing: mosquittoPath() ? undefined : 'Mosquitto is not installed (no /usr/sbin/mosquitto, none on PATH): skipped',
  },
];

describe('OTA nodes on a real MQTT broker', function () {
  before(function (done) {
    helper.startServer(done);
  });
  after(function (done) {
    helper.stopServer(done);
  });

  for (const { name, start, missing } of brokers) {
    describe(missing ? `${name}: ${missing}` : name, function () {
      let broker: TestBroker | undefined;
      let device: MqttClient | undefined;
      let flow: OtaFlow;

      before(async function () {
        broker = await start();
        needPart(this, broker, name);
      });
      after(async function () {
        await broker?.close();
      });
      beforeEach(async function () {
        needPart(this, broker, name);
        flow = await loadOtaFlow(broker.port);
        await waitConnected(flow.brokerConfig);
        device = await connectDevice(broker.url);
      });
      afterEach(async function () {
        await helper.unload();
        await device?.endAsync();
        device = undefined;
      });

      it('a Link SDK 4 T1 published by the device comes out of ota-inform as a version event', async function () {
        const client = device as MqttClient;
        await waitSubscribed(
          client,
          '/ota/device/inform/a1B2c3D4e5F/warm-up',
          '{"id":0,"params":{"version":"0"}}',
          flow.informEvents,
        );
        const t1 = sdkVector(LINK_SDK_4, 'inform', { module: 'MCU' });
        await client.publishAsync(t1.topic, t1.payload, { qos: t1.qos === 1 ? 1 : 0 });
        const event = await flow.informEvents.next(isFrom(DEVICE.deviceName));
        should(event.payload).eql({ ...DEVICE, module: 'MCU', version: '1.0.1', id: 2 });
        should(flow.errors.messages).eql([]);
      });

      it('Link SDK 4 T3 reports come out of ota-progress as progress and failure events', async function () {
        const client = device as MqttClient;
        await waitSubscribed(
          client,
          '/ota/device/progress/a1B2c3D4e5F/warm-up',
          '{"id":0,"params":{"step":"0","desc":""}}',
          flow.progressEvents,
        );
        const running = sdkVector(LINK_SDK_4, 'progress', { step: 23 });
        const failed = sdkVector(LINK_SDK_4, 'progress', { step: -3, module: 'default' });
        await client.publishAsync(running.topic, running.payload, { qos: 0 });
        const first = await flow.progressEvents.next(isFrom(DEVICE.deviceName));
        await client.publishAsync(failed.topic, failed.payload, { qos: 0 });
        const second = await flow.progressEvents.next(isFrom(DEVICE.deviceName));
        should([first.payload, second.payload]).eql([
          { ...DEVICE, module: 'default', step: 23, desc: '', state: 'IN_PROGRESS', id: 11 },
          {
            ...DEVICE,
            module: 'default',
            step: -3,
            desc: '',
            state: 'FAILED',
            reason: 'step -3 (verification failed (digest or signature mismatch))',
            id: 15,
          },
        ]);
        should(flow.errors.messages).eql([]);
      });

      it('a direct push reaches the device as exactly the T2 Link SDK 4 accepts', async function () {
        const client = device as MqttClient;
        const upgradeTopic = `/ota/device/upgrade/${DEVICE.productKey}/${DEVICE.deviceName}`;
        await client.subscribeAsync(upgradeTopic, { qos: 1 });
        const received = nextPublish(client, upgradeTopic);
        const firmware = {
          version: '1.0.1',
          url: 'https://ota.example.com/fw/MCU-1.0.1.bin?Expires=1700000000&Signature=abc123',
          size: EXAMPLE_PACKAGE.size,
          signMethod: 'Md5',
          sign: EXAMPLE_PACKAGE.md5,
          module: 'MCU',
          extData: { info: 'batch-7' },
        };
        helper.getNode(flow.push.id).receive({ payload: firmware, ...DEVICE });
        const sent = await flow.notices.next();
        const id = (JSON.parse(String(sent.payload)) as { id: number }).id;
        const expected = sdkVector(LINK_SDK_4, 'upgrade', { accepted: true }).payload.replace(
          '"id":1617773607348',
          `"id":${id}`,
        );
        should((await received).toString('utf8')).equal(expected);
        should(flow.pushEvents.messages).eql([]);
        should(flow.errors.messages).eql([]);
      });
    });
  }
});

/** Events of one device only (the warm-up reports come from another). */
function isFrom(deviceName: string): (msg: Msg) => boolean {
  return (msg) => (msg.payload as { deviceName?: string }).deviceName === deviceName;
}
