/**
 * Simulated devices against a real broker (Aedes in process) and a real HTTP server: what they
 * publish, watched by a separate mqtt.js client, from boot to the new version.
 */
import should from 'should';
import { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import {
  dev,
  firmwareOf,
  makePackage,
  PackageServer,
  startPackageServer,
  t1,
  t3,
  testOptions,
  waitForState,
  waitUntil,
  Watcher,
} from './support';

const PACKAGE = makePackage(40_000);
const EVERY_FIVE = Array.from({ length: 19 }, (_, i) => (i + 1) * 5);

describe('ota-sim: a device upgrades over HTTP', function () {
  let broker: TestBroker;
  let server: PackageServer;
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
    await broker.close();
  });

  it('reports T1 at boot, T3 0 then every 5 % to 100 on a notice, and T1 with the new version after its reboot', async function () {
    server = await startPackageServer(PACKAGE.bytes);
    sim = new Simulation(testOptions(broker.url, { devices: 1 }));
    await sim.start();
    await waitUntil(() => watcher.reports.length === 1, 'the boot T1');
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'upgraded');
    await waitUntil(() => watcher.reports.length === 23, 'the T1 after the reboot');
    should(watcher.reports).eql([
      { topic: '/ota/device/inform/pk1/sim-001', text: t1(1, '1.0.0') },
      { topic: '/ota/device/progress/pk1/sim-001', text: t3(2, 0) },
      ...EVERY_FIVE.map((step, i) => ({ topic: '/ota/device/progress/pk1/sim-001', text: t3(3 + i, step) })),
      { topic: '/ota/device/progress/pk1/sim-001', text: t3(22, 100) },
      { topic: '/ota/device/inform/pk1/sim-001', text: t1(1, '1.0.1') },
    ]);
    should(server.requests).eql([{ status: 200 }]);
    should(sim.summary()).containDeep({ total: 1, upgraded: 1, failed: 0, byVersion: { '1.0.1': 1 } });
  });

  it('resumes a dropped download with Range from the byte it had reached', async function () {
    server = await startPackageServer(PACKAGE.bytes, { drop: 'once' });
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'upgraded');
    // The device asks for the rest from the last byte it received (what was still in flight is lost with the connection).
    should(server.requests).have.length(2);
    should(server.requests[0]).eql({ status: 200 });
    should(server.requests[1].status).equal(206);
    const from = Number(/^bytes=(\d+)-$/.exec(server.requests[1].range ?? '')?.[1]);
    should(from)
      .be.above(0)
      .and.not.above(PACKAGE.bytes.length / 2);
  });

  it('gives up with step -2 after 3 resumes that all drop', async function () {
    server = await startPackageServer(PACKAGE.bytes, { drop: 'always' });
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'failed');
    should(server.requests).have.length(4);
    const reports = await watcher.untilFailure('sim-001');
    should(JSON.parse(reports[reports.length - 1].text).params.desc).match(
      /^the connection dropped after \d+ of 40000 bytes \(.+\); gave up after 3 resumes$/,
    );
  });

  it('starts over when the server answers a Range request with the whole package', async function () {
    server = await startPackageServer(PACKAGE.bytes, { drop: 'once', ignoreRange: true });
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'upgraded');
    should(server.requests.map((r) => r.status)).eql([200, 200]);
    should(server.requests[1].range).match(/^bytes=\d+-$/);
    // Every step once, although the package came twice.
    await waitUntil(() => watcher.reports.length === 23, 'the T1 after the reboot');
    should(watcher.reports.map((m) => JSON.parse(m.text).params.step ?? 'T1')).eql([
      'T1',
      '0',
      ...EVERY_FIVE.map(String),
      '100',
      'T1',
    ]);
  });

  it('downloads a package sent in chunks, without a Content-Length', async function () {
    server = await startPackageServer(PACKAGE.bytes, { chunked: true, chunk: 3000 });
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'upgraded');
    should(server.requests).eql([{ status: 200 }]);
  });

  it('downloads over HTTPS from a server whose certificate it accepts with insecure', async function () {
    server = await startPackageServer(PACKAGE.bytes, { tls: true });
    sim = new Simulation(testOptions(broker.url, { insecure: true }));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'upgraded');
    should(server.requests).eql([{ status: 200 }]);
  });

  it('reports step -2 at once when the server certificate does not verify', async function () {
    server = await startPackageServer(PACKAGE.bytes, { tls: true });
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'failed');
    const reports = await watcher.untilFailure('sim-001');
    const last = JSON.parse(reports[reports.length - 1].text).params;
    should(last.step).equal('-2');
    should(last.desc).equal(
      "the server's TLS certificate is refused: self-signed certificate (--insecure accepts any)",
    );
    should(server.requests).eql([]);
  });

  it('checks SHA256 packages by their SHA-256 digest', async function () {
    server = await startPackageServer(PACKAGE.bytes);
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    const firmware = firmwareOf(PACKAGE, {
      version: '1.0.1',
      url: server.url,
      signMethod: 'SHA256',
      sha256: PACKAGE.sha256,
      md5: undefined,
    });
    await watcher.notify(dev('sim-001'), firmware);
    await waitForState(sim, 'sim-001', 'upgraded');
  });

  it('reports step -3 with the reason when the package does not match the notice', async function () {
    server = await startPackageServer(PACKAGE.bytes);
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    const wrong = '0'.repeat(32);
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url, md5: wrong }));
    await waitForState(sim, 'sim-001', 'failed');
    const reports = await watcher.untilFailure('sim-001');
    const last = reports[reports.length - 1];
    should(last).eql({
      topic: '/ota/device/progress/pk1/sim-001',
      text: t3(23, -3, `Md5 mismatch: the package digest is ${PACKAGE.md5}, the notice says ${wrong}`),
    });
    should(sim.summary().failuresByCause).eql({ 'step -3': 1 });
  });

  it('reports step -2 when the server answers 404', async function () {
    server = await startPackageServer(PACKAGE.bytes);
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(
      dev('sim-001'),
      firmwareOf(PACKAGE, { version: '1.0.1', url: server.url.replace('/fw.bin', '/missing') }),
    );
    await waitForState(sim, 'sim-001', 'failed');
    should((await watcher.untilFailure('sim-001')).map((m) => m.text)).eql([
      t1(1, '1.0.0'),
      t3(2, 0),
      t3(3, -2, 'HTTP 404 Not Found'),
    ]);
  });
});
