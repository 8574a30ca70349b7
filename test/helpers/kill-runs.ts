/**
 * SIGKILL of Node-RED at seeded random points of running batches. One Node-RED (a child process
 * on one user directory, the platform flow of platform-flow.ts) and one broker serve every run;
 * each run upgrades the same scripted devices to the next version, kills Node-RED once or twice
 * after a seeded number of acknowledged transitions, starts it again, and checks that the batch
 * completes with no task lost, no acknowledged transition lost, and no device notified more
 * often than 1 + retryCount.
 *
 * Reports can be lost to a kill: core `mqtt in` acknowledges a QoS 1 message to the broker as it
 * receives it, before the fleet has stored what it says, so reports that arrived in the last
 * milliseconds are gone and the broker will not send them again. The batches here have a timeout,
 * as a deployment should: a task whose final report was lost that way fails by timeout (its
 * device is at the new version, and it reported so less than IN_FLIGHT_MS before a kill) and the
 * batch still completes; such tasks are counted (`lostInFlight`) and any other failure fails the
 * run. See RELIABILITY.md.
 */
import fc from 'fast-check';
import mqtt from 'mqtt';
import should from 'should';
import { startAedes, TestBroker } from './broker';
import { ScriptedDevices } from './devices';
import { getJson, postJson, waitFor } from './http';
import { NodeRedChild } from './node-red-child';
import { platformFlow } from './platform-flow';

/**
 * How long before a kill a device's final report may have been sent, for its loss to be the kill's
 * (and how long after the test sent SIGKILL, before the process is gone).
 */
const IN_FLIGHT_MS = 1000;
const DYING_MS = 50;

export interface KillRunOptions {
  runs: number;
  seed: number;
  devices: number;
  retryCount: number;
  /** Minutes (fractions allowed) before an unanswered notice is sent again. */
  retryInterval: number;
  maximumPerMinute: number;
  /** Pause between two reports of a scripted device. */
  stepMs: number;
  /** Minutes from a task's first progress report to its timeout. */
  timeoutInMinutes: number;
}

export interface KillRunFigures {
  run: number;
  /** Acknowledged transitions after which Node-RED was killed (one or two kills). */
  killedAfter: number[];
  /** Task counts of the batch seen at the first kill. */
  atKill: Record<string, number>;
  acknowledged: number;
  stored: number;
  maxNotices: number;
  restartMs: number[];
  /** Tasks failed by timeout because their device's last report was lost at the kill (the device upgraded). */
  lostInFlight: number;
  ms: number;
}

interface TaskEvent {
  taskId?: number;
  batchId?: number;
  from?: string | null;
  to?: string;
}

interface BatchView {
  id: number;
  state: string;
  counts: Record<string, number>;
}

/** The kill plan of each run: after how many acknowledged transitions, and maybe again after the restart. */
function killPlans(o: KillRunOptions) {
  return fc.sample(
    fc.record({
      // A device's upgrade is 5 transitions (notify, 3 progress steps, success): anywhere in the batch.
      first: fc.integer({ min: 1, max: 5 * o.devices - 1 }),
      again: fc.option(fc.integer({ min: 1, max: 2 * o.devices }), { freq: 2, nil: undefined }),
    }),
    { numRuns: o.runs, seed: o.seed },
  );
}

export class KillRuns {
  readonly figures: KillRunFigures[] = [];
  private broker: TestBroker | undefined;
  private red: NodeRedChild | undefined;
  private devices: ScriptedDevices | undefined;
  private watcher: mqtt.MqttClient | undefined;
  private fleetId = '';
  private names: string[] = [];
  /** Transitions (and notices) heard for the batch of the current run. */
  private events: TaskEvent[] = [];
  private notices = new Map<string, number>();
  private version = '';
  private onEvent: (() => void) | undefined;
  private stopped = false;

  constructor(readonly o: KillRunOptions) {}

  async start(): Promise<void> {
    this.broker = await startAedes();
    const { flows, fleetId } = platformFlow({ host: '127.0.0.1', port: this.broker.port });
    this.fleetId = fleetId;
    this.red = await NodeRedChild.prepare({
      flows,
      settings: { logging: { console: { level: 'warn' } }, mqttReconnectTime: 250 },
    });
    await this.red.start();
    this.watcher = await mqtt.connectAsync(this.broker.url, { clientId: `kill-watcher-${process.pid}` });
    await this.watcher.subscribeAsync(['test/events', '/ota/device/upgrade/#'], { qos: 1 });
    this.watcher.on('message', (topic, payload) => this.heard(topic, payload));
    this.names = Array.from({ length: this.o.devices }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
    this.devices = new ScriptedDevices(this.broker.url, 'pk1', this.names, '1.0.0', { stepMs: this.o.stepMs });
    await this.devices.start();
    await this.devices.untilInventoried(`${this.red.baseUrl}/ota/fleets/${this.fleetId}`);
  }

  private heard(topic: string, payload: Buffer): void {
    if (topic === 'test/events') {
      const event = JSON.parse(payload.toString()) as TaskEvent;
      if (event.taskId !== undefined) this.events.push(event);
      this.onEvent?.();
    } else {
      const notice = JSON.parse(payload.toString()) as { data?: { version?: string } };
      if (notice.data?.version !== this.version) return;
      const name = topic.split('/').pop() as string;
      this.notices.set(name, (this.notices.get(name) ?? 0) + 1);
    }
  }

  private get<T>(path: string): Promise<T> {
    return getJson<T>(`${(this.red as NodeRedChild).baseUrl}/ota/fleets/${this.fleetId}${path}`);
  }

  private heardFor(batchId: number): number {
    return this.events.filter((e) => e.batchId === batchId).length;
  }

  /**
   * SIGKILLs Node-RED at the moment the `count`-th transition of `batchId` is heard (from inside
   * the MQTT message handler), or right after the batch completes if it ends before that.
   */
  private async killAt(batchId: number, count: number): Promise<number> {
    const red = this.red as NodeRedChild;
    /** When the first kill was sent. */
    let killedAt: number | undefined;
    const killed = () => killedAt !== undefined;
    const kill = () => {
      killedAt ??= Date.now();
      this.onEvent = undefined;
      return red.kill();
    };
    const byEvents = new Promise<void>((resolve) => {
      this.onEvent = () => {
        if (!killed() && this.heardFor(batchId) >= count) void kill().then(resolve);
      };
      this.onEvent();
    });
    const byCompletion = (async () => {
      const deadline = Date.now() + 120_000;
      while (!killed() && !this.stopped) {
        if (Date.now() > deadline)
          throw new Error(`batch ${batchId}: neither ${count} transitions nor its completion within 120 s`);
        await new Promise((r) => setTimeout(r, 200));
        const b = killed() ? undefined : await this.get<BatchView>(`/batches/${batchId}`).catch(() => undefined);
        if (!killed() && b?.state === 'COMPLETED') await kill();
      }
    })();
    await Promise.race([byEvents, byCompletion]);
    await kill();
    return killedAt as number;
  }

  /** One run: a batch to the next version, killed and restarted as planned, then checked. */
  async run(index: number, plan: { first: number; again?: number }): Promise<KillRunFigures> {
    const red = this.red as NodeRedChild;
    const started = Date.now();
    this.events = [];
    this.notices = new Map();
    this.version = `1.${index + 1}.0`;
    const batch = await postJson<{ id: number }>(`${red.baseUrl}/ota/fleets/${this.fleetId}/batches`, {
      firmware: {
        version: this.version,
        url: `http://firmware.invalid/pk1-${this.version}.bin`,
        size: 1000,
        md5: 'c'.repeat(32),
      },
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: {
        maximumPerMinute: this.o.maximumPerMinute,
        retryCount: this.o.retryCount,
        retryInterval: this.o.retryInterval,
        timeoutInMinutes: this.o.timeoutInMinutes,
      },
    });
    const killedAfter: number[] = [];
    const killTimes: number[] = [];
    const restartMs: number[] = [];
    let atKill: Record<string, number> = {};
    for (const extra of plan.again === undefined ? [plan.first] : [plan.first, plan.again]) {
      killTimes.push(await this.killAt(batch.id, this.heardFor(batch.id) + extra));
      killedAfter.push(this.heardFor(batch.id));
      if (killedAfter.length === 1) atKill = this.countsOf(batch.id);
      restartMs.push(await red.start());
    }
    const done = await waitFor(
      `batch ${batch.id} to complete after the restart`,
      async () => {
        const b = await this.get<BatchView>(`/batches/${batch.id}`);
        return b.state === 'COMPLETED' ? b : undefined;
      },
      120_000,
    );
    await new Promise((r) => setTimeout(r, 200)); // the last events on their way
    // Acknowledged: every state change the platform published (after its commit), before and after the kills.
    const acknowledged = this.events
      .filter((e) => e.batchId === batch.id && e.from !== e.to)
      .map((e) => `${e.taskId}:${e.from}>${e.to}`);
    const tasks = await this.get<{ deviceName: string; state: string; reason: string | null; attempts: number }[]>(
      `/batches/${batch.id}/tasks?limit=100000`,
    );
    const n = this.o.devices;
    const unfinished = tasks.filter((t) => t.state !== 'SUCCEEDED');
    const describe = unfinished
      .map(
        (t) =>
          `${t.deviceName} ${t.state} (${t.reason}; ${t.attempts} notices, ${this.notices.get(t.deviceName) ?? 0} heard; device at ${this.devices?.versions.get(t.deviceName)})`,
      )
      .join('; ');
    // A failure is allowed only where a device's last report was lost in flight at a kill: it timed out, and the device runs the new version.
    const lostInFlight = unfinished.filter(
      (t) =>
        t.state === 'FAILED' &&
        /^timed out/.test(t.reason ?? '') &&
        this.devices?.versions.get(t.deviceName) === this.version,
    );
    should(lostInFlight.length).equal(unfinished.length, describe);
    // ... and only a report sent just before a kill: the device's last one, less than IN_FLIGHT_MS before it.
    const reportedAt = (t: { deviceName: string }) => this.devices?.reportedAt.get(t.deviceName) ?? 0;
    const notJustBeforeAKill = lostInFlight.filter(
      (t) => !killTimes.some((k) => reportedAt(t) - k <= DYING_MS && k - reportedAt(t) < IN_FLIGHT_MS),
    );
    const reportTimes = lostInFlight.map((t) => `${t.deviceName} ${reportedAt(t) - started} ms`);
    should(notJustBeforeAKill.map((t) => t.deviceName)).eql(
      [],
      `lost, but not reported just before a kill (kills at ${killTimes.map((k) => k - started).join(', ')} ms; last reports at ${reportTimes.join(', ')}): ${describe}`,
    );
    should(done.counts).eql(
      {
        CONFIRM: 0,
        QUEUED: 0,
        NOTIFIED: 0,
        IN_PROGRESS: 0,
        SUCCEEDED: n - lostInFlight.length,
        FAILED: lostInFlight.length,
        CANCELED: 0,
      },
      describe,
    );
    should(tasks.map((t) => t.deviceName).sort()).eql(this.names);
    const stored = new Set(
      (
        await this.get<{ taskId: number; from: string; to: string }[]>(`/batches/${batch.id}/transitions?limit=100000`)
      ).map((t) => `${t.taskId}:${t.from}>${t.to}`),
    );
    should(acknowledged.filter((a) => !stored.has(a))).eql([], 'acknowledged transitions lost');
    for (const name of this.names) should(this.notices.get(name) ?? 0).be.within(1, 1 + this.o.retryCount);
    const figures: KillRunFigures = {
      run: index + 1,
      killedAfter,
      atKill,
      acknowledged: acknowledged.length,
      stored: stored.size,
      maxNotices: Math.max(...this.names.map((name) => this.notices.get(name) ?? 0)),
      restartMs,
      lostInFlight: lostInFlight.length,
      ms: Date.now() - started,
    };
    this.figures.push(figures);
    return figures;
  }

  /** What the heard transitions say about the batch's tasks (their latest states). */
  private countsOf(batchId: number): Record<string, number> {
    const latest = new Map<number, string>();
    for (const e of this.events)
      if (e.batchId === batchId && e.taskId !== undefined && e.to) latest.set(e.taskId, e.to);
    const counts: Record<string, number> = {};
    for (const state of latest.values()) counts[state] = (counts[state] ?? 0) + 1;
    return counts;
  }

  plans() {
    return killPlans(this.o);
  }

  get kills(): number {
    return this.red?.kills ?? 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.onEvent = undefined;
    await this.red?.close();
    await this.devices?.stop();
    await this.watcher?.endAsync(true);
    await this.broker?.close();
  }
}
