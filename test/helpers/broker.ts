/**
 * Real MQTT brokers for tests: Aedes in this process, and Mosquitto as a child process when it is
 * installed. Each listens on 127.0.0.1 at a free port and closes every socket, file and process
 * it opened, so nothing keeps mocha alive.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Aedes, AedesOptions } from 'aedes';
import { freePort } from './http';

export interface TestBroker {
  /** `mqtt://127.0.0.1:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

// tsc emits CommonJS and would turn `import('aedes')` into `require('aedes')`; aedes 1.x is ESM
// only, so the import has to stay a real dynamic import.
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

/**
 * An Aedes broker in this process (with `options`: its authentication and authorization hooks), on
 * a free port or on `port` (a broker started again where a closed one was, with nothing it held).
 */
export async function startAedes(options?: AedesOptions, port = 0): Promise<TestBroker> {
  const { Aedes: AedesBroker } = await importEsm<{ Aedes: typeof Aedes }>('aedes');
  const broker = await AedesBroker.createBroker(options);
  const server = net.createServer(broker.handle);
  const sockets = trackSockets(server);
  const bound = await listen(server, port);
  return {
    url: `mqtt://127.0.0.1:${bound}`,
    port: bound,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The Mosquitto binary, or undefined when it is not installed. */
export function mosquittoPath(): string | undefined {
  if (existsSync('/usr/sbin/mosquitto')) return '/usr/sbin/mosquitto';
  const found = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  return path ? path : undefined;
}

/** A Mosquitto broker in a child process, or undefined when Mosquitto is not installed. */
export async function startMosquitto(): Promise<TestBroker | undefined> {
  const binary = mosquittoPath();
  if (!binary) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'ota-mosquitto-'));
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  await writeFile(
    config,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', ''].join('\n'),
  );
  const child = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    log += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  try {
    await waitForPort(port, () => running, 5000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mosquitto did not start on port ${port}: ${(err as Error).message}\n${log}`, { cause: err });
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async close() {
      if (running) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function trackSockets(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

function listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

async function waitForPort(port: number, alive: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error('the process exited');
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`no connection accepted within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
