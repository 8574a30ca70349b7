/**
 * Running the flows of examples/ as a user does: the JSON as Import gives it, put on a tab, with
 * only what the user must set changed (the broker node, the fleet's Public URL, by the demo's
 * `retarget`); the test presses the buttons (inject nodes) and reads what the debug nodes show.
 * Devices are `ota-sim` simulations with fast timing, and `NamedDevice` for a device whose name
 * the simulator cannot make (`test-1`: its names are numbered with at least three digits).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import mqtt, { MqttClient } from 'mqtt';
import { retarget } from '../../src/demo/demo-flow';
import { buildProgressReport, buildVersionReport, parseUpgradeNotice } from '../../src/protocol';
import { Simulation, simOptions, SimOptionsInput } from '../../src/sim';
import { mqttNodeModule } from './core-nodes';
import { loadFlow } from './fleet-red';
import type { FlowNode } from './flow';
import { getJson, postJson, waitFor } from './http';
import { delay, Inbox } from './red';

const examplesDir = path.resolve(__dirname, '../../../examples');

// The core nodes ship in @node-red/nodes, found from wherever node-red itself is installed.
const coreDir = path.join(
  path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(require.resolve('node-red'))] })),
  'core',
);

/** The core nodes the examples are built from, besides MQTT and Catch (loaded with the OTA nodes). */
const exampleCoreModules = [
  'common/20-inject.js',
  'common/21-debug.js',
  'common/60-link.js',
  'common/90-comment.js',
  'function/10-function.js',
  'function/10-switch.js',
  'function/15-change.js',
  'network/21-httprequest.js',
].map((file) => require(path.join(coreDir, file)));

/** Fast devices, as the demo tests use them: boot within 200 ms, burn and reboot in 100 ms. */
export const FAST_TIMING = { bootMs: 200, rebootMs: 100, burnMs: 100 };

export class Example {
  readonly flows: FlowNode[];

  /** examples/`file` on a tab, pointed at `broker` and with devices downloading from `publicUrl`. */
  constructor(
    readonly file: string,
    broker: string,
    publicUrl: string,
  ) {
    const nodes = JSON.parse(readFileSync(path.join(examplesDir, file), 'utf8')) as FlowNode[];
    const tab: FlowNode = { id: `example-run-${file.slice(0, 2)}`, type: 'tab', label: file };
    // Config nodes stay global, as Import leaves them.
    this.flows = [
      tab,
      ...nodes.map((n) => (n.type === 'mqtt-broker' || n.type === 'ota-fleet' ? { ...n } : { ...n, z: tab.id })),
    ];
    retarget(this.flows as Parameters<typeof retarget>[0], new URL(broker), publicUrl);
  }

  /** The one node of `type` named `name`. */
  node(type: string, name: string): FlowNode {
    const found = this.flows.filter((n) => n.type === type && n.name === name);
    if (found.length !== 1) throw new Error(`examples/${this.file} has ${found.length} ${type} nodes named "${name}"`);
    return found[0];
  }

  get fleetId(): string {
    const fleets = this.flows.filter((n) => n.type === 'ota-fleet');
    if (fleets.length !== 1) throw new Error(`examples/${this.file} has ${fleets.length} ota-fleet nodes`);
    return fleets[0].id;
  }

  /** Deploys the flow (with `others`, e.g. a second example on its own tab) in the test helper's runtime. */
  async deploy(...others: Example[]): Promise<void> {
    // The test helper registers its own Catch module once per Catch node in the flow, so two
    // examples side by side fail with "catch already registered": the Catch module comes with
    // the OTA modules instead, once.
    const preloading = helper as unknown as { _nodeModules: Record<string, unknown> };
    const preloaded = preloading._nodeModules;
    preloading._nodeModules = {};
    try {
      await loadFlow([...this.flows, ...others.flatMap((o) => o.flows)], {}, [mqttNodeModule, ...exampleCoreModules]);
    } finally {
      preloading._nodeModules = preloaded;
    }
  }

  /** Resolves once every MQTT broker node of the flow is connected (its `mqtt in` nodes subscribe then). */
  async connected(): Promise<void> {
    const brokers = this.flows
      .filter((n) => n.type === 'mqtt-broker')
      .map((n) => helper.getNode(n.id) as unknown as { connected: boolean });
    await waitFor(
      `the MQTT nodes of examples/${this.file} connected`,
      async () => (brokers.every((b) => b.connected) ? true : undefined),
      10_000,
    );
    // The subscriptions go out right after the connection: give the broker a moment to take them.
    await delay(100);
  }

  /** Presses the button of the inject node `name`. */
  press(name: string): void {
    helper.getNode(this.node('inject', name).id).receive({});
  }

  /** What the debug node `name` receives from now on. */
  debug(name: string): Inbox {
    return this.inbox('debug', name);
  }

  /** What the node of `type` named `name` receives from now on. */
  inbox(type: string, name: string): Inbox {
    return new Inbox(this.node(type, name).id);
  }
}

/** The admin API of one fleet, under the admin root at `adminUrl`. */
export function fleetApi(adminUrl: string, fleetId: string) {
  const base = `${adminUrl}/ota/fleets/${fleetId}`;
  return {
    get: <T>(route: string) => getJson<T>(`${base}${route}`),
    post: <T>(route: string, body: unknown) => postJson<T>(`${base}${route}`, body),
  };
}

/** Simulated devices of `productKey` on `broker`, fast, started (every device booted and reported). */
export async function simulate(input: Omit<SimOptionsInput, 'timing'>, started: Simulation[]): Promise<Simulation> {
  const sim = new Simulation(simOptions({ ...input, timing: FAST_TIMING }));
  started.push(sim);
  await sim.start();
  return sim;
}

/** Each device's running version (module `default`), by name. */
export function versionsOf(...sims: Simulation[]): Record<string, string> {
  return Object.fromEntries(sims.flatMap((s) => s.devices.map((d) => [d.name, d.versions.default])));
}

/** What is published on `filters`, in order, from the moment `watch` resolves. */
export async function watch(broker: string, filters: string[]) {
  const client = await mqtt.connectAsync(broker, { clientId: `watch-${process.pid}-${Date.now()}` });
  const seen: { topic: string; payload: string }[] = [];
  client.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  await client.subscribeAsync(filters, { qos: 1 });
  return {
    seen,
    /** Publishes as a device or a platform would. */
    publish: (topic: string, payload: string) => client.publishAsync(topic, payload, { qos: 1 }),
    close: () => client.endAsync(true),
  };
}

/**
 * One device with any name, on its own connection and its own notice topic: reports its version,
 * and takes a notice as an SDK does — downloads the package, checks its size, reports T3 100 and
 * the new version.
 */
export class NamedDevice {
  version: string;
  private client: MqttClient | undefined;

  constructor(
    readonly broker: string,
    readonly productKey: string,
    readonly name: string,
    version: string,
  ) {
    this.version = version;
  }

  async start(): Promise<void> {
    const client = await mqtt.connectAsync(this.broker, {
      clientId: `named-${this.name}-${process.pid}`,
      reconnectPeriod: 200,
    });
    this.client = client;
    await client.subscribeAsync(`/ota/device/upgrade/${this.productKey}/${this.name}`, { qos: 1 });
    client.on('message', (_topic, payload) => void this.upgrade(payload));
    await client.publishAsync(
      `/ota/device/inform/${this.productKey}/${this.name}`,
      buildVersionReport({ version: this.version }),
      { qos: 1 },
    );
  }

  private async upgrade(payload: Buffer): Promise<void> {
    const firmware = parseUpgradeNotice(payload).firmware;
    if (!firmware || !this.client) return;
    const progress = (step: number, desc: string) =>
      this.client?.publishAsync(
        `/ota/device/progress/${this.productKey}/${this.name}`,
        buildProgressReport({ step, desc }),
        { qos: 1 },
      );
    const response = firmware.url ? await fetch(firmware.url).catch(() => undefined) : undefined;
    const body = response?.ok ? Buffer.from(await response.arrayBuffer()) : undefined;
    if (!body || body.length !== firmware.size)
      return void (await progress(-2, `download failed: ${response?.status ?? 'no connection'}`));
    await progress(100, 'package verified');
    this.version = firmware.version;
    await this.client.publishAsync(
      `/ota/device/inform/${this.productKey}/${this.name}`,
      buildVersionReport({ version: this.version }),
      { qos: 1 },
    );
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

/**
 * Runs `fn` with the local time zone set so that the hour of day is `hour` (a fixed UTC offset,
 * Etc/GMT±n), then restores the zone. What a function node reads with `new Date().getHours()`.
 */
export async function atLocalHour<T>(hour: number, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TZ;
  let offset = (((hour - new Date().getUTCHours()) % 24) + 24) % 24;
  if (offset > 12) offset -= 24;
  // Etc/GMT zones name the offset with the opposite sign: Etc/GMT-3 is UTC+3.
  process.env.TZ = offset === 0 ? 'Etc/UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}
