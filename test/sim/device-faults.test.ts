/**
 * Each fault of ota-sim, on one device against a real broker and HTTP server: the step it reports
 * or the way it behaves.
 */
import should from 'should';
import { SimState, Simulation } from '../../src/sim';
import { deviceRandom } from '../../src/sim/faults';
import { startAedes, TestBroker } from '../helpers/broker';
import {
  delay,
  dev,
  firmwareOf,
  makePackage,
  PackageServer,
  startPackageServer,
  t1,
  testOptions,
  waitForState,
  waitUntil,
  Watcher,
} from './support';

const PACKAGE = makePackage(40_000);

describe('ota-sim: faults', function () {
  let broker: TestBroker;
  let server: PackageServer;
  let watcher: Watcher;
  let sim: Simulation | undefined;

  before(async function () {
    broker = await startAedes();
    server = await startPackageServer(PACKAGE.bytes);
  });

  after(async function () {
    await server.close();
    await broker.close();
  });

  beforeEach(async function () {
    watcher = await Watcher.start(broker.url);
  });

  afterEach(async function () {
    await sim?.stop();
    sim = undefined;
    await watcher.close();
  });

  /** Starts one device with `fault` and sends it a notice for 1.0.1. */
  async function upgradeWith(fault: string, timing: Record<string, number> = {}): Promise<Simulation> {
    sim = new Simulation(testOptions(broker.url, { faults: { [fault]: '1' }, timing }));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    return sim;
  }

  /** The device's last report, once its failure report has arrived. */
  async function lastReport(): Promise<{ step: string; desc: string }> {
    const reports = await watcher.untilFailure('sim-001');
    return JSON.parse(reports[reports.length - 1].text).params;
  }

  it('--fail-download breaks the download off halfway and reports step -2', async function () {
    const s = await upgradeWith('failDownload');
    await waitForState(s, 'sim-001', 'failed');
    const last = await lastReport();
    should(last.step).equal('-2');
    should(last.desc).match(/^simulated fault: the download broke off after \d+ of 40000 bytes \(--fail-download\)$/);
    should(s.summary().failuresByCause).eql({ 'step -2': 1 });
  });

  it('--fail-verify downloads everything, then reports step -3', async function () {
    const s = await upgradeWith('failVerify');
    await waitForState(s, 'sim-001', 'failed');
    const steps = (await watcher.untilFailure('sim-001')).map((m) => JSON.parse(m.text).params?.step);
    should(steps.slice(-2)).eql(['100', '-3']);
    should((await lastReport()).desc).equal('simulated fault: the package looks corrupt (--fail-verify)');
  });

  it('--fail-burn verifies the package, then reports step -4', async function () {
    const s = await upgradeWith('failBurn');
    await waitForState(s, 'sim-001', 'failed');
    should(await lastReport()).eql({ step: '-4', desc: 'simulated fault: writing the flash failed (--fail-burn)' });
    should(s.devices[0].versions).eql({ default: '1.0.0' });
  });

  it('--wrong-version reboots into another version than announced and reports it with T1', async function () {
    const s = await upgradeWith('wrongVersion');
    await waitForState(s, 'sim-001', 'failed');
    await waitUntil(
      () => watcher.of('sim-001').some((m) => m.text === t1(1, '1.0.1-wrong')),
      'the T1 of the wrong version',
    );
    should(s.summary()).containDeep({
      failed: 1,
      failuresByCause: { 'wrong version': 1 },
      byVersion: { '1.0.1-wrong': 1 },
    });
  });

  it('--silent reports its version at boot but never answers a notice', async function () {
    const s = await upgradeWith('silent');
    await delay(300);
    should(watcher.of('sim-001').map((m) => m.text)).eql([t1(1, '1.0.0')]);
    should(s.devices[0].state).equal('idle');
  });

  it('--slow downloads no faster than --slow-rate', async function () {
    const s = await upgradeWith('slow', { slowBytesPerSecond: 100_000, slowFactor: 1 });
    const times: Partial<Record<SimState, number>> = {};
    s.on('state', (_d, _from, to) => (times[to] = Date.now()));
    await waitForState(s, 'sim-001', 'upgraded');
    // 40,000 bytes at 100,000 bytes/s: at least 0.4 s between the first byte and verification.
    should((times.verifying as number) - (times.downloading as number)).be.aboveOrEqual(350);
  });

  it('--offline vanishes from the broker for a while, then boots and reports its version again', async function () {
    sim = new Simulation(
      testOptions(broker.url, { faults: { offline: '1' }, timing: { offlineWithinMs: 50, offlineMs: 150 } }),
    );
    const visited: SimState[] = [];
    sim.on('state', (_d, _from, to) => visited.push(to));
    await sim.start();
    await waitUntil(() => watcher.of('sim-001').length === 2, 'the T1 after coming back');
    should(visited).eql(['idle', 'offline', 'booting', 'idle']);
    should(watcher.of('sim-001').map((m) => m.text)).eql([t1(1, '1.0.0'), t1(1, '1.0.0')]);
  });

  it('a device that goes offline mid-download loses the download and boots again with its old version', async function () {
    // The moment an --offline device vanishes is its second random draw (the first is its boot delay):
    // choose offlineWithinMs so that it falls 400 ms after boot, well inside a 2 s download.
    const draws = deviceRandom(1, 0);
    draws();
    const offlineWithinMs = Math.ceil(400 / draws());
    sim = new Simulation(
      testOptions(broker.url, {
        faults: { offline: '1', slow: '1' },
        timing: { offlineWithinMs, offlineMs: 100, slowBytesPerSecond: 20_000, slowFactor: 1 },
      }),
    );
    const visited: SimState[] = [];
    sim.on('state', (_d, _from, to) => visited.push(to));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitUntil(() => visited.length === 6, 'the device to come back');
    should(visited).eql(['idle', 'notified', 'downloading', 'offline', 'booting', 'idle']);
    await waitUntil(
      () => watcher.of('sim-001').filter((m) => m.text === t1(1, '1.0.0')).length === 2,
      'the T1 after coming back',
    );
    should(sim.devices[0].versions).eql({ default: '1.0.0' });
  });
});
