/**
 * `npm start`: the whole thing on one machine — an embedded MQTT broker (or MQTT_URL), Node-RED
 * with this package and the platform example flow, a sample firmware, and a fleet of simulated
 * devices. A second start keeps the state of the first (OTA_DEMO_DIR).
 */
import { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve, join } from 'node:path';
import { Simulation, simOptions } from '../sim';
import { EmbeddedBroker, startEmbeddedBroker } from './broker';
import { DEMO_PRODUCT, demoFlow, retarget } from './demo-flow';
import { getJson, prepareUserDir, spawnNodeRed, waitForFleets } from './node-red';

export interface DemoSettings {
  port: number;
  mqttPort: number;
  mqttUrl?: string;
  dir: string;
  devices: number;
  publicUrl: string;
}

function intEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function readDemoSettings(env: NodeJS.ProcessEnv = process.env): DemoSettings {
  const port = intEnv(env, 'PORT', 1880, 1, 65535);
  const mqttUrl = env.MQTT_URL || undefined;
  if (mqttUrl && !/^mqtts?:\/\/[^/]+/.test(mqttUrl)) throw new Error(`MQTT_URL must look like mqtt://host:1883, got "${mqttUrl}"`);
  return {
    port,
    mqttPort: intEnv(env, 'MQTT_PORT', 1883, 1, 65535),
    mqttUrl,
    dir: resolve(env.OTA_DEMO_DIR || '.ota-demo'),
    devices: intEnv(env, 'SIM_DEVICES', 20, 0, 100_000),
    publicUrl: (env.OTA_PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
  };
}

/** The sample package: the same bytes the example's "upload firmware" inject sends. */
export const SAMPLE_VERSION = '1.1.0';
export function samplePackage(): Buffer {
  return Buffer.alloc(4096, 'demo firmware 1.1.0\n');
}

/** How the demo fleet is made up: test devices, the main group (a few failing), an older group, another product. */
export function demoGroups(total: number, broker: string) {
  const tests = Math.min(2, total);
  const rest = total - tests;
  const older = Math.floor(rest * 0.2);
  const sensors = Math.floor(rest * 0.1);
  const main = rest - older - sensors;
  const timing = { bootMs: 2000, rebootMs: 2000, burnMs: 1500 };
  const groups = [
    simOptions({ broker, productKey: DEMO_PRODUCT, version: '1.0.0', devices: tests, namePrefix: 'test-', timing, seed: 1 }),
    main > 0 &&
      simOptions({
        broker,
        productKey: DEMO_PRODUCT,
        version: '1.0.0',
        devices: main,
        namePrefix: 'device-',
        timing,
        seed: 2,
        faults: main >= 6 ? { failDownload: '1', failVerify: '1', failBurn: '1' } : {},
      }),
    older > 0 && simOptions({ broker, productKey: DEMO_PRODUCT, version: '0.9.0', devices: older, namePrefix: 'legacy-', timing, seed: 3 }),
    sensors > 0 && simOptions({ broker, productKey: 'demo-sensor', version: '2.3.0', devices: sensors, namePrefix: 'sensor-', timing, seed: 4 }),
  ];
  return tests > 0 ? groups.filter((g) => g !== false) : [];
}

function upload(url: string, body: Buffer): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** Keeps the stored flow on this run's broker and URL (a second start may use other ports). */
function retargetStoredFlow(dir: string, broker: URL, publicUrl: string): void {
  const file = join(dir, 'flows.json');
  if (!existsSync(file)) return;
  const flows = JSON.parse(readFileSync(file, 'utf8'));
  retarget(flows, broker, publicUrl);
  writeFileSync(file, JSON.stringify(flows, null, 2));
}

export async function startDemo(settings: DemoSettings, log: (line: string) => void = console.log): Promise<() => Promise<void>> {
  let broker: EmbeddedBroker | undefined;
  let child: ChildProcess | undefined;
  const sims: Simulation[] = [];
  const stop = async () => {
    await Promise.all(sims.map((s) => s.stop()));
    if (child && child.exitCode === null) {
      const exited = new Promise((ok) => child?.once('exit', ok));
      child.kill('SIGINT');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await broker?.close();
  };
  try {
    if (!settings.mqttUrl) broker = await startEmbeddedBroker(settings.mqttPort);
    const brokerUrl = new URL(settings.mqttUrl ?? `mqtt://127.0.0.1:${broker?.port}`);
    const { flows } = demoFlow(brokerUrl, settings.publicUrl);
    retargetStoredFlow(settings.dir, brokerUrl, settings.publicUrl);
    prepareUserDir({ userDir: settings.dir, port: settings.port, flows, settings: { logging: { console: { level: 'info' } } } });
    child = spawnNodeRed(settings.dir);
    const logFile = createWriteStream(join(settings.dir, 'node-red.log'), { flags: 'a' });
    child.stdout?.pipe(logFile);
    child.stderr?.pipe(logFile);
    const base = `http://127.0.0.1:${settings.port}`;
    const [fleet] = await waitForFleets(base, 1, 90_000, child);
    const api = `${base}/ota/fleets/${fleet.id}`;
    const known = await getJson<{ version: string; productKey: string }[]>(`${api}/firmware`);
    if (!known.some((f) => f.productKey === DEMO_PRODUCT && f.version === SAMPLE_VERSION)) {
      const status = await upload(`${api}/firmware?productKey=${DEMO_PRODUCT}&version=${SAMPLE_VERSION}`, samplePackage());
      if (status !== 201) log(`(the sample firmware upload answered HTTP ${status}; upload it from the flow instead)`);
    }
    for (const options of demoGroups(settings.devices, brokerUrl.toString())) {
      const sim = new Simulation(options);
      sims.push(sim);
      await sim.start();
    }
    log(banner(settings, brokerUrl, sims));
    return stop;
  } catch (err) {
    await stop();
    throw err;
  }
}

function banner(settings: DemoSettings, broker: URL, sims: Simulation[]): string {
  const devices = sims.reduce((n, s) => n + s.summary().total, 0);
  return [
    '',
    `  node-red-contrib-mqtt-ota demo`,
    `  editor        http://localhost:${settings.port}   (flow "OTA demo"; the OTA tab in the sidebar)`,
    `  MQTT broker   ${broker}${settings.mqttUrl ? '' : ' (embedded)'}`,
    `  devices       ${devices} simulated (test-001/002, device-…, legacy-… on 0.9.0, sensor-… of demo-sensor; 3 set to fail)`,
    `  state         ${settings.dir}  (Node-RED log: node-red.log)`,
    '',
    '  1. Press the "upload firmware" inject: firmware 1.1.0 is verified on test-001 and test-002.',
    '  2. Press "start batch": 50 % of demo-product is upgraded; watch the OTA tab and the debug sidebar.',
    '  Ctrl-C stops everything; npm start again keeps the fleet\'s state.',
    '',
  ].join('\n');
}

export async function main(): Promise<void> {
  let settings: DemoSettings;
  try {
    settings = readDemoSettings();
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
    return;
  }
  console.log(`starting: broker, Node-RED on port ${settings.port}, ${settings.devices} simulated devices…`);
  let stop: () => Promise<void>;
  try {
    stop = await startDemo(settings);
  } catch (err) {
    console.error(`the demo could not start: ${(err as Error).message}`);
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const shutdown = () => {
    if (stopping) return process.exit(130);
    stopping = true;
    console.log('\nstopping…');
    stop().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

if (require.main === module) void main();
