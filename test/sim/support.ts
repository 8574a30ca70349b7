/**
 * Shared by the simulator tests: a real HTTP server for packages (Range, and a connection that
 * drops once), an mqtt.js client that watches what devices publish and plays the platform, and
 * the short timings that keep the suite fast.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { AddressInfo, Socket } from 'node:net';
import mqtt, { MqttClient } from 'mqtt';
import { DeviceRef, FirmwareDescriptor, parseFirmwareDescriptor, upgradeMessage } from '../../src/protocol';
import { SimOptions, simOptions, SimOptionsInput, Simulation } from '../../src/sim';

export const PRODUCT = 'pk1';

/** A package of `size` bytes that is not all the same byte, so an offset error changes the digest. */
export function makePackage(size: number): { bytes: Buffer; md5: string; sha256: string } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return {
    bytes,
    md5: createHash('md5').update(bytes).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

export interface PackageRequest {
  range?: string;
  status: number;
}

export interface PackageServer {
  url: string;
  requests: PackageRequest[];
  close(): Promise<void>;
}

/**
 * Serves `bytes` at /fw.bin with `Range: bytes=<n>-` support (206), in chunks of `chunk` bytes.
 * With `drop: 'once'`, the first whole-file response stops after half the package and the
 * connection is destroyed, as a flaky network would; with `drop: 'always'`, every response does. With `ignoreRange`, every answer is the whole file (200).
 * With `chunked`, the body is sent in chunks without a Content-Length; with `tls`, over HTTPS with
 * the self-signed certificate of test/fixtures/tls (made for the tests, for localhost and 127.0.0.1).
 */
export async function startPackageServer(
  bytes: Buffer,
  opts: { drop?: 'once' | 'always'; ignoreRange?: boolean; chunk?: number; chunked?: boolean; tls?: boolean } = {},
): Promise<PackageServer> {
  const requests: PackageRequest[] = [];
  const sockets = new Set<Socket>();
  let dropped = false;
  const chunk = opts.chunk ?? 4096;
  const listener: http.RequestListener = (req, res) => {
    if (req.url !== '/fw.bin') {
      requests.push({ status: 404 });
      res.writeHead(404).end();
      return;
    }
    const range = req.headers.range;
    const m = range && !opts.ignoreRange ? /^bytes=(\d+)-$/.exec(range) : null;
    const start = m ? Number(m[1]) : 0;
    const status = m ? 206 : 200;
    requests.push(range === undefined ? { status } : { range, status });
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
    };
    if (!opts.chunked) headers['Content-Length'] = bytes.length - start;
    if (m) headers['Content-Range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(status, headers);
    const drop = opts.drop === 'always' || (opts.drop === 'once' && !dropped && !m);
    const end = drop ? Math.max(start + 1, Math.floor(bytes.length / 2)) : bytes.length;
    let at = start;
    const writeNext = () => {
      if (at >= end) {
        if (end < bytes.length) {
          dropped = true;
          res.socket?.destroy();
        } else {
          res.end();
        }
        return;
      }
      const next = Math.min(end, at + chunk);
      const piece = bytes.subarray(at, next);
      at = next;
      res.write(piece, () => setImmediate(writeNext));
    };
    writeNext();
  };
  const server = opts.tls ? https.createServer(TEST_TLS, listener) : http.createServer(listener);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/fw.bin`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const TLS_DIR = path.join(__dirname, '../../../test/fixtures/tls');
/** A self-signed certificate for localhost and 127.0.0.1, made for the tests: its key protects nothing. */
export const TEST_TLS = {
  key: readFileSync(path.join(TLS_DIR, 'localhost.key')),
  cert: readFileSync(path.join(TLS_DIR, 'localhost.crt')),
};

/** A firmware descriptor for a package, as the platform would announce it. */
export function firmwareOf(
  pkg: { bytes: Buffer; md5: string; sha256: string },
  fields: Record<string, unknown>,
): FirmwareDescriptor {
  return parseFirmwareDescriptor({ size: pkg.bytes.length, md5: pkg.md5, ...fields });
}

export interface Seen {
  topic: string;
  text: string;
}

/**
 * An mqtt.js client on the broker: records every message on the filters it watches, in order,
 * and publishes what the platform would.
 */
export class Watcher {
  readonly seen: Seen[] = [];
  private constructor(readonly client: MqttClient) {}

  static async start(url: string, filters: string[] = ['/ota/device/#']): Promise<Watcher> {
    const client = mqtt.connect(url, {
      clientId: `watcher-${Math.random().toString(16).slice(2)}`,
      reconnectPeriod: 0,
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const watcher = new Watcher(client);
    client.on('message', (topic, payload) => watcher.seen.push({ topic, text: payload.toString('utf8') }));
    await client.subscribeAsync(filters, { qos: 1 });
    return watcher;
  }

  /** What devices published, in order: everything seen but the platform's own notices (T2). */
  get reports(): Seen[] {
    return this.seen.filter((m) => !m.topic.startsWith('/ota/device/upgrade/'));
  }

  /** What one device published. */
  of(deviceName: string): Seen[] {
    return this.reports.filter((m) => m.topic.endsWith(`/${deviceName}`) || m.topic.includes(`/${deviceName}/`));
  }

  /**
   * Waits until the device's failure report (a T3 with a negative step) has come through the
   * broker, and returns what the device published, ending with it.
   */
  async untilFailure(deviceName: string): Promise<Seen[]> {
    const isFailure = (m: Seen) =>
      m.topic.startsWith('/ota/device/progress/') && Number(JSON.parse(m.text).params?.step) < 0;
    await waitUntil(() => this.of(deviceName).some(isFailure), `a failure report from ${deviceName}`);
    return this.of(deviceName);
  }

  async notify(device: DeviceRef, firmware: FirmwareDescriptor, id = 1700000000000): Promise<void> {
    const m = upgradeMessage(device, firmware, id);
    await this.client.publishAsync(m.topic, m.payload, { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Timings short enough for tests. */
export const FAST = { bootMs: 0, burnMs: 10, rebootMs: 20, offlineMs: 100, offlineWithinMs: 50, blockTimeoutMs: 200 };

export function testOptions(broker: string, input: Partial<SimOptionsInput> = {}): SimOptions {
  return simOptions({ broker, productKey: PRODUCT, version: '1.0.0', ...input, timing: { ...FAST, ...input.timing } });
}

export function dev(deviceName: string): DeviceRef {
  return { productKey: PRODUCT, deviceName };
}

/** Polls `condition` every 10 ms until it holds, failing after `timeoutMs` with `what`. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until the named device is in `state`. */
export function waitForState(sim: Simulation, name: string, state: string, timeoutMs = 5000): Promise<void> {
  return waitUntil(
    () => sim.devices.find((d) => d.name === name)?.state === state,
    `${name} to be ${state}`,
    timeoutMs,
  );
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** T1 and T3 payloads exactly as the device sends them (Link SDK 4 shapes from the codec). */
export const t1 = (id: number, version: string) => JSON.stringify({ id, params: { version } });
export const t3 = (id: number, step: number, desc = '') => JSON.stringify({ id, params: { step: String(step), desc } });
