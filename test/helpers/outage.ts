/**
 * A broker outage in the middle of a batch: Node-RED (child process, the platform flow with a
 * persistent MQTT session) and scripted devices on a Mosquitto with persistence; the broker is
 * stopped once a third of the batch succeeded, kept down for `outageMs`, and started again. The
 * batch must then complete with every device upgraded.
 *
 * What devices say into the outage is lost (mqtt.js with a clean session drops it, as an SDK
 * does), and what Node-RED sends into it too (the mqtt nodes drop messages while disconnected):
 * the platform sends unanswered notices again, and a device that finished its upgrade (rebooted)
 * while the broker was away reports its version once it reaches the broker again, as devices do
 * at every boot.
 */
import { existsSync } from 'node:fs';
import mqtt from 'mqtt';
import should from 'should';
import { buildVersionReport } from '../../src/protocol';
import { ScriptedDevices } from './devices';
import { getJson, postJson, waitFor } from './http';
import { Mosquitto } from './mosquitto';
import { NodeRedChild } from './node-red-child';
import { platformFlow } from './platform-flow';

export interface OutageFigures {
  devices: number;
  outageMs: number;
  /** Task counts when the broker went down. */
  atStop: Record<string, number>;
  /** From the broker's return to the batch's completion. */
  recoveryMs: number;
  batchMs: number;
  retryInterval: number;
  retryCount: number;
  /** Notices that left Node-RED while the broker was down (sent again later) show as retries used. */
  retriesUsed: number;
  /** Devices that reported their new version after the broker came back (their earlier report was lost). */
  bootReports: number;
}

interface BatchView {
  state: string;
  counts: Record<string, number>;
}

export async function brokerOutage(outageMs: number, devices = 30): Promise<OutageFigures | undefined> {
  const broker = await Mosquitto.start({ persistence: true });
  if (!broker) return undefined;
  let red: NodeRedChild | undefined;
  let scripted: ScriptedDevices | undefined;
  try {
    const { flows, fleetId } = platformFlow({ host: '127.0.0.1', port: broker.port });
    red = await NodeRedChild.prepare({
      flows,
      settings: { logging: { console: { level: 'warn' } }, mqttReconnectTime: 500 },
    });
    await red.start();
    const api = `${red.baseUrl}/ota/fleets/${fleetId}`;
    const names = Array.from({ length: devices }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
    scripted = new ScriptedDevices(broker.url, 'pk1', names, '1.0.0', { stepMs: 100 });
    await scripted.start();
    await scripted.untilInventoried(api);

    // Unanswered notices (those sent while the broker is down) are sent again until it is back.
    const retryCount = 5;
    const retryInterval = Math.max(0.05, outageMs / 60_000 / 2);
    const started = Date.now();
    const batch = await postJson<{ id: number }>(`${api}/batches`, {
      firmware: { version: '2.0.0', url: 'http://firmware.invalid/pk1-2.0.0.bin', size: 1000, md5: 'c'.repeat(32) },
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { maximumPerMinute: 600, retryCount, retryInterval },
    });
    const view = () => getJson<BatchView>(`${api}/batches/${batch.id}`);
    const atStop = await waitFor(
      'a third of the batch',
      async () => {
        const b = await view();
        return b.counts.SUCCEEDED >= devices / 3 ? b.counts : undefined;
      },
      60_000,
    );
    await broker.stop();
    should(existsSync(broker.persistenceFile)).be.true('mosquitto saved no persistence file');
    await new Promise((r) => setTimeout(r, outageMs));
    // Still running, still answering, and not finished: the outage fell in the middle.
    const during = await view();
    should(during.state).equal('IN_PROGRESS');
    await broker.restart();
    const back = Date.now();
    // Devices that rebooted into 2.0.0 while the broker was away report it when they reach it.
    const booted = await mqtt.connectAsync(broker.url, {
      clientId: `booted-devices-${process.pid}`,
      reconnectPeriod: 200,
    });
    const reported = new Set<string>();
    const bootReports = setInterval(() => {
      for (const name of names) {
        if (reported.has(name) || scripted?.versions.get(name) !== '2.0.0') continue;
        reported.add(name);
        booted.publish(`/ota/device/inform/pk1/${name}`, buildVersionReport({ version: '2.0.0' }), { qos: 1 });
      }
    }, 500);
    let done: BatchView;
    try {
      done = await waitFor(
        'the batch to complete after the outage',
        async () => {
          const b = await view();
          return b.state === 'COMPLETED' ? b : undefined;
        },
        120_000 + 10 * outageMs,
      );
    } finally {
      clearInterval(bootReports);
      await booted.endAsync(true);
    }
    const recoveryMs = Date.now() - back;
    should(done.counts).eql({
      CONFIRM: 0,
      QUEUED: 0,
      NOTIFIED: 0,
      IN_PROGRESS: 0,
      SUCCEEDED: devices,
      FAILED: 0,
      CANCELED: 0,
    });
    const tasks = await getJson<{ attempts: number }[]>(`${api}/batches/${batch.id}/tasks?limit=100000`);
    return {
      devices,
      outageMs,
      atStop,
      recoveryMs,
      batchMs: Date.now() - started,
      retryInterval,
      retryCount,
      retriesUsed: tasks.reduce((n, t) => n + Math.max(0, t.attempts - 1), 0),
      bootReports: reported.size,
    };
  } finally {
    await red?.close();
    await scripted?.stop();
    await broker.close();
  }
}
