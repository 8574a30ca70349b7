/**
 * Fleet-bound nodes under node-red-node-test-helper: a fresh user directory per suite (where the
 * fleet's SQLite file and packages land), the HTTP node root served on a real port (the helper's
 * own server does not serve RED.httpNode), platform flows built with fresh ids, and the device
 * messages (T1, T3, T4, T8) fed into them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http, { IncomingHttpHeaders, RequestListener } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeAPI } from 'node-red';
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Firmware } from '../../src/fleet';
import { fleetById, FleetHandle } from '../../src/nodes/registry';
import { catchAll, catchNodeModule } from './core-nodes';
import { FlowNode, node, onTab, probe } from './flow';
import { delay, Inbox, inboxes, Msg } from './red';

const fleetModule = require('../../../nodes/ota-fleet.js') as (RED: NodeAPI) => void;
const informModule = require('../../../nodes/ota-inform.js');
const progressModule = require('../../../nodes/ota-progress.js');
const pushModule = require('../../../nodes/ota-push.js');
const verifyModule = require('../../../nodes/ota-verify.js');

/** The node API our modules were last loaded with: its httpNode and httpAdmin are this load's apps. */
let red: NodeAPI | undefined;

/** Every OTA node module (the fleet's wrapped to catch the node API) and the core Catch node. */
export const otaModules = [
  (RED: NodeAPI) => {
    red = RED;
    return fleetModule(RED);
  },
  informModule,
  progressModule,
  pushModule,
  verifyModule,
  catchNodeModule,
];

export interface FleetSuite {
  /** The Node-RED user directory of this suite (a fresh temp dir). */
  userDir: string;
  /** Base URL of the HTTP node root, e.g. http://127.0.0.1:41234 (also the fleets' publicUrl). */
  nodeUrl: string;
  /** Base URL of the admin root served over node:http (for streamed uploads). */
  adminUrl: string;
}

function listen(handler: RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    );
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Registers the mocha hooks of a suite of fleet-bound tests: a fresh userDir set before the
 * server starts, the helper's server, the HTTP node and admin roots on real ports, and an unload
 * after each test. Returns the suite's addresses (filled in by `before`).
 */
export function fleetSuite(prefix: string): FleetSuite {
  const suite = {} as FleetSuite;
  const servers: http.Server[] = [];
  before(async function () {
    suite.userDir = await mkdtemp(join(tmpdir(), `ota-${prefix}-`));
    helper.settings({ userDir: suite.userDir });
    await new Promise<void>((resolve, reject) =>
      helper.startServer((err?: unknown) => (err ? reject(err) : resolve())),
    );
    const notLoaded: RequestListener = (_req, res) => res.writeHead(503).end();
    const nodeRoot = await listen((req, res) =>
      ((red?.httpNode as unknown as RequestListener | undefined) ?? notLoaded)(req, res),
    );
    const adminRoot = await listen((req, res) =>
      ((red?.httpAdmin as unknown as RequestListener | undefined) ?? notLoaded)(req, res),
    );
    servers.push(nodeRoot.server, adminRoot.server);
    suite.nodeUrl = nodeRoot.url;
    suite.adminUrl = adminRoot.url;
  });
  afterEach(function () {
    return helper.unload();
  });
  after(async function () {
    for (const server of servers.splice(0)) await close(server);
    await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
    helper.settings({});
    await rm(suite.userDir, { recursive: true, force: true });
  });
  return suite;
}

/** An ota-fleet config node; devices download from the suite's node root unless told otherwise. */
export function fleetConfig(suite: FleetSuite, props: Record<string, unknown> = {}): FlowNode {
  const config = node('ota-fleet', {
    name: 'test fleet',
    requireVerification: true,
    publicUrl: suite.nodeUrl,
    urlExpiryHours: 24,
    maxPackageMB: 1000,
    ...props,
  });
  delete config.wires;
  return config;
}

export interface PlatformOptions {
  /** Settings of the fleet (ignored when `fleet` is given). */
  fleetProps?: Record<string, unknown>;
  /** Reuse this fleet config node (same id: same store). */
  fleet?: FlowNode;
  /** Deploy an ota-push (default true). */
  push?: boolean;
  /** Settings of the platform-role ota-verify. */
  verifyProps?: Record<string, unknown>;
  /** Settings of the ota-push (e.g. allowUnverified). */
  pushProps?: Record<string, unknown>;
}

/** A platform flow: every node bound to one fleet, a probe on every output, a Catch node. */
export interface Platform {
  flow: FlowNode[];
  fleet: FlowNode;
  inform: FlowNode;
  progress: FlowNode;
  verify: FlowNode;
  push?: FlowNode;
  probes: Record<'informed' | 'progressed' | 'verified' | 'verifyFailed' | 'sent' | 'events' | 'caught', FlowNode>;
}

export function platformFlow(suite: FleetSuite, options: PlatformOptions = {}): Platform {
  const fleet = options.fleet ?? fleetConfig(suite, options.fleetProps);
  const probes = {
    informed: probe(),
    progressed: probe(),
    verified: probe(),
    verifyFailed: probe(),
    sent: probe(),
    events: probe(),
    caught: probe(),
  };
  const inform = node('ota-inform', { role: 'platform', fleet: fleet.id }, [[probes.informed.id]]);
  const progress = node('ota-progress', { role: 'platform', fleet: fleet.id }, [[probes.progressed.id]]);
  const verify = node('ota-verify', { role: 'platform', fleet: fleet.id, ...options.verifyProps }, [
    [probes.verified.id],
    [probes.verifyFailed.id],
  ]);
  const push =
    options.push === false
      ? undefined
      : node('ota-push', { fleet: fleet.id, ...options.pushProps }, [[probes.sent.id], [probes.events.id]]);
  const flow = onTab(
    fleet,
    inform,
    progress,
    verify,
    ...(push ? [push] : []),
    catchAll(probes.caught),
    ...Object.values(probes),
  );
  return { flow, fleet, inform, progress, verify, push, probes };
}

/** The inboxes of a deployed platform flow, opened before anything is sent. */
export interface Deployed {
  platform: Platform;
  informed: Inbox;
  progressed: Inbox;
  verified: Inbox;
  verifyFailed: Inbox;
  /** ota-push output 1: MQTT messages for devices. */
  sent: Inbox;
  /** ota-push output 2: task and batch events. */
  events: Inbox;
  caught: Inbox;
  /** The running fleet, as the admin API and the firmware route find it. */
  handle: FleetHandle;
}

/** Deploys a platform flow (with credentials for the fleet, when given) and opens its inboxes. */
export async function deploy(platform: Platform, credentials?: Record<string, unknown>): Promise<Deployed> {
  await helper.load(otaModules, platform.flow, credentials ? { [platform.fleet.id]: credentials } : {});
  const p = platform.probes;
  const [informed, progressed, verified, verifyFailed, sent, events, caught] = inboxes(
    p.informed.id,
    p.progressed.id,
    p.verified.id,
    p.verifyFailed.id,
    p.sent.id,
    p.events.id,
    p.caught.id,
  );
  const handle = fleetById(platform.fleet.id);
  should.exist(handle, `the fleet ${platform.fleet.id} did not start`);
  return {
    platform,
    informed,
    progressed,
    verified,
    verifyFailed,
    sent,
    events,
    caught,
    handle: handle as FleetHandle,
  };
}

/** Loads a flow of OTA nodes (and of `extraModules`, e.g. core MQTT) as it is. */
export function loadFlow(
  flow: FlowNode[],
  credentials: Record<string, unknown> = {},
  extraModules: unknown[] = [],
): Promise<void> {
  return helper.load([...otaModules, ...extraModules] as Parameters<typeof helper.load>[0], flow, credentials);
}

// ---- device messages, as `mqtt in` hands them over -------------------------------------------

export function t1(productKey: string, deviceName: string, version: string, module?: string): Msg {
  const params = module ? { version, module } : { version };
  return {
    _msgid: 'm',
    topic: `/ota/device/inform/${productKey}/${deviceName}`,
    payload: JSON.stringify({ id: 1, params }),
  };
}

export function t3(productKey: string, deviceName: string, step: number, desc = ''): Msg {
  return {
    _msgid: 'm',
    topic: `/ota/device/progress/${productKey}/${deviceName}`,
    payload: JSON.stringify({ id: 2, params: { step: String(step), desc } }),
  };
}

export function t4(productKey: string, deviceName: string, id: string): Msg {
  return {
    _msgid: 'm',
    topic: `/sys/${productKey}/${deviceName}/thing/ota/firmware/get`,
    payload: JSON.stringify({ id, params: {} }),
  };
}

/** T8 as iotkit-embedded 3.x sends it. */
export function t8(productKey: string, deviceName: string, version: string): Msg {
  return {
    _msgid: 'm',
    topic: `/ota/device/request/${productKey}/${deviceName}`,
    payload: JSON.stringify({ id: 0, params: { version } }),
  };
}

/** Sends a message into a deployed node. */
export function feed(target: FlowNode, msg: Msg): void {
  helper.getNode(target.id).receive(msg);
}

/** Reports devices' versions through ota-inform and waits until each report went through. */
/** Starts a static batch to an external firmware 2.0.0 for every device of pk1 through ota-push. */
export function startBatchToAll(d: Deployed, strategy: Record<string, unknown>): void {
  feed(d.platform.push as FlowNode, {
    _msgid: 'b',
    payload: {
      firmware: { version: '2.0.0', url: 'https://cdn.example.com/pk1-2.0.0.bin', size: 1000, md5: 'c'.repeat(32) },
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy,
    },
  });
}

export async function reportVersions(d: Deployed, productKey: string, names: string[], version: string): Promise<void> {
  for (const name of names) {
    feed(d.platform.inform, t1(productKey, name, version));
    await d.informed.next((m) => (m.payload as { deviceName?: string }).deviceName === name);
  }
}

/** The notice (T2 body) of an ota-push output message, parsed. */
export function noticeOf(msg: Msg): { code: string; data: Record<string, unknown>; id: number; message: string } {
  return JSON.parse(String(msg.payload));
}

/** The signed URL a fleet gives a hosted firmware now (or at `now`). */
export function signedUrl(handle: FleetHandle, firmware: Firmware, now = Date.now()): string {
  return handle.host.signedUrl(firmware, now);
}

/** Waits until `check` holds (polling), or fails with `what`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await delay(20);
  }
}

interface LogEntry {
  level: number;
  id?: string;
  msg?: unknown;
}

/** What the node `id` logged at `level` (node.error, node.warn) since the flow was loaded. */
export function logged(level: 'ERROR' | 'WARN', id: string): string[] {
  const spy = helper.log() as unknown as { args: [LogEntry][]; ERROR: number; WARN: number };
  return spy.args
    .map(([entry]) => entry)
    .filter((e) => e.level === spy[level] && e.id === id)
    .map((e) => String(e.msg));
}

// ---- raw HTTP -------------------------------------------------------------------------------

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string | number>;
  /** A request body: bytes, or chunks streamed without a Content-Length. */
  body?: Buffer | AsyncIterable<Buffer>;
  /** Destroy the connection once this many body bytes arrived (an interrupted download). */
  abortAfter?: number;
  /** Called with each chunk of the answer's body; the chunks are then not kept. */
  onChunk?: (chunk: Buffer) => void;
}

/** One HTTP request with node:http: status, headers and the exact body bytes (or what arrived before an abort). */
export function httpRequest(url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    // The path goes out exactly as written: a URL object would resolve "../" and "%2e%2e/" first.
    const { hostname, port } = new URL(url);
    const path = url.slice(url.indexOf('/', url.indexOf('//') + 2));
    const req = http.request({
      hostname,
      port,
      path,
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      const finish = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      res.on('data', (chunk: Buffer) => {
        if (options.abortAfter !== undefined && received >= options.abortAfter) return;
        received += chunk.length;
        if (options.onChunk) options.onChunk(chunk);
        else chunks.push(chunk);
        if (options.abortAfter !== undefined && received >= options.abortAfter) {
          req.destroy();
          finish();
        }
      });
      res.once('end', finish);
      res.once('error', (err) => (options.abortAfter !== undefined ? finish() : reject(err)));
    });
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      void (async () => {
        try {
          for await (const chunk of body) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          req.end();
        } catch (err) {
          req.destroy(err as Error);
        }
      })();
    }
  });
}

/** No answer body ever shows a stack trace. */
export function assertNoStackTrace(text: string): void {
  should(/\bat .*\.js:\d+/.test(text) || /\n\s+at /.test(text)).be.false(
    `a stack trace in ${JSON.stringify(text.slice(0, 300))}`,
  );
}
