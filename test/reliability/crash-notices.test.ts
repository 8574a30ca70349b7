/**
 * Notices across a crash: Node-RED (a child process) SIGKILLed while tasks are NOTIFIED whose
 * notice never left, and started again on the same user directory. `ota-sim` devices in this
 * process upgrade from a package served here (so downloads outlive the crash).
 *
 * The notices leave through a core `delay` node between ota-push and `mqtt out`, as a flow that
 * paces its output would: it widens the moment between the store's commit and the publish, which
 * a kill otherwise hits only by chance, so every run strands the notices the node holds. The kill
 * comes as the 4th notice is committed (its event is heard), with two notices in the node.
 *
 * (a) The embedded Aedes broker dies with Node-RED and is started first, empty, on the same port:
 *     devices reconnect to a broker that holds nothing for them or for the platform, and what they
 *     publish before the flows subscribe is lost. (b) Mosquitto stays up.
 * In both the batch must complete within its rate schedule after the restart (its retry interval,
 * 2 minutes, is far beyond: only the recovery can finish it in time), every device at the new
 * version, and no device noticed more than twice after the restart.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import should from 'should';
import { recoveryDelayFor } from '../../src/fleet/recovery';
import { Simulation, simOptions } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { freshId } from '../helpers/flow';
import { printFigures } from '../helpers/fuzz-run';
import { getJson, postJson } from '../helpers/http';
import { Mosquitto, mosquittoPath } from '../helpers/mosquitto';
import { needPart } from '../helpers/parts';
import { NodeRedChild } from '../helpers/node-red-child';
import { platformFlow } from '../helpers/platform-flow';

const DEVICES = 6;
const PER_MINUTE = 30;
/** How long the delay node holds each notice before `mqtt out` publishes it. */
const HOLD_S = 3;
/** Killed as the store commits this notice (the heard QUEUED → NOTIFIED). */
const KILL_AT = 4;
const RETRY_MINUTES = 2;
/** Long burns keep the devices that got their notice before the kill busy until Node-RED is back. */
const TIMING = { bootMs: 200, burnMs: 10_000, rebootMs: 1000 };
const SEED = 20_260_905;
const PACKAGE = Buffer.concat(
  Array.from({ length: 1024 }, (_, i) => createHash('sha256').update(`package ${i}`).digest()),
);
/** Node-RED's default mqttReconnectTime: the settings here leave it alone. */
const RECOVERY_DELAY_MS = recoveryDelayFor(undefined);

interface TaskEvent {
  taskId?: number;
  batchId?: number;
  deviceName?: string;
  from?: string | null;
  to?: string;
}

interface TaskView {
  deviceName: string;
  state: string;
  reason: string | null;
  attempts: number;
  retries: number;
}

/** The platform flow with a delay node between ota-push and its mqtt out. */
function pacedPlatformFlow(broker: TestBroker) {
  const platform = platformFlow({ host: '127.0.0.1', port: broker.port });
  const push = platform.flows.find((n) => (n as { id: string }).id === platform.pushId) as {
    z: string;
    wires: string[][];
  };
  const delay = {
    id: freshId(),
    type: 'delay',
    z: push.z,
    pauseType: 'delay',
    timeout: String(HOLD_S),
    timeoutUnits: 'seconds',
    rate: '1',
    nbRateUnits: '1',
    rateUnits: 'second',
    randomFirst: '1',
    randomLast: '5',
    randomUnits: 'seconds',
    drop: false,
    allowrate: false,
    outputs: 1,
    wires: [push.wires[0]],
  };
  push.wires = [[delay.id], push.wires[1]];
  return { ...platform, flows: [...platform.flows, delay] };
}

/** A package server that stays up through the crash. */
async function packageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': PACKAGE.length });
    res.end(PACKAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/pk1-2.0.0.bin`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class CrashRun {
  broker: TestBroker | undefined;
  private red: NodeRedChild | undefined;
  private sim: Simulation | undefined;
  private watcher: mqtt.MqttClient | undefined;
  private server: { url: string; close(): Promise<void> } | undefined;
  private fleetId = '';
  private restarted = false;
  private notified = 0;
  private onNotified: (() => void) | undefined;
  readonly before = new Map<string, number>();
  readonly after = new Map<string, number>();

  constructor(readonly kind: 'aedes' | 'mosquitto') {}

  private get base(): string {
    return `${(this.red as NodeRedChild).baseUrl}/ota/fleets/${this.fleetId}`;
  }

  async start(): Promise<void> {
    this.server = await packageServer();
    this.broker = this.kind === 'aedes' ? await startAedes() : await Mosquitto.start();
    if (!this.broker) throw new Error('Mosquitto is not installed (/usr/sbin/mosquitto)');
    const { flows, fleetId } = pacedPlatformFlow(this.broker);
    this.fleetId = fleetId;
    this.red = await NodeRedChild.prepare({
      flows,
      settings: { logging: { console: { level: 'warn' } } },
    });
    await this.red.start();
    this.watcher = await mqtt.connectAsync(this.broker.url, { clientId: `crash-watcher-${process.pid}` });
    await this.watcher.subscribeAsync(['test/events', '/ota/device/upgrade/#'], { qos: 1 });
    this.watcher.on('message', (topic, payload) => this.heard(topic, payload));
    this.sim = new Simulation(
      simOptions({
        broker: this.broker.url,
        productKey: 'pk1',
        version: '1.0.0',
        devices: DEVICES,
        seed: SEED,
        timing: TIMING,
      }),
    );
    await this.sim.start();
    const deadline = Date.now() + 30_000;
    while ((await getJson<unknown[]>(`${this.base}/devices`).catch(() => [])).length < DEVICES) {
      if (Date.now() > deadline) throw new Error('the devices did not all report within 30 s');
      await sleep(100);
    }
  }

  private heard(topic: string, payload: Buffer): void {
    if (topic === 'test/events') {
      const event = JSON.parse(payload.toString()) as TaskEvent;
      if (event.taskId !== undefined && event.from === 'QUEUED' && event.to === 'NOTIFIED') {
        this.notified++;
        this.onNotified?.();
      }
      return;
    }
    const name = topic.split('/').pop() as string;
    const counts = this.restarted ? this.after : this.before;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }

  async startBatch(): Promise<number> {
    const batch = await postJson<{ id: number }>(`${this.base}/batches`, {
      firmware: {
        version: '2.0.0',
        url: (this.server as { url: string }).url,
        size: PACKAGE.length,
        md5: createHash('md5').update(PACKAGE).digest('hex'),
      },
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { maximumPerMinute: PER_MINUTE, retryCount: 1, retryInterval: RETRY_MINUTES, timeoutInMinutes: 5 },
    });
    return batch.id;
  }

  /** SIGKILL (and, for Aedes, the broker with it) as the KILL_AT-th notice is committed. */
  async crash(): Promise<void> {
    const red = this.red as NodeRedChild;
    const broker = this.broker as TestBroker;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the ${KILL_AT}th notice was not committed within 60 s`)),
        60_000,
      );
      this.onNotified = () => {
        if (this.notified < KILL_AT) return;
        this.onNotified = undefined;
        clearTimeout(timer);
        const dying = [red.kill()];
        if (this.kind === 'aedes') dying.push(broker.close());
        void Promise.all(dying).then(() => resolve(), reject);
      };
    });
  }

  /** The broker first (Aedes: empty, same port; devices reconnect to it), then Node-RED. Returns the restart's ms. */
  async restart(): Promise<number> {
    if (this.kind === 'aedes') {
      this.broker = await startAedes(undefined, (this.broker as TestBroker).port);
      await sleep(1500); // the devices' and the watcher's clients reconnect every second
    }
    this.restarted = true;
    return (this.red as NodeRedChild).start();
  }

  async batch(id: number): Promise<{ state: string; counts: Record<string, number> }> {
    return getJson(`${this.base}/batches/${id}`);
  }

  async tasks(id: number): Promise<TaskView[]> {
    return getJson(`${this.base}/batches/${id}/tasks?limit=1000`);
  }

  async recoveries(id: number): Promise<{ taskId: number }[]> {
    const transitions = await getJson<{ taskId: number; from: string; to: string; reason: string | null }[]>(
      `${this.base}/batches/${id}/transitions?limit=100000`,
    );
    return transitions.filter(
      (t) => t.from === 'NOTIFIED' && t.to === 'NOTIFIED' && /re-sent after a restart/.test(t.reason ?? ''),
    );
  }

  deviceVersions(): string[] {
    return (this.sim as Simulation).devices.map((d) => d.versions.default);
  }

  async stop(): Promise<void> {
    this.onNotified = undefined;
    await this.red?.close();
    await this.sim?.stop();
    await this.watcher?.endAsync(true);
    await this.broker?.close();
    await this.server?.close();
  }
}

for (const kind of ['aedes', 'mosquitto'] as const) {
  const title =
    kind === 'aedes'
      ? 'an embedded Aedes broker that dies and restarts with Node-RED'
      : 'an external Mosquitto that stays up';
  describe(`reliability: notices across a crash, with ${title}`, function () {
    this.timeout(120_000);
    let run: CrashRun;

    beforeEach(function () {
      if (kind === 'mosquitto') needPart(this, mosquittoPath(), 'Mosquitto');
      run = new CrashRun(kind);
    });

    afterEach(async function () {
      await run?.stop();
    });

    it('the tasks NOTIFIED at the kill are noticed again, the batch completes on schedule, ≤ 2 notices per device after the restart', async function () {
      await run.start();
      const batchId = await run.startBatch();
      await run.crash();
      const restartMs = await run.restart();
      const restartedAt = Date.now();
      // The rate schedule of every notice after the restart, the hold and one upgrade, plus a margin.
      const scheduleMs =
        RECOVERY_DELAY_MS + (DEVICES * 60_000) / PER_MINUTE + HOLD_S * 1000 + TIMING.burnMs + TIMING.rebootMs;
      const deadline = restartedAt + scheduleMs + 15_000;
      let batch = await run.batch(batchId);
      while (batch.state !== 'COMPLETED') {
        if (Date.now() > deadline) {
          const states = (await run.tasks(batchId)).map(
            (t) => `${t.deviceName} ${t.state} (${t.reason}; ${t.attempts} notices, ${t.retries} retries)`,
          );
          throw new Error(
            `batch ${batchId} not COMPLETED ${scheduleMs + 15_000} ms after the restart: ${states.join('; ')}`,
          );
        }
        await sleep(250);
        batch = await run.batch(batchId);
      }
      const completionMs = Date.now() - restartedAt;
      await sleep(500); // the last notices on their way to the watcher

      const tasks = await run.tasks(batchId);
      should(tasks.map((t) => t.state)).eql(Array(DEVICES).fill('SUCCEEDED'), JSON.stringify(tasks));
      should(run.deviceVersions()).eql(Array(DEVICES).fill('2.0.0'));
      for (const task of tasks) should(task.retries).equal(0);

      const recoveries = await run.recoveries(batchId);
      // The two notices held by the delay node at the kill, at least; each task recovered once.
      should(recoveries.length).be.aboveOrEqual(2);
      should(new Set(recoveries.map((r) => r.taskId)).size).equal(recoveries.length);

      const names = tasks.map((t) => t.deviceName);
      const after = names.map((n) => run.after.get(n) ?? 0);
      const total = names.map((n) => (run.before.get(n) ?? 0) + (run.after.get(n) ?? 0));
      should(Math.max(...after)).be.belowOrEqual(
        2,
        `notices after the restart: ${JSON.stringify(Object.fromEntries(run.after))}`,
      );
      should(Math.min(...total)).be.aboveOrEqual(1);
      printFigures(`crash with ${kind}`, {
        devices: DEVICES,
        atKillNotified: KILL_AT,
        recovered: recoveries.length,
        noticesMax: Math.max(...total),
        noticesMean: Number((total.reduce((a, b) => a + b, 0) / DEVICES).toFixed(2)),
        afterRestartMax: Math.max(...after),
        restartMs,
        completionMs,
        deadlineMs: scheduleMs + 15_000,
      });
    });
  });
}
