/**
 * examples/04 run against simulated devices: the needConfirm batch waits in CONFIRM while the
 * local time is outside 02:00–05:00 (what "confirm in window" reads with new Date().getHours()),
 * even when the 10-minute inject looks again; inside the window that inject confirms every
 * waiting device, and they upgrade.
 */
import should from 'should';
import type { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { atLocalHour, Example, fleetApi, NamedDevice, simulate, versionsOf } from '../helpers/example-run';
import { fleetSuite } from '../helpers/fleet-red';
import { waitFor } from '../helpers/http';
import { delay, recordStatuses } from '../helpers/red';

const EXAMPLE = '04 - Gated installs with needConfirm.json';

interface BatchView {
  state: string;
  counts: Record<string, number>;
}

describe('examples/04 Gated installs, run against simulated devices', function () {
  this.timeout(60_000);
  const suite = fleetSuite('example-04');
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

  it('holds the confirmations outside 02:00–05:00 and confirms every waiting device inside', async function () {
    const example = new Example(EXAMPLE, broker.url, suite.nodeUrl);
    await example.deploy();
    await example.connected();
    const api = fleetApi(suite.adminUrl, example.fleetId);
    const window = example.node('function', 'confirm in window');
    const statuses = recordStatuses(window.id);
    const [verifiedShown, eventsShown] = ['verified', 'task and batch events'].map((name) => example.debug(name));

    const testDevice = new NamedDevice(broker.url, 'demo-product', 'test-001', '1.0.0');
    named.push(testDevice);
    await testDevice.start();
    const field = await simulate(
      { broker: broker.url, productKey: 'demo-product', version: '1.0.0', devices: 4, namePrefix: 'device-', seed: 4 },
      sims,
    );
    await waitFor(
      '5 devices in the inventory',
      async () => ((await api.get<unknown[]>('/devices')).length === 5 ? true : undefined),
      10_000,
    );

    example.press('upload firmware');
    should((await verifiedShown.next(() => true, 20_000)).payload).match({
      version: '1.2.0',
      verification: 'verified',
    });
    should(testDevice.version).equal('1.2.0');
    const verifyBatch = (eventsShown.messages.find((m) => m.topic === 'batch')?.payload as { batchId: number }).batchId;

    // At noon: every task of the batch waits in CONFIRM, and the 10-minute look confirms nothing.
    const batchId = await atLocalHour(12, async () => {
      example.press('start batch');
      const started = await eventsShown.next(
        (m) => m.topic === 'batch' && (m.payload as { batchId: number }).batchId !== verifyBatch,
        5000,
      );
      const id = (started.payload as { batchId: number }).batchId;
      // The function learns of the waiting tasks from the batch event's counts on ota-push output 2.
      const held = async () => (statuses.at(-1)?.text === '4 waiting for 2:00' ? true : undefined);
      await waitFor('"confirm in window" to hold the 4 CONFIRM tasks (status "4 waiting for 2:00")', held, 5000);
      example.press('every 10 minutes');
      await delay(500);
      return id;
    });
    should({ ...statuses.at(-1) }).eql({ fill: 'yellow', shape: 'ring', text: '4 waiting for 2:00' });
    should(await api.get<BatchView>(`/batches/${batchId}`)).match({
      state: 'IN_PROGRESS',
      counts: { CONFIRM: 4, QUEUED: 0, NOTIFIED: 0, SUCCEEDED: 0 },
    });
    should(field.devices.map((d) => d.state)).eql(['idle', 'idle', 'idle', 'idle']);

    // At 03:00 the same inject confirms the four, and they upgrade.
    await atLocalHour(3, async () => {
      example.press('every 10 minutes');
      await waitFor('a confirmation', async () => (statuses.at(-1)?.fill === 'green' ? true : undefined), 5000);
    });
    should(statuses.at(-1)).match({ fill: 'green', shape: 'dot', text: /^4 confirmed at / });
    const done = await waitFor(
      'the batch to complete',
      async () => {
        const batch = await api.get<BatchView>(`/batches/${batchId}`);
        return batch.state === 'COMPLETED' ? batch : undefined;
      },
      20_000,
    );
    should(done.counts).match({ CONFIRM: 0, SUCCEEDED: 4, FAILED: 0 });
    should(versionsOf(field)).eql({
      'device-001': '1.2.0',
      'device-002': '1.2.0',
      'device-003': '1.2.0',
      'device-004': '1.2.0',
    });
  });
});
