/**
 * Simulated devices take a notice of several files: each downloaded over real HTTP from its own
 * URL, progress over the total, each file checked against its entry.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import should from 'should';
import { generateSigningKeyPair, parseFirmwareDescriptor } from '../../src/protocol';
import { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { dev, makePackage, PackageRequest, t1, t3, testOptions, waitForState, waitUntil, Watcher } from './support';

const APP = makePackage(24_000);
const RES = makePackage(16_000);
const EVERY_FIVE = Array.from({ length: 19 }, (_, i) => (i + 1) * 5);

interface FilesServer {
  url(path: string): string;
  /** The requests of each path, in order. */
  requests: Record<string, PackageRequest[]>;
  close(): Promise<void>;
}

/**
 * Serves each buffer at its path with `Range: bytes=<n>-` (206), in chunks of 4096 bytes; the
 * first whole-file response of `dropOnce` stops halfway and the connection is destroyed.
 */
async function startFilesServer(files: Record<string, Buffer>, opts: { dropOnce?: string } = {}): Promise<FilesServer> {
  const requests: Record<string, PackageRequest[]> = {};
  const sockets = new Set<Socket>();
  let dropped = false;
  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    const bytes = files[path];
    const seen = (requests[path] ??= []);
    if (!bytes) {
      seen.push({ status: 404 });
      res.writeHead(404).end();
      return;
    }
    const range = req.headers.range;
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    const start = m ? Number(m[1]) : 0;
    const status = m ? 206 : 200;
    seen.push(range === undefined ? { status } : { range, status });
    const headers: http.OutgoingHttpHeaders = { 'Content-Length': bytes.length - start, 'Accept-Ranges': 'bytes' };
    if (m) headers['Content-Range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(status, headers);
    const drop = path === opts.dropOnce && !dropped && !m;
    const end = drop ? Math.floor(bytes.length / 2) : bytes.length;
    let at = start;
    const writeNext = () => {
      if (at >= end) {
        if (drop) {
          dropped = true;
          res.socket?.destroy();
        } else res.end();
        return;
      }
      const next = Math.min(end, at + 4096);
      const piece = bytes.subarray(at, next);
      at = next;
      res.write(piece, () => setImmediate(writeNext));
    };
    writeNext();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The notice of version 1.0.1 listing app.bin and res.bin, each at its URL on `server`, by MD5. */
function filesFirmware(server: FilesServer) {
  return parseFirmwareDescriptor({
    version: '1.0.1',
    signMethod: 'Md5',
    files: [
      { fileName: 'app.bin', fileSize: APP.bytes.length, fileUrl: server.url('/app.bin'), fileSign: APP.md5 },
      { fileName: 'res.bin', fileSize: RES.bytes.length, fileUrl: server.url('/res.bin'), fileSign: RES.md5 },
    ],
  });
}

describe('ota-sim: a device upgrades from a notice of several files', function () {
  let broker: TestBroker;
  let server: FilesServer | undefined;
  let watcher: Watcher;
  let sim: Simulation | undefined;

  beforeEach(async function () {
    broker = await startAedes();
    watcher = await Watcher.start(broker.url);
  });

  afterEach(async function () {
    await sim?.stop();
    sim = undefined;
    await watcher.close();
    await server?.close();
    server = undefined;
    await broker.close();
  });

  it('downloads every file from its URL, reports every 5 % of the total, and reports the new version', async function () {
    server = await startFilesServer({ '/app.bin': APP.bytes, '/res.bin': RES.bytes });
    sim = new Simulation(testOptions(broker.url, { devices: 1 }));
    await sim.start();
    await waitUntil(() => watcher.reports.length === 1, 'the boot T1');
    await watcher.notify(dev('sim-001'), filesFirmware(server));
    await waitForState(sim, 'sim-001', 'upgraded');
    await waitUntil(() => watcher.reports.length === 23, 'the T1 after the reboot');
    should(watcher.reports).eql([
      { topic: '/ota/device/inform/pk1/sim-001', text: t1(1, '1.0.0') },
      { topic: '/ota/device/progress/pk1/sim-001', text: t3(2, 0) },
      ...EVERY_FIVE.map((step, i) => ({ topic: '/ota/device/progress/pk1/sim-001', text: t3(3 + i, step) })),
      { topic: '/ota/device/progress/pk1/sim-001', text: t3(22, 100) },
      { topic: '/ota/device/inform/pk1/sim-001', text: t1(1, '1.0.1') },
    ]);
    should(server.requests).eql({ '/app.bin': [{ status: 200 }], '/res.bin': [{ status: 200 }] });
    should(sim.summary()).containDeep({ total: 1, upgraded: 1, failed: 0, byVersion: { '1.0.1': 1 } });
  });

  it('resumes a dropped file with Range, and reports each step once', async function () {
    server = await startFilesServer({ '/app.bin': APP.bytes, '/res.bin': RES.bytes }, { dropOnce: '/res.bin' });
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), filesFirmware(server));
    await waitForState(sim, 'sim-001', 'upgraded');
    should(server.requests['/app.bin']).eql([{ status: 200 }]);
    should(server.requests['/res.bin'].map((r) => r.status)).eql([200, 206]);
    await waitUntil(() => watcher.reports.length === 23, 'the T1 after the reboot');
    should(watcher.reports.map((m) => JSON.parse(m.text).params.step ?? 'T1')).eql([
      'T1',
      '0',
      ...EVERY_FIVE.map(String),
      '100',
      'T1',
    ]);
  });

  it('reports step -3 naming the file when one file does not match its entry', async function () {
    const tampered = Buffer.from(RES.bytes);
    tampered[100] ^= 0xff;
    server = await startFilesServer({ '/app.bin': APP.bytes, '/res.bin': tampered });
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), filesFirmware(server));
    await waitForState(sim, 'sim-001', 'failed');
    const reports = await watcher.untilFailure('sim-001');
    should(reports[reports.length - 1]).eql({
      topic: '/ota/device/progress/pk1/sim-001',
      text: t3(23, -3, `Md5 mismatch in file "res.bin": its digest is ${md5Of(tampered)}, the notice says ${RES.md5}`),
    });
    should(sim.devices[0].versions.default).equal('1.0.0');
    should(sim.summary().failuresByCause).eql({ 'step -3': 1 });
  });

  it('a device with a trust key refuses matching files as an unsigned release: no manifest signs several files', async function () {
    server = await startFilesServer({ '/app.bin': APP.bytes, '/res.bin': RES.bytes });
    sim = new Simulation(testOptions(broker.url, { trustKey: generateSigningKeyPair().publicKey }));
    await sim.start();
    await watcher.notify(dev('sim-001'), filesFirmware(server));
    await waitForState(sim, 'sim-001', 'failed');
    const reports = await watcher.untilFailure('sim-001');
    should(reports[reports.length - 1].text).equal(
      t3(
        23,
        -3,
        'unsigned release: the notice lists several files, and release manifests sign single packages only; this device accepts only releases signed by its fleet',
      ),
    );
    should(sim.summary().failuresByCause).eql({ 'refused: unsigned release': 1 });
  });
});

function md5Of(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}
