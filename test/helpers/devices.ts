/**
 * Scripted devices for tests that need many of them: one mqtt.js connection carries them all
 * (a test of the platform, not of the broker). Each answers a notice like an SDK: T3 0, 50, 100,
 * then T1 with the new version — or a failure step when told to.
 */
import mqtt, { MqttClient } from 'mqtt';
import { buildProgressReport, buildVersionReport, parseTopic, parseUpgradeNotice } from '../../src/protocol';
import { getJson, waitFor } from './http';

/** How a device answers a notice. */
export type Behaviour =
  | { kind: 'succeed' }
  | { kind: 'fail'; step: number }
  /** Never answers. */
  | { kind: 'silent' }
  /** Reports progress, then nothing more. */
  | { kind: 'stall' }
  /** Reboots into another version than the notice's. */
  | { kind: 'wrongVersion'; version: string };

export interface ScriptOptions {
  /** Pause between two reports of an upgrade. */
  stepMs?: number;
  behaviour?: (deviceName: string, attempt: number) => Behaviour;
  module?: string;
}

export class ScriptedDevices {
  readonly versions = new Map<string, string>();
  /** When each device last reported its version (Date.now()). */
  readonly reportedAt = new Map<string, number>();
  readonly notices = new Map<string, number>();
  private readonly busy = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private client: MqttClient | undefined;
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly url: string,
    readonly productKey: string,
    readonly names: string[],
    readonly version: string,
    readonly options: ScriptOptions = {},
  ) {
    for (const name of names) this.versions.set(name, version);
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.url, { clientId: `devices-${process.pid}-${Date.now()}`, reconnectPeriod: 200 });
    this.client = client;
    await new Promise<void>((ok, fail) => {
      client.once('connect', () => ok());
      client.once('error', fail);
    });
    await client.subscribeAsync(`/ota/device/upgrade/${this.productKey}/+`, { qos: 1 });
    client.on('message', (topic, payload) => this.onNotice(topic, payload));
    for (const name of this.names) this.reportVersion(name);
  }

  /**
   * Waits until the fleet's inventory (`GET <fleet api>/devices`) lists every device. A device
   * reports its version once, at boot; on a loaded machine that T1 can reach the broker before the
   * flow's `mqtt in` has subscribed, so the devices still missing report again every 2 s, as a
   * device that reconnects would.
   */
  async untilInventoried(fleetApi: string, timeoutMs = 60_000): Promise<void> {
    let nudged = Date.now();
    await waitFor(
      'the inventory',
      async () => {
        const listed = await getJson<{ productKey: string; deviceName: string }[]>(`${fleetApi}/devices`);
        const known = new Set(listed.filter((d) => d.productKey === this.productKey).map((d) => d.deviceName));
        const missing = this.names.filter((n) => !known.has(n));
        if (missing.length === 0) return true;
        if (Date.now() - nudged > 2000) {
          nudged = Date.now();
          for (const name of missing) this.reportVersion(name);
        }
        return undefined;
      },
      timeoutMs,
    );
  }

  reportVersion(name: string): void {
    const module = this.options.module;
    this.reportedAt.set(name, Date.now());
    this.client?.publish(
      `/ota/device/inform/${this.productKey}/${name}`,
      buildVersionReport({ version: this.versions.get(name) as string, module }),
      { qos: 1 },
    );
  }

  private progress(name: string, step: number, desc = ''): void {
    this.client?.publish(
      `/ota/device/progress/${this.productKey}/${name}`,
      buildProgressReport({ step, desc, module: this.options.module }),
      { qos: 1 },
    );
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private onNotice(topic: string, payload: Buffer): void {
    const { deviceName } = parseTopic(topic);
    const firmware = parseUpgradeNotice(payload).firmware;
    if (!firmware) return;
    this.notices.set(deviceName, (this.notices.get(deviceName) ?? 0) + 1);
    if (this.versions.get(deviceName) === firmware.version) return this.reportVersion(deviceName);
    if (this.busy.has(deviceName)) return;
    this.busy.add(deviceName);
    const attempt = (this.attempts.get(deviceName) ?? 0) + 1;
    this.attempts.set(deviceName, attempt);
    const step = this.options.stepMs ?? 100;
    const behaviour = this.options.behaviour?.(deviceName, attempt) ?? { kind: 'succeed' };
    if (behaviour.kind === 'silent') return;
    this.progress(deviceName, 0);
    this.later(step, () => {
      this.progress(deviceName, 50);
      // A stalled device never finishes this upgrade, but takes the next notice.
      if (behaviour.kind === 'stall') this.busy.delete(deviceName);
    });
    if (behaviour.kind === 'stall') return;
    this.later(2 * step, () => {
      if (behaviour.kind === 'fail') {
        this.busy.delete(deviceName);
        return this.progress(deviceName, behaviour.step, 'scripted failure');
      }
      this.progress(deviceName, 100);
      this.later(step, () => {
        this.versions.set(deviceName, behaviour.kind === 'wrongVersion' ? behaviour.version : firmware.version);
        this.busy.delete(deviceName);
        this.reportVersion(deviceName);
      });
    });
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.client?.endAsync(true);
  }
}
