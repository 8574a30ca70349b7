/**
 * One SIGKILL, the simple case of sigkill.test.ts: Node-RED runs as a child process with a real broker; it is SIGKILLed in the middle
 * of a batch and started again on the same user directory. The batch must finish with every task
 * accounted for, no transition that was acknowledged (published as an event) lost, and no device
 * notified more often than the retry policy allows.
 */
import mqtt from 'mqtt';
import should from 'should';
import { startAedes } from '../helpers/broker';
import { ScriptedDevices } from '../helpers/devices';
import { getJson, postJson, waitFor } from '../helpers/http';
import { NodeRedChild } from '../helpers/node-red-child';
import { platformFlow } from '../helpers/platform-flow';

interface Event {
  topic?: string;
  taskId?: number;
  batchId?: number;
  from?: string | null;
  to?: string;
  deviceName?: string;
}

describe('reliability: one SIGKILL in the middle of a batch', function () {
  this.timeout(120_000);
  const DEVICES = 60;
  const RETRIES = 3;
  let broker: Awaited<ReturnType<typeof startAedes>>;
  let red: NodeRedChild | undefined;
  let devices: ScriptedDevices;
  let watcher: mqtt.MqttClient;

  before(async function () {
    broker = await startAedes();
  });

  after(async function () {
    await red?.close();
    await devices?.stop();
    await watcher?.endAsync(true);
    await broker?.close();
  });

  it('the batch completes after a restart with every task and every acknowledged transition kept', async function () {
    const { flows, fleetId } = platformFlow({ host: '127.0.0.1', port: broker.port });
    red = await NodeRedChild.start({ flows, settings: { logging: { console: { level: 'warn' } } } });
    const base = red.baseUrl;

    // Everything the platform acknowledged (events) and every notice it sent, seen from the broker.
    const events: Event[] = [];
    const noticesPerDevice = new Map<string, number>();
    watcher = await mqtt.connectAsync(broker.url, { clientId: 'watcher' });
    await watcher.subscribeAsync(['test/events', '/ota/device/upgrade/#'], { qos: 1 });
    watcher.on('message', (topic, payload) => {
      if (topic === 'test/events') {
        const msg = JSON.parse(payload.toString()) as Event & { payload?: Event };
        events.push(typeof msg === 'object' && msg && 'taskId' in msg ? msg : (msg.payload ?? msg));
      } else {
        const name = topic.split('/').pop() as string;
        noticesPerDevice.set(name, (noticesPerDevice.get(name) ?? 0) + 1);
      }
    });

    const names = Array.from({ length: DEVICES }, (_, i) => `dev-${i}`);
    devices = new ScriptedDevices(broker.url, 'pk1', names, '1.0.0', { stepMs: 150 });
    await devices.start();
    await devices.untilInventoried(`${base}/ota/fleets/${fleetId}`);

    const batch = await postJson<{ id: number }>(`${base}/ota/fleets/${fleetId}/batches`, {
      firmware: { version: '2.0.0', url: 'http://firmware.invalid/pk1-2.0.0.bin', size: 1000, md5: 'c'.repeat(32) },
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { maximumPerMinute: 600, retryCount: RETRIES, retryInterval: 0.05 },
    });

    // Kill once some devices finished and many are still queued or upgrading.
    await waitFor(
      'a third of the batch',
      async () => (events.filter((e) => e.to === 'SUCCEEDED').length >= DEVICES / 3 ? true : undefined),
      60_000,
    );
    const acknowledged = events
      .filter((e) => e.taskId !== undefined && e.from !== e.to)
      .map((e) => `${e.taskId}:${e.from}>${e.to}`);
    const atKill = await getJson<{ counts: Record<string, number> }>(
      `${base}/ota/fleets/${fleetId}/batches/${batch.id}`,
    );
    await red.kill();
    await red.start();
    const done = await waitFor(
      'the batch to complete',
      async () => {
        const b = await getJson<{ state: string; counts: Record<string, number> }>(
          `${base}/ota/fleets/${fleetId}/batches/${batch.id}`,
        );
        return b.state === 'COMPLETED' ? b : undefined;
      },
      90_000,
    );

    should(done.counts).eql({
      CONFIRM: 0,
      QUEUED: 0,
      NOTIFIED: 0,
      IN_PROGRESS: 0,
      SUCCEEDED: DEVICES,
      FAILED: 0,
      CANCELED: 0,
    });
    const stored = new Set(
      (
        await getJson<{ taskId: number; from: string; to: string }[]>(
          `${base}/ota/fleets/${fleetId}/batches/${batch.id}/transitions?limit=100000`,
        )
      ).map((t) => `${t.taskId}:${t.from}>${t.to}`),
    );
    const lost = acknowledged.filter((a) => !stored.has(a));
    should(lost).eql([]);
    should(acknowledged.length).be.above(DEVICES / 3);
    // The kill really fell in the middle: tasks were still waiting for their notice.
    should(atKill.counts.QUEUED).be.above(0);
    for (const name of names) should(noticesPerDevice.get(name) ?? 0).be.within(1, 1 + RETRIES);
  });
});
