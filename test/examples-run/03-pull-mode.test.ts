/**
 * examples/03 run against simulated devices that ask (T4) instead of waiting for a push: the
 * "device-1" buttons get a T5 carrying the notice of the dynamic batch, and pull devices that
 * report 1.0.0 after the batch started join it, ask, download over MQTT (T6/T7) and run 2.0.0.
 */
import should from 'should';
import type { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { Example, fleetApi, simulate, versionsOf } from '../helpers/example-run';
import { fleetSuite } from '../helpers/fleet-red';
import { waitFor } from '../helpers/http';

const EXAMPLE = '03 - Pull mode.json';

describe('examples/03 Pull mode, run against simulated pull devices', function () {
  this.timeout(60_000);
  const suite = fleetSuite('example-03');
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

  it('answers a T4 with the notice of the dynamic batch, and pull devices upgrade over MQTT', async function () {
    const example = new Example(EXAMPLE, broker.url, suite.nodeUrl);
    await example.deploy();
    const api = fleetApi(suite.adminUrl, example.fleetId);
    const [firmwareShown, receivedShown, eventsShown] = ['firmware', 'device-1 receives', 'task and batch events'].map(
      (name) => example.debug(name),
    );
    await example.connected();

    // No verification in this fleet: the upload is usable at once.
    example.press('upload firmware');
    should((await firmwareShown.next(() => true, 10_000)).payload).match({
      productKey: 'demo-product',
      version: '2.0.0',
      verification: 'not-required',
    });
    example.press('start batch');
    const started = await eventsShown.next((m) => m.topic === 'batch', 5000);
    const batchId = (started.payload as { batchId: number }).batchId;
    should(await api.get(`/batches/${batchId}`)).match({
      type: 'dynamic',
      state: 'IN_PROGRESS',
      strategy: { downloadProtocol: 'mqtt' },
    });

    // device-1 reports 1.0.0 (the dynamic batch takes it), then asks: T5 carries the notice.
    example.press('device-1 reports 1.0.0');
    await waitFor(
      'device-1 in the batch',
      async () => (await api.get<unknown[]>(`/batches/${batchId}/tasks`)).length === 1 || undefined,
      5000,
    );
    example.press('device-1 asks (T4)');
    const reply = await receivedShown.next(() => true, 5000);
    should(reply.topic).equal('/sys/demo-product/device-1/thing/ota/firmware/get_reply');
    should(reply.payload).match({
      id: 2,
      code: 200,
      data: { version: '2.0.0', size: 4096, dProtocol: 'mqtt', streamFileId: 1 },
    });
    // Download over MQTT: a stream to ask blocks of (T6), no URL.
    should((reply.payload as { data: Record<string, unknown> }).data).not.have.property('url');

    // Pull devices booting on 1.0.0 join the batch, ask, fetch the blocks and report 2.0.0.
    const pulling = await simulate(
      {
        broker: broker.url,
        productKey: 'demo-product',
        version: '1.0.0',
        devices: 3,
        namePrefix: 'pull-',
        pull: true,
        seed: 3,
      },
      sims,
    );
    await waitFor(
      'the pull devices upgraded',
      async () => (Object.values(versionsOf(pulling)).every((v) => v === '2.0.0') ? true : undefined),
      30_000,
    );
    should(versionsOf(pulling)).eql({ 'pull-001': '2.0.0', 'pull-002': '2.0.0', 'pull-003': '2.0.0' });
    const states = await waitFor(
      "the pull devices' tasks to succeed",
      async () => {
        const tasks = await api.get<{ deviceName: string; state: string }[]>(`/batches/${batchId}/tasks`);
        const byName = Object.fromEntries(tasks.map((t) => [t.deviceName, t.state]));
        return tasks.filter((t) => t.state === 'SUCCEEDED').length === 3 ? byName : undefined;
      },
      5000,
    );
    should(states).eql({
      'device-1': 'NOTIFIED',
      'pull-001': 'SUCCEEDED',
      'pull-002': 'SUCCEEDED',
      'pull-003': 'SUCCEEDED',
    });
  });
});
