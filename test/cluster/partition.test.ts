/**
 * One of two Node-RED instances sharing a fleet is cut off from PostgreSQL (a TCP proxy that goes
 * silent, like a network partition): it stops scheduling, refuses what it cannot store and says so
 * in its status, while the other carries the batch; healed, it works again.
 */
import should from 'should';
import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterFlows, leaderPid, uploadPackage } from '../helpers/cluster';
import { ScriptedDevices } from '../helpers/devices';
import { getJson, postJson, waitFor } from '../helpers/http';
import { needMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { NodeRedChild } from '../helpers/node-red-child';
import { freshDatabase, needPostgres, type Postgres } from '../helpers/postgres';
import { TcpProxy } from '../helpers/tcp-proxy';

interface Status {
  fill?: string;
  text?: string;
  source?: { type?: string };
}

interface BatchView {
  id: number;
  state: string;
  counts: Record<string, number>;
}

describe('an instance cut off from PostgreSQL', function () {
  this.timeout(300_000);
  let server: Postgres;
  let broker: Mosquitto;
  let proxy: TcpProxy | undefined;
  let dir: string;
  const reds: NodeRedChild[] = [];
  let devices: ScriptedDevices | undefined;
  let watcher: mqtt.MqttClient | undefined;

  before(async function () {
    server = await needPostgres(this);
    broker = await needMosquitto(this);
    dir = mkdtempSync(join(tmpdir(), 'ota-partition-'));
  });

  after(async function () {
    await devices?.stop();
    await watcher?.endAsync();
    for (const red of reds) await red.close();
    await proxy?.close();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stops scheduling and refuses reports with the reason in its status, while the other carries the batch, and resumes', async function () {
    const url = await freshDatabase(server, 'partition');
    const database = new URL(url).pathname.slice(1);
    const target = new URL(url);
    proxy = await TcpProxy.start(Number(target.port));
    const viaProxy = new URL(url);
    viaProxy.port = String(proxy.port);
    const cluster = clusterFlows({ host: '127.0.0.1', port: broker.port }, url, {
      requireVerification: false,
      packageDir: join(dir, 'packages'),
    });
    const settings = { logging: { console: { level: 'warn' } } };
    // b reaches the database through the proxy; it starts first, so it holds the lease when cut.
    const b = await NodeRedChild.start({
      flows: cluster.flowsFor('b'),
      credentials: cluster.credentialsFor(viaProxy.toString()),
      settings,
    });
    reds.push(b);
    await waitFor(
      'b to take the lease',
      async () => (leaderPid(server, database) === b.pid ? true : undefined),
      30_000,
    );
    const a = await NodeRedChild.start({ flows: cluster.flowsFor('a'), credentials: cluster.credentials, settings });
    reds.push(a);
    const apiOf = (red: NodeRedChild) => `${red.baseUrl}/ota/fleets/${cluster.fleetId}`;

    const statuses: Status[] = [];
    watcher = await mqtt.connectAsync(broker.url);
    await watcher.subscribeAsync('test/status/b', { qos: 0 });
    watcher.on('message', (_topic, payload) => statuses.push(JSON.parse(payload.toString()) as Status));

    const names = Array.from({ length: 200 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
    devices = new ScriptedDevices(broker.url, 'pk1', names, '1.0.0', { stepMs: 50 });
    await devices.start();
    await devices.untilInventoried(apiOf(a), 60_000);
    const fw = await uploadPackage(apiOf(a), '2.0.0', 1024);
    const batch = await postJson<BatchView>(`${apiOf(a)}/batches`, {
      firmwareId: fw.id,
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { maximumPerMinute: 600, retryCount: 3, retryInterval: 0.2, timeoutInMinutes: 1 },
    });

    // Cut b off while it schedules: a takes the lease over, and the batch goes on through a.
    await waitFor('some notices', async () => (devices!.notices.size >= 10 ? true : undefined), 60_000);
    proxy.cut();
    const cutAt = Date.now();
    const takeover = await waitFor(
      'a to take the lease',
      async () => (leaderPid(server, database) === a.pid ? Date.now() - cutAt : undefined),
      30_000,
    );
    const notifiedAfterTakeover = devices.notices.size;
    await waitFor(
      'notices from a',
      async () => (devices!.notices.size > notifiedAfterTakeover + 5 ? true : undefined),
      60_000,
    );

    // Reports the broker hands b fail with the reason, and b's nodes show it.
    await waitFor(
      "b's status to name the store",
      async () => {
        for (const name of names.slice(0, 20)) devices!.reportVersion(name);
        return statuses.some((s) => s.fill === 'red' && /PostgreSQL|store/i.test(s.text ?? '')) ? true : undefined;
      },
      60_000,
    );
    const red = statuses.find((s) => s.fill === 'red' && /PostgreSQL|store/i.test(s.text ?? ''));

    // Healed: b answers from the store again.
    proxy.heal();
    const healedAt = Date.now();
    await waitFor(
      'b to answer from the store',
      async () => {
        const res = await fetch(`${apiOf(b)}/batches/${batch.id}`);
        return res.status === 200 ? true : undefined;
      },
      60_000,
    );
    let last: BatchView | undefined;
    const done = await waitFor(
      `the batch to complete (lease ${leaderPid(server, database)}, a ${a.pid}, b ${b.pid})`,
      async () => {
        const view = await getJson<BatchView>(`${apiOf(a)}/batches/${batch.id}`);
        last = view;
        return view.state === 'COMPLETED' ? view : undefined;
      },
      240_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen ${JSON.stringify(last?.counts)}; a: ${a.output.slice(-1500)}`);
    });
    should(done.counts.SUCCEEDED + done.counts.FAILED).equal(names.length);
    should((await getJson<BatchView>(`${apiOf(b)}/batches/${batch.id}`)).counts).eql(done.counts);
    should(takeover).be.belowOrEqual(10_000);
    console.log(
      `      figures ${JSON.stringify({
        takeoverMs: takeover,
        statusOfB: `${red?.source?.type}: ${red?.text}`,
        answeringAgainMs: Date.now() - healedAt,
        succeeded: done.counts.SUCCEEDED,
        failed: done.counts.FAILED,
      })}`,
    );
  });
});
