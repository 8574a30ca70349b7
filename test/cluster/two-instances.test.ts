/**
 * Two Node-RED instances share one fleet on PostgreSQL, through Mosquitto's shared subscriptions:
 * a batch of 1,000 devices with a rate limit, the scheduling instance killed in the middle, the
 * other taking over, and both agreeing on the fleet's state whenever both run.
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

const DEVICES = 1000;
/** The batch's rate, and the bucket's burst (100 ms of it: rate.ts). */
const RATE_PER_SECOND = 100;
const BURST = RATE_PER_SECOND / 10;

/** The most of these times that fall within one second. */
function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((x, y) => x - y);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j] - sorted[i] >= 1000) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

interface TransitionView {
  taskId: number;
  from: string | null;
  to: string;
  at: number;
}

const transitionKey = (t: TransitionView) => `${t.taskId} ${t.from}>${t.to} ${t.at}`;

interface BatchView {
  id: number;
  state: string;
  counts: Record<string, number>;
}

describe('two Node-RED instances share a fleet on PostgreSQL', function () {
  this.timeout(300_000);
  let server: Postgres;
  let broker: Mosquitto;
  let dir: string;
  const reds: NodeRedChild[] = [];
  let devices: ScriptedDevices | undefined;
  let watcher: mqtt.MqttClient | undefined;

  before(async function () {
    server = await needPostgres(this);
    broker = await needMosquitto(this);
    dir = mkdtempSync(join(tmpdir(), 'ota-cluster-'));
  });

  after(async function () {
    await devices?.stop();
    await watcher?.endAsync();
    for (const red of reds) await red.close();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a rate-limited batch of 1,000 devices survives the scheduling instance being killed', async function () {
    const url = await freshDatabase(server, 'cluster');
    const database = new URL(url).pathname.slice(1);
    const cluster = clusterFlows({ host: '127.0.0.1', port: broker.port }, url, {
      requireVerification: false,
      packageDir: join(dir, 'packages'),
    });
    const settings = { logging: { console: { level: 'warn' } } };
    for (const name of ['a', 'b']) {
      reds.push(
        await NodeRedChild.start({ flows: cluster.flowsFor(name), credentials: cluster.credentials, settings }),
      );
    }
    const [a, b] = reds;
    const apiOf = (red: NodeRedChild) => `${red.baseUrl}/ota/fleets/${cluster.fleetId}`;

    // What each instance took from the broker, and the task events each one's ota-push sent.
    const taken = { a: 0, b: 0 };
    const events = new Set<string>();
    watcher = await mqtt.connectAsync(broker.url);
    let noticeUrl: string | undefined;
    await watcher.subscribeAsync(['test/taken/+', 'test/events/+', '/ota/device/upgrade/pk1/dev-0000'], { qos: 1 });
    watcher.on('message', (topic, payload) => {
      if (topic.startsWith('test/taken/')) taken[topic.endsWith('/a') ? 'a' : 'b']++;
      else if (topic.startsWith('/ota/'))
        noticeUrl ??= (JSON.parse(payload.toString()) as { data: { url: string } }).data.url;
      else {
        const t = JSON.parse(payload.toString()) as TransitionView;
        // A step within IN_PROGRESS is an event but no stored transition.
        if (t.taskId !== undefined && (t.from !== t.to || t.to === 'NOTIFIED')) events.add(transitionKey(t));
      }
    });

    const names = Array.from({ length: DEVICES }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    devices = new ScriptedDevices(broker.url, 'pk1', names, '1.0.0', { stepMs: 50 });
    await devices.start();
    await devices.untilInventoried(apiOf(a), 120_000);

    // Both answer with the same inventory: one store.
    const versionsA = await getJson(`${apiOf(a)}/versions`);
    should(await getJson(`${apiOf(b)}/versions`)).eql(versionsA);
    should(versionsA).eql([{ productKey: 'pk1', module: 'default', version: '1.0.0', count: DEVICES }]);

    const fw = await uploadPackage(apiOf(a), '2.0.0');
    const batch = await postJson<BatchView>(`${apiOf(b)}/batches`, {
      firmwareId: fw.id,
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { maximumPerMinute: RATE_PER_SECOND * 60, retryCount: 2, retryInterval: 0.1, timeoutInMinutes: 0.15 },
    });
    should(batch.counts.QUEUED).equal(DEVICES);

    // A third of the way, the instance that schedules is killed.
    await waitFor(
      'a third of the devices notified',
      async () => (devices!.notices.size >= DEVICES / 3 ? true : undefined),
      120_000,
    );
    const pid = leaderPid(server, database);
    const leader = reds.find((r) => r.pid === pid);
    should.exist(leader, `no instance holds the lease (holder pid ${pid})`);
    const survivor = reds.find((r) => r !== leader) as NodeRedChild;
    const notifiedAtKill = devices.notices.size;
    const atKill = await getJson<BatchView>(`${apiOf(survivor)}/batches/${batch.id}`);
    const inFlightAtKill = atKill.counts.NOTIFIED + atKill.counts.IN_PROGRESS;
    const acknowledged = new Set(events);
    const killedAt = Date.now();
    await (leader as NodeRedChild).kill();
    const takeover = await waitFor(
      'the other instance to take the lease',
      async () => (leaderPid(server, database) === survivor.pid ? Date.now() - killedAt : undefined),
      30_000,
    );

    // The survivor finishes the batch.
    const done = await waitFor(
      'the batch to complete',
      async () => {
        const view = await getJson<BatchView>(`${apiOf(survivor)}/batches/${batch.id}`);
        return view.state === 'COMPLETED' ? view : undefined;
      },
      240_000,
    );
    // Every task ended, and only devices in flight at the kill failed: their reports went down with it.
    should(done.counts.SUCCEEDED + done.counts.FAILED).equal(DEVICES);
    should(done.counts.FAILED).be.belowOrEqual(inFlightAtKill);
    const failed = await getJson<{ reason: string }[]>(`${apiOf(survivor)}/batches/${batch.id}/tasks?state=FAILED`);
    for (const t of failed) should(t.reason).match(/^(timed out|no answer)/);
    // Every transition an instance announced before the kill is stored.
    const stored = await getJson<TransitionView[]>(`${apiOf(survivor)}/batches/${batch.id}/transitions?limit=100000`);
    const storedKeys = new Set(stored.map(transitionKey));
    should([...acknowledged].filter((k) => !storedKeys.has(k))).eql([]);
    // The rate held across the handover: the first notices of both instances, by the times they stored.
    const busiest = busiestSecond(stored.filter((t) => t.from === 'QUEUED' && t.to === 'NOTIFIED').map((t) => t.at));
    should(busiest).be.belowOrEqual(RATE_PER_SECOND + 2 * BURST);
    should(acknowledged.size).be.above(DEVICES / 3);

    // Every device was notified; some twice (a notice the dead instance stored may not have left).
    const counts = [...devices.notices.values()];
    should(counts.length).equal(DEVICES);
    const twice = counts.filter((n) => n > 1).length;
    should(Math.max(...counts)).be.belowOrEqual(3);

    // The killed instance comes back and agrees with the survivor.
    await (leader as NodeRedChild).start(60_000);
    should(await getJson(`${apiOf(leader as NodeRedChild)}/versions`)).eql(
      await getJson(`${apiOf(survivor)}/versions`),
    );
    should((await getJson<BatchView>(`${apiOf(leader as NodeRedChild)}/batches/${batch.id}`)).counts).eql(done.counts);
    // The package a notice names is served by each instance, from the shared directory, with the same signed URL.
    const { pathname, search } = new URL(noticeUrl as string);
    for (const red of reds) {
      const res = await fetch(`${red.baseUrl}${pathname}${search}`, { headers: { range: 'bytes=100-199' } });
      should(res.status).equal(206);
      should(Buffer.from(await res.arrayBuffer())).eql(Buffer.alloc(2048, '2.0.0').subarray(100, 200));
    }

    should(takeover).be.belowOrEqual(10_000);
    should(taken.a).be.above(0);
    should(taken.b).be.above(0);
    console.log(
      `      figures ${JSON.stringify({
        devices: DEVICES,
        reportsTaken: taken,
        notifiedAtKill,
        inFlightAtKill,
        failedWithTheKilled: done.counts.FAILED,
        takeoverMs: takeover,
        notifiedTwice: twice,
        busiestSecond: busiest,
        batchMs: Date.now() - killedAt,
      })}`,
    );
  });
});
