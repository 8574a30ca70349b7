/**
 * Faults: a progress storm from 100,000 devices while their batch is canceled. Through the Fleet
 * API on a real SQLite file (test/helpers/storm.ts), and for a bounded fraction through the nodes
 * with the cancel arriving at ota-push while the reports stream into ota-progress. The counts
 * must stay consistent however they are read. STORM_DEVICES, STORM_REPORTS and STORM_SEED size
 * and seed the run.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import { SqliteStore } from '../../src/fleet';
import { deploy, eventually, feed, fleetSuite, platformFlow, startBatchToAll, t1, t3 } from '../helpers/fleet-red';
import { printFigures } from '../helpers/fuzz-run';
import { countsInFile, progressStorm, random } from '../helpers/storm';

helper.init(require.resolve('node-red'));

const DEVICES = Number(process.env.STORM_DEVICES ?? 100_000);
const REPORTS = Number(process.env.STORM_REPORTS ?? 100_000);
const SEED = Number(process.env.STORM_SEED ?? 20_260_803);

describe('reliability: a progress storm while the batch is canceled', function () {
  this.timeout(0);
  const suite = fleetSuite('storm');

  it(`${REPORTS} progress reports from ${DEVICES} devices with a cancel in the middle: the counts agree everywhere`, async function () {
    printFigures('storm (Fleet API)', await progressStorm(DEVICES, REPORTS, SEED));
  });

  it('through the nodes: 5,000 T3 reports from 1,000 devices stream into ota-progress while ota-push cancels the batch', async function () {
    const devices = 1000;
    const reports = 5000;
    const rnd = random(SEED + 1);
    const d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
    const fleet = d.handle.fleet;
    const names = Array.from({ length: devices }, (_, i) => `dev-${i}`);
    for (const n of names) feed(d.platform.inform, t1('pk1', n, '1.0.0'));
    await eventually('the inventory', () => fleet.devices({ limit: devices }).length === devices, 20_000);
    startBatchToAll(d, { retryCount: 1, retryInterval: 10 });
    await eventually('the notices', () => fleet.listBatches()[0]?.counts.NOTIFIED === devices, 20_000);
    const batchId = fleet.listBatches()[0].id;
    const started = Date.now();
    const cancelAt = Math.floor(reports * (0.2 + 0.6 * rnd()));
    const progressed = d.progressed.messages.length;
    for (let r = 0; r < reports; r++) {
      if (r === cancelAt) feed(d.platform.push!, { _msgid: 'cancel', action: 'cancel', batchId });
      const step = rnd() < 0.05 ? -1 - Math.floor(rnd() * 4) : Math.floor(rnd() * 101);
      feed(d.platform.progress, t3('pk1', names[Math.floor(rnd() * devices)], step));
      if (r % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await eventually('every report answered', () => d.progressed.messages.length - progressed === reports, 30_000);
    const ms = Date.now() - started;
    should(d.caught.messages).eql([]);

    const counts = fleet.counts(batchId);
    should(fleet.batch(batchId).state).equal('CANCELED');
    should(Object.values(counts).reduce((a, b) => a + b, 0)).equal(devices);
    should(counts).match({ CONFIRM: 0, QUEUED: 0, NOTIFIED: 0, IN_PROGRESS: 0, SUCCEEDED: 0 });
    const inFile = countsInFile((fleet.store as SqliteStore).file, batchId);
    should(inFile.counts).eql(Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)));
    should(inFile.activeOrRetrying).equal(0);
    should(inFile.lastTransitionMismatches).equal(0);
    // Every state change was announced once on ota-push's second output, and the batch's own end.
    await eventually(
      'the events',
      () =>
        d.events.messages.filter((m) => m.topic === 'batch' && (m.payload as { to: string }).to === 'CANCELED')
          .length === 1,
    );
    const batchEvent = d.events.messages.find(
      (m) => m.topic === 'batch' && (m.payload as { to: string }).to === 'CANCELED',
    );
    should((batchEvent?.payload as { counts: unknown }).counts).eql(counts);
    printFigures('storm (nodes)', { devices, reports, cancelAt, counts, ms });
  });
});
