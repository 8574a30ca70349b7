/**
 * `npm start`: the whole thing on one machine — an embedded MQTT broker (or MQTT_URL), Node-RED
 * with this package and the platform example flow, a sample firmware, and a fleet of simulated
 * devices. A second start keeps the state of the first (OTA_DEMO_DIR).
 */
import { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { isIP, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { resolve, join } from 'node:path';
import { deviceName, Simulation, SimOptions, SimOptionsInput, simOptions } from '../sim';
import { ClientLogin, createAedesHooks, httpAuthority } from '../broker';
import { connectHost, EmbeddedBroker, isLoopback, startEmbeddedBroker } from './broker';
import { DEMO_HA, DEMO_PRODUCT, demoFlow, FlowNode, retarget, withHomeAssistant } from './demo-flow';
import {
  DeviceSecret,
  homeAssistantLogin,
  PlatformLogin,
  randomDeviceSecret,
  randomPlatformLogin,
  registerSecrets,
  storeHomeAssistantLogin,
  storePlatformLogin,
} from './logins';
import { getJson, prepareUserDir, spawnNodeRed, waitForFleets } from './node-red';
import { ClusterSettings, readClusterSettings, storeFleetStore } from './cluster';

export interface DemoSettings {
  port: number;
  mqttPort: number;
  /** The address the embedded broker listens on (MQTT_HOST). */
  mqttHost: string;
  /** The address Node-RED (editor, admin API, package downloads) listens on (NODE_RED_HOST). */
  nodeRedHost: string;
  mqttUrl?: string;
  /** Whether the embedded broker checks logins: devices sign with their own secrets (OTA_BROKER_AUTH). */
  brokerAuth: boolean;
  /** Why it checks them: asked for, or forced because the broker listens beyond this machine. */
  brokerAuthReason?: 'asked' | 'forced';
  dir: string;
  devices: number;
  publicUrl: string;
  /** Whether demo-product's devices are published to Home Assistant over MQTT discovery (OTA_HOMEASSISTANT). */
  homeAssistant: boolean;
  /** This instance shares the fleet with others (OTA_STORE_URL): its store, subscription group, package directory. */
  cluster?: ClusterSettings;
}

function intEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function readDemoSettings(env: NodeJS.ProcessEnv = process.env): DemoSettings {
  const port = intEnv(env, 'PORT', 1880, 1, 65535);
  const mqttUrl = env.MQTT_URL || undefined;
  if (mqttUrl && !/^mqtts?:\/\/[^/]+/.test(mqttUrl))
    throw new Error(`MQTT_URL must look like mqtt://host:1883, got "${mqttUrl}"`);
  const cluster = readClusterSettings(env, mqttUrl);
  const mqttHost = env.MQTT_HOST || '127.0.0.1';
  if (!isIP(mqttHost))
    throw new Error(`MQTT_HOST must be an IP address to listen on (127.0.0.1, 0.0.0.0, ::), got "${mqttHost}"`);
  const nodeRedHost = env.NODE_RED_HOST || '127.0.0.1';
  if (!isIP(nodeRedHost))
    throw new Error(`NODE_RED_HOST must be an IP address to listen on (127.0.0.1, 0.0.0.0, ::), got "${nodeRedHost}"`);
  const auth = env.OTA_BROKER_AUTH || undefined;
  if (auth !== undefined && auth !== 'on' && auth !== 'off')
    throw new Error(`OTA_BROKER_AUTH must be on or off, got "${auth}"`);
  if (mqttUrl && auth === 'on')
    throw new Error(
      'OTA_BROKER_AUTH is for the embedded broker; with MQTT_URL, logins are checked by that broker (docs/broker-acl.md)',
    );
  const ha = env.OTA_HOMEASSISTANT || 'off';
  if (ha !== 'on' && ha !== 'off') throw new Error(`OTA_HOMEASSISTANT must be on or off, got "${ha}"`);
  // Beyond this machine, anyone on the network could report for a device or read its notices.
  const forced = !mqttUrl && !isLoopback(mqttHost);
  const brokerAuth = auth === 'on' || forced;
  return {
    port,
    mqttPort: intEnv(env, 'MQTT_PORT', 1883, 1, 65535),
    mqttHost,
    nodeRedHost,
    mqttUrl,
    brokerAuth,
    ...(brokerAuth ? { brokerAuthReason: auth === 'on' ? ('asked' as const) : ('forced' as const) } : {}),
    // Instances of a cluster on one machine each need a Node-RED directory of their own.
    dir: resolve(env.OTA_DEMO_DIR || (cluster ? `.ota-demo-${port}` : '.ota-demo')),
    devices: intEnv(env, 'SIM_DEVICES', 20, 0, 100_000),
    publicUrl: (env.OTA_PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    homeAssistant: ha === 'on',
    ...(cluster ? { cluster } : {}),
  };
}

/** The sample package: the same bytes the example's "upload firmware" inject sends. */
export const SAMPLE_VERSION = '1.1.0';
export function samplePackage(): Buffer {
  return Buffer.alloc(4096, 'demo firmware 1.1.0\n');
}

/**
 * How the demo fleet is made up: test devices, the main group (a few failing), an older group,
 * another product. `signed`: every device gets a random secret of its own and logs in with it.
 */
export function demoGroups(total: number, broker: string, signed = false): SimOptions[] {
  const tests = Math.min(2, total);
  if (tests === 0) return [];
  const rest = total - tests;
  const older = Math.floor(rest * 0.2);
  const sensors = Math.floor(rest * 0.1);
  const main = rest - older - sensors;
  const timing = { bootMs: 2000, rebootMs: 2000, burnMs: 1500 };
  const groups: SimOptionsInput[] = [
    { broker, productKey: DEMO_PRODUCT, version: '1.0.0', devices: tests, namePrefix: 'test-', timing, seed: 1 },
    {
      broker,
      productKey: DEMO_PRODUCT,
      version: '1.0.0',
      devices: main,
      namePrefix: 'device-',
      timing,
      seed: 2,
      faults: main >= 6 ? { failDownload: '1', failVerify: '1', failBurn: '1' } : {},
    },
    { broker, productKey: DEMO_PRODUCT, version: '0.9.0', devices: older, namePrefix: 'legacy-', timing, seed: 3 },
    { broker, productKey: 'demo-sensor', version: '2.3.0', devices: sensors, namePrefix: 'sensor-', timing, seed: 4 },
  ];
  return groups
    .filter((g) => (g.devices ?? 0) > 0)
    .map((g) => simOptions(signed ? { ...g, secrets: randomSecrets(g) } : g));
}

function randomSecrets(group: SimOptionsInput): Map<string, string> {
  const devices = group.devices ?? 1;
  const names = Array.from({ length: devices }, (_, i) =>
    deviceName({ namePrefix: group.namePrefix ?? 'sim-', devices }, i),
  );
  return new Map(names.map((name) => [`${group.productKey}/${name}`, randomDeviceSecret()]));
}

/** The devices' secrets of signed groups, as the fleet's registry takes them. */
export function groupSecrets(groups: SimOptions[]): DeviceSecret[] {
  return groups.flatMap((g) =>
    [...(g.secrets ?? [])].map(([key, deviceSecret]) => {
      const [productKey, deviceName] = key.split('/');
      return { productKey, deviceName, deviceSecret };
    }),
  );
}

function upload(url: string, body: Buffer): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => ok(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

/**
 * The stored flow, kept on this run's broker and URL (a second start may use other ports), with
 * the Home Assistant nodes as OTA_HOMEASSISTANT says, or undefined on a first start.
 */
function retargetStoredFlow(
  dir: string,
  broker: URL,
  publicUrl: string,
  homeAssistant: boolean,
  cluster?: ClusterSettings,
): FlowNode[] | undefined {
  const file = join(dir, 'flows.json');
  if (!existsSync(file)) return undefined;
  const flows = withHomeAssistant(JSON.parse(readFileSync(file, 'utf8')) as FlowNode[], homeAssistant);
  retarget(flows, broker, publicUrl, cluster);
  writeFileSync(file, JSON.stringify(flows, null, 2));
  return flows;
}

/**
 * The embedded broker's hooks when it checks logins: devices' signatures are checked by the
 * fleet's endpoint in Node-RED (the registry the demo fills), the flow's own client logs in as
 * the platform, and Home Assistant (when asked for) with its own login, held to its topics.
 */
function brokerHooks(
  settings: DemoSettings,
  fleetId: string,
  platform: PlatformLogin,
  clients: ClientLogin[],
  log: (line: string) => void,
) {
  return createAedesHooks({
    authority: httpAuthority({ url: `http://127.0.0.1:${settings.port}/ota/fleets/${fleetId}` }),
    platform,
    clients,
    log: (line) => log(`  mqtt: ${line}`),
  });
}

type Interfaces = ReturnType<typeof networkInterfaces>;

/**
 * The address a client on another machine (or, on loopback, this one) uses to reach a broker
 * listening on `host`: for 0.0.0.0 and ::, this machine's first address on a network (IPv4
 * first, as home networks are), or undefined when it has none.
 */
export function addressForClients(host: string, interfaces: Interfaces = networkInterfaces()): string | undefined {
  if (isLoopback(host)) return connectHost(host);
  if (host !== '0.0.0.0' && host !== '::') return connectHost(host);
  const external = Object.values(interfaces)
    .flat()
    .filter((i) => i !== undefined && !i.internal);
  const v4 = external.find((i) => i?.family === 'IPv4');
  const v6 = host === '::' ? external.find((i) => i?.family === 'IPv6' && !i.address.startsWith('fe80:')) : undefined;
  const address = (v4 ?? v6)?.address;
  return address && isIPv6(address) ? `[${address}]` : address;
}

/** Home Assistant's login at the embedded broker, and where the demo told it to look. */
interface HomeAssistantAccess {
  username: string;
  address: string;
  port: number;
  file: string;
}

export async function startDemo(
  settings: DemoSettings,
  log: (line: string) => void = console.log,
): Promise<() => Promise<void>> {
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
    const brokerUrl = new URL(settings.mqttUrl ?? `mqtt://${connectHost(settings.mqttHost)}:${settings.mqttPort}`);
    const fresh = demoFlow(brokerUrl, settings.publicUrl, settings.homeAssistant, settings.cluster);
    const flows =
      retargetStoredFlow(settings.dir, brokerUrl, settings.publicUrl, settings.homeAssistant, settings.cluster) ??
      fresh.flows;
    const fleetId = flows.find((n) => n.type === 'ota-fleet')?.id ?? fresh.fleetId;
    const platform = settings.brokerAuth ? randomPlatformLogin() : undefined;
    // With logins checked, Home Assistant needs one of its own: a fresh password on every start.
    const haLogin = platform && settings.homeAssistant ? homeAssistantLogin(DEMO_HA) : undefined;
    if (!settings.mqttUrl) {
      const hooks = platform ? brokerHooks(settings, fleetId, platform, haLogin ? [haLogin] : [], log) : undefined;
      broker = await startEmbeddedBroker(settings.mqttPort, settings.mqttHost, hooks);
    }
    prepareUserDir({
      userDir: settings.dir,
      port: settings.port,
      flows: fresh.flows,
      settings: { uiHost: settings.nodeRedHost, logging: { console: { level: 'info' } } },
    });
    storePlatformLogin(settings.dir, flows, platform);
    storeFleetStore(settings.dir, flows, settings.cluster?.storeUrl);
    const haAccess = storeHomeAssistantAccess(settings, broker, haLogin);
    child = spawnNodeRed(settings.dir);
    const logFile = createWriteStream(join(settings.dir, 'node-red.log'), { flags: 'a' });
    child.stdout?.pipe(logFile);
    child.stderr?.pipe(logFile);
    const base = `http://127.0.0.1:${settings.port}`;
    const fleets = await waitForFleets(base, 1, 90_000, child);
    if (!fleets.some((f) => f.id === fleetId))
      throw new Error(
        `the flow in ${settings.dir} has no ota-fleet ${fleetId}; remove ${settings.dir} to start afresh`,
      );
    const api = `${base}/ota/fleets/${fleetId}`;
    const known = await getJson<{ version: string; productKey: string }[]>(`${api}/firmware`);
    if (!known.some((f) => f.productKey === DEMO_PRODUCT && f.version === SAMPLE_VERSION)) {
      const status = await upload(
        `${api}/firmware?productKey=${DEMO_PRODUCT}&version=${SAMPLE_VERSION}`,
        samplePackage(),
      );
      if (status !== 201) log(`(the sample firmware upload answered HTTP ${status}; upload it from the flow instead)`);
    }
    const groups = demoGroups(settings.devices, brokerUrl.toString(), settings.brokerAuth);
    await registerSecrets(api, groupSecrets(groups));
    for (const options of groups) {
      const sim = new Simulation(options);
      sims.push(sim);
      await sim.start();
    }
    log(banner(settings, brokerUrl, sims, platform, haAccess));
    return stop;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Writes Home Assistant's login to the demo directory (0600), or removes the file of an earlier
 * run when there is none; says where the password is, never the password itself.
 */
function storeHomeAssistantAccess(
  settings: DemoSettings,
  broker: EmbeddedBroker | undefined,
  login: ClientLogin | undefined,
): HomeAssistantAccess | undefined {
  if (!broker || !login) {
    storeHomeAssistantLogin(settings.dir);
    return undefined;
  }
  const address = addressForClients(settings.mqttHost) ?? "this machine's address";
  const file = storeHomeAssistantLogin(settings.dir, {
    broker: address,
    port: broker.port,
    username: login.username,
    password: login.password,
    discoveryPrefix: DEMO_HA.prefix,
  });
  return { username: login.username, address, port: broker.port, file };
}

/** The banner's lines for Home Assistant: where its MQTT integration connects, and as whom. */
function homeAssistantLines(broker: URL, ha?: HomeAssistantAccess): string[] {
  const where = `discovery prefix "${DEMO_HA.prefix}": demo-product's devices appear under Settings → Updates`;
  if (!ha) return [`  Home Assistant  point its MQTT integration at ${broker} (${where})`];
  return [
    `  Home Assistant  point its MQTT integration at broker ${ha.address}, port ${ha.port} (${where})`,
    `                  username "${ha.username}", password in ${ha.file} (new on every start)`,
  ];
}

function banner(
  settings: DemoSettings,
  broker: URL,
  sims: Simulation[],
  platform?: PlatformLogin,
  ha?: HomeAssistantAccess,
): string {
  const devices = sims.reduce((n, s) => n + s.summary().total, 0);
  const where = settings.mqttUrl
    ? ''
    : ` (embedded, listening on ${settings.mqttHost}${isLoopback(settings.mqttHost) ? ': this machine only' : ''})`;
  const logins = settings.mqttUrl
    ? 'as the broker at MQTT_URL decides'
    : platform
      ? `checked: each device signs with its own secret, registered with the fleet; the flow logs in as "${platform.username}"` +
        (ha ? `, Home Assistant as "${ha.username}"` : '') +
        (settings.brokerAuthReason === 'forced' ? ' (forced on: the broker listens beyond this machine)' : '')
      : 'not checked (OTA_BROKER_AUTH=on checks them; docs/broker-acl.md)';
  return [
    '',
    `  node-red-contrib-mqtt-ota demo`,
    `  editor        http://localhost:${settings.port}   (flow "OTA demo"; the OTA tab in the sidebar)`,
    ...(isLoopback(settings.nodeRedHost)
      ? []
      : [
          `  WARNING       Node-RED listens on ${settings.nodeRedHost} without a password: set adminAuth before devices on the network use it`,
        ]),
    `  MQTT broker   ${broker}${where}`,
    `  MQTT logins   ${logins}`,
    ...(settings.cluster
      ? [
          `  fleet store   PostgreSQL, shared with the other instances (OTA_STORE_URL); reports by shared subscription $share/${settings.cluster.group}/…`,
          `  packages      ${settings.cluster.packageDir} (the same directory for every instance)`,
        ]
      : []),
    `  devices       ${devices} simulated (test-001/002, device-…, legacy-… on 0.9.0, sensor-… of demo-sensor; 3 set to fail)`,
    ...(settings.homeAssistant ? homeAssistantLines(broker, ha) : []),
    `  state         ${settings.dir}  (Node-RED log: node-red.log)`,
    '',
    '  1. Press the "upload firmware" inject: firmware 1.1.0 is verified on test-001 and test-002.',
    '  2. Press "start batch": 50 % of demo-product is upgraded; watch the OTA tab and the debug sidebar.',
    "  Ctrl-C stops everything; npm start again keeps the fleet's state.",
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
