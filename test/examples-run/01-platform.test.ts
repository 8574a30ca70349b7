/**
 * examples/01 run against simulated devices: the versions they report are listed, the "upload
 * firmware" button verifies 1.1.0 on test-001 and test-002 (and nothing else gets it meanwhile),
 * and "start batch" upgrades the GRAY half of demo-product, paused and resumed by the buttons.
 */
import should from 'should';
import type { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { Example, fleetApi, simulate, versionsOf } from '../helpers/example-run';
import { fleetSuite } from '../helpers/fleet-red';
import { waitFor } from '../helpers/http';
import type { Msg } from '../helpers/red';

const EXAMPLE = '01 - Platform - versions, verification and batch upgrade.json';

interface BatchView {
  id: number;
  type: string;
  state: string;
  counts: Record<string, number>;
}

describe('examples/01 Platform, run against simulated devices', function () {
  this.timeout(60_000);
  const suite = fleetSuite('example-01');
  let broker: TestBroker;
  const sims: Simulation[] = [];

  before(async function () {
    broker = await startAedes();
  });
  afterEach(async function () {
    await Promise.all(sims.splice(0).map((s) => s.stop()));
  });
  after(async function () {
    await broker?.close();
  });

  it('lists the versions, verifies 1.1.0 on the test devices, and upgrades the GRAY 50 % batch', async function () {
    const example = new Example(EXAMPLE, broker.url, suite.nodeUrl);
    await example.deploy();
    await example.connected();
    const api = fleetApi(suite.adminUrl, example.fleetId);
    const [versionsShown, verifiedShown, failedShown, eventsShown, errorsShown] = [
      'versions',
      'verified',
      'verification failed',
      'batch events',
      'errors',
    ].map((name) => example.debug(name));

    const tests = await simulate(
      { broker: broker.url, productKey: 'demo-product', version: '1.0.0', devices: 2, namePrefix: 'test-', seed: 1 },
      sims,
    );
    const field = await simulate(
      { broker: broker.url, productKey: 'demo-product', version: '1.0.0', devices: 8, namePrefix: 'device-', seed: 2 },
      sims,
    );
    const names = [...tests.devices, ...field.devices].map((d) => d.name).sort();

    // 1. Versions: every device's T1 reaches the "versions" debug node and the inventory.
    for (let i = 0; i < names.length; i++) await versionsShown.next(() => true, 10_000);
    should(versionsShown.messages.map((m) => (m.payload as { deviceName: string }).deviceName).sort()).eql(names);
    should(versionsShown.messages[0].payload).match({ productKey: 'demo-product', version: '1.0.0' });
    should(await api.get('/versions')).eql([
      { productKey: 'demo-product', module: 'default', version: '1.0.0', count: 10 },
    ]);

    // 3. Upload and verify: output 1 fires once both test devices run 1.1.0; no other device got it.
    example.press('upload firmware');
    const verified = await verifiedShown.next(() => true, 20_000);
    should(verified.payload).match({ productKey: 'demo-product', version: '1.1.0', verification: 'verified' });
    should(versionsOf(tests)).eql({ 'test-001': '1.1.0', 'test-002': '1.1.0' });
    should(Object.values(versionsOf(field))).eql(Array(8).fill('1.0.0'));
    should(failedShown.messages).eql([]);

    // 4. Batch: "start batch", then "pause" and "resume" act on that batch (not on the verify batch).
    const verifyBatch = batchIdOf(await eventsShown.next((m) => m.topic === 'batch'));
    example.press('start batch');
    const batchId = batchIdOf(await eventsShown.next((m) => m.topic === 'batch' && batchIdOf(m) !== verifyBatch, 5000));
    should((await api.get<BatchView>(`/batches/${batchId}`)).type).equal('static');
    example.press('pause');
    await eventsShown.next((m) => m.topic === 'batch' && (m.payload as { to: string }).to === 'PAUSED', 5000);
    should((await api.get<BatchView>(`/batches/${batchId}`)).state).equal('PAUSED');
    example.press('resume');
    const completed = await waitFor(
      'the batch to complete',
      async () => {
        const batch = await api.get<BatchView>(`/batches/${batchId}`);
        return batch.state === 'COMPLETED' ? batch : undefined;
      },
      30_000,
    );
    // GRAY 50 % of the 8 devices not yet on 1.1.0: 4 of them, every one upgraded.
    should(completed).match({ type: 'static', counts: { SUCCEEDED: 4, FAILED: 0, CANCELED: 0 } });
    const tasks = await api.get<{ deviceName: string; state: string }[]>(`/batches/${batchId}/tasks`);
    const chosen = tasks.map((t) => t.deviceName).sort();
    should(chosen).have.length(4);
    const running = versionsOf(field);
    should(
      Object.keys(running)
        .filter((n) => running[n] === '1.1.0')
        .sort(),
    ).eql(chosen);
    should(await api.get('/versions')).eql([
      { productKey: 'demo-product', module: 'default', version: '1.1.0', count: 6 },
      { productKey: 'demo-product', module: 'default', version: '1.0.0', count: 4 },
    ]);
    await eventsShown.next(
      (m) => m.topic === 'batch' && batchIdOf(m) === batchId && (m.payload as { to: string }).to === 'COMPLETED',
      5000,
    );
    should(errorsShown.messages).eql([]);
  });
});

function batchIdOf(msg: Msg): number {
  return (msg.payload as { batchId: number }).batchId;
}
