/**
 * examples/05 run against simulated devices whose downloads fail: each failed task raises an
 * alert naming the device and the reason, the abort threshold (5 finished, 20 % failed) ends the
 * batch CANCELED with a reason starting "aborted:", and the batch alert fires with its counts.
 */
import should from 'should';
import type { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { Example, fleetApi, NamedDevice, simulate } from '../helpers/example-run';
import { fleetSuite } from '../helpers/fleet-red';
import { waitFor } from '../helpers/http';

const EXAMPLE = '05 - Alerts and abort threshold.json';

describe('examples/05 Alerts and abort threshold, run against failing simulated devices', function () {
  this.timeout(60_000);
  const suite = fleetSuite('example-05');
  let broker: TestBroker;
  const sims: Simulation[] = [];
  const named: NamedDevice[] = [];

  before(async function () {
    broker = await startAedes();
  });
  afterEach(async function () {
    await Promise.all([...sims.splice(0).map((s) => s.stop()), ...named.splice(0).map((d) => d.stop())]);
  });
  after(async function () {
    await broker?.close();
  });

  it('alerts on each failed device, and on the batch the abort threshold cancels', async function () {
    const example = new Example(EXAMPLE, broker.url, suite.nodeUrl);
    await example.deploy();
    await example.connected();
    const api = fleetApi(suite.adminUrl, example.fleetId);
    const [verifiedShown, alerts, completedShown] = ['verified', 'ALERT', 'batch completed'].map((name) =>
      example.debug(name),
    );

    const testDevice = new NamedDevice(broker.url, 'demo-product', 'test-1', '1.0.0');
    named.push(testDevice);
    await testDevice.start();
    // Every download fails, so the fifth finished task is the fifth failure: 100 %, over 20 %.
    await simulate(
      {
        broker: broker.url,
        productKey: 'demo-product',
        version: '1.0.0',
        devices: 6,
        namePrefix: 'device-',
        seed: 5,
        faults: { failDownload: '6' },
      },
      sims,
    );
    await waitFor(
      '7 devices in the inventory',
      async () => ((await api.get<unknown[]>('/devices')).length === 7 ? true : undefined),
      10_000,
    );

    example.press('upload firmware');
    should((await verifiedShown.next(() => true, 20_000)).payload).match({
      version: '3.0.0',
      verification: 'verified',
    });
    example.press('start batch');

    const first = await alerts.next(() => true, 15_000);
    should(first.topic).match(/^OTA: demo-product\/device-00[1-6] failed$/);
    should(first.payload).match(/^ALERT demo-product\/device-00[1-6] failed in batch 2: step -2 /);

    const stopped = await alerts.next((m) => String(m.topic).startsWith('OTA: batch'), 15_000);
    // The alert's wording is the example's; what it must carry: the batch, the abort's reason, the counts.
    should(stopped.topic).match(/^OTA: batch 2 /);
    should(stopped.payload).match(
      /^ALERT batch 2 .*aborted: 5 of 5 finished tasks failed \(100\.0%, threshold 20%\); 0 succeeded, [56] failed, [01] canceled/,
    );
    should(await api.get('/batches/2')).match({ state: 'CANCELED' });
    // Only the verify batch (1) completed.
    should(completedShown.messages.map((m) => (m.payload as { batchId: number }).batchId)).eql([1]);
  });
});
