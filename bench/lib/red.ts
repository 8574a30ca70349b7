/**
 * A real Node-RED runtime embedded in the benchmark's process, as Node-RED's docs show for
 * embedding: an express app on a node:http server, `RED.init(server, settings)`, the admin and
 * node apps mounted, `RED.start()`. The user directory is a temp dir with this package linked
 * into its node_modules (src/demo/node-red.ts prepareUserDir) and the flow written as flows.json.
 * Messages are injected by calling a node's `receive` and timed at a sink whose input is hooked:
 * no test helper, no spies.
 */
import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareUserDir } from '../../src/demo/node-red';
import { freePort } from '../../test/helpers/net';
import { now } from './stats';

/** What a benchmark needs of a deployed node. */
export interface RedNode {
  id: string;
  receive(msg: object): void;
  on(event: 'input', fn: (msg: BenchMessage) => void): void;
}

export type BenchMessage = Record<string, unknown> & { _bench?: number };

interface RedApp {
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: express.Express;
  httpNode: express.Express;
  nodes: { getNode(id: string): unknown };
  version: string;
}

export interface EmbeddedRed {
  RED: RedApp;
  port: number;
  baseUrl: string;
  userDir: string;
  node<T = RedNode>(id: string): T;
  stop(): Promise<void>;
}

let started = false;

/** Starts Node-RED in this process with `flows`, and waits until every node in `waitFor` is deployed. */
export async function startRed(
  flows: object[],
  waitFor: string[],
  settings: Record<string, unknown> = {},
): Promise<EmbeddedRed> {
  if (started) throw new Error('Node-RED can be embedded once per process');
  started = true;
  const RED = require('node-red') as RedApp;
  const userDir = mkdtempSync(join(tmpdir(), 'ota-bench-red-'));
  const port = await freePort();
  prepareUserDir({ userDir, port, flows, overwriteFlows: true });
  const app = express();
  // Idle keep-alive sockets stay open a minute, as on the plain servers the benchmarks compare with.
  const server = http.createServer({ keepAliveTimeout: 60_000 }, app);
  const all: Record<string, unknown> = {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    uiPort: port,
    httpAdminRoot: '/red',
    httpNodeRoot: '/',
    disableEditor: true,
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    editorTheme: { projects: { enabled: false }, palette: { catalogues: [] }, tours: false },
    externalModules: { palette: { allowInstall: false } },
    functionGlobalContext: {},
    ...settings,
  };
  RED.init(server, all);
  app.use(all.httpAdminRoot as string, RED.httpAdmin);
  app.use(all.httpNodeRoot as string, RED.httpNode);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  await RED.start();
  const until = Date.now() + 30_000;
  while (waitFor.some((id) => !RED.nodes.getNode(id))) {
    if (Date.now() > until)
      throw new Error(
        `Node-RED did not deploy ${waitFor.filter((id) => !RED.nodes.getNode(id)).join(', ')} within 30 s`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    RED,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    userDir,
    node<T>(id: string): T {
      const node = RED.nodes.getNode(id);
      if (!node) throw new Error(`no node ${id} is deployed`);
      return node as T;
    },
    async stop() {
      await RED.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}

let idCounter = 0;
/** A fresh node id. */
export const nodeId = (prefix: string): string =>
  `${prefix}${(++idCounter).toString(16).padStart(4, '0')}${Math.random().toString(16).slice(2, 10)}`;

/** A sink node: a core debug node that is switched off (it does nothing with what it gets). */
export function sinkNode(id: string, tab: string): object {
  return {
    id,
    type: 'debug',
    z: tab,
    active: false,
    tosidebar: false,
    console: false,
    tostatus: false,
    complete: 'false',
    wires: [],
  };
}

export interface DriveResult {
  count: number;
  /** From the first receive to the last arrival at the sink. */
  ms: number;
  perSecond: number;
  /** Per message, from its receive to its arrival at the sink, ms. */
  latencies: Float64Array;
}

/**
 * Feeds `count` messages into `entry`, keeping at most `window` of them between entry and sink
 * (closed loop: a new one goes in when one comes out), and times each at the sink, whose input
 * the Driver hooks once.
 */
export class Driver {
  private pending: ((msg: BenchMessage) => void) | undefined;

  constructor(sink: RedNode) {
    sink.on('input', (msg) => this.pending?.(msg));
  }

  run(
    entry: RedNode,
    count: number,
    window: number,
    make: (i: number) => BenchMessage,
    timeoutMs = 600_000,
  ): Promise<DriveResult> {
    return new Promise((resolve, reject) => {
      const t0 = new Float64Array(count);
      const latencies = new Float64Array(count);
      let sent = 0;
      let arrived = 0;
      let first = 0;
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(
          new Error(`only ${arrived} of ${count} messages reached the sink within ${timeoutMs} ms (${sent} sent)`),
        );
      }, timeoutMs);
      const pump = () => {
        while (sent - arrived < window && sent < count) {
          const msg = make(sent);
          msg._bench = sent;
          const t = now();
          if (sent === 0) first = t;
          t0[sent] = t;
          sent++;
          entry.receive(msg);
        }
      };
      this.pending = (msg) => {
        const i = msg._bench;
        if (typeof i !== 'number') return;
        const t = now();
        latencies[i] = t - t0[i];
        arrived++;
        if (arrived === count) {
          clearTimeout(timer);
          this.pending = undefined;
          const ms = t - first;
          resolve({ count, ms, perSecond: (count * 1000) / ms, latencies });
          return;
        }
        pump();
      };
      pump();
    });
  }
}
