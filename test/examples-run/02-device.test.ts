/**
 * examples/02 run as the device gateway-1 of a platform: the Platform example (01) on another tab
 * of the same runtime, its test devices simulated. Node-RED reports 1.0.0 at start, and a batch
 * for gateway-1 goes notice → download → ota-verify → progress 100 → install → T1 1.1.0, which
 * completes the task on the platform. A notice whose download fails is reported as T3 -2.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { Example, fleetApi, simulate, watch } from '../helpers/example-run';
import { fleetSuite } from '../helpers/fleet-red';
import { waitFor } from '../helpers/http';

const DEVICE = '02 - Device - gateway upgrade.json';
const PLATFORM = '01 - Platform - versions, verification and batch upgrade.json';

interface Device {
  deviceName: string;
  modules: { module: string; version: string }[];
}

describe('examples/02 Device, run against the Platform example', function () {
  this.timeout(60_000);
  const suite = fleetSuite('example-02');
  let broker: TestBroker;
  const sims: Simulation[] = [];
  const watchers: { close(): Promise<void> }[] = [];

  before(async function () {
    broker = await startAedes();
  });
  afterEach(async function () {
    await Promise.all([...sims.splice(0), ...watchers.splice(0)].map((s) => ('stop' in s ? s.stop() : s.close())));
  });
  after(async function () {
    await broker?.close();
  });

  it('reports 1.0.0 at start, and takes a notice through download, verification and install to 1.1.0', async function () {
    const device = new Example(DEVICE, broker.url, suite.nodeUrl);
    const platform = new Example(PLATFORM, broker.url, suite.nodeUrl);
    const wire = await watch(broker.url, ['/ota/device/+/demo-product/gateway-1']);
    watchers.push(wire);
    await device.deploy(platform);
    await platform.connected();
    const api = fleetApi(suite.adminUrl, platform.fleetId);
    const checked = device.inbox('ota-verify', 'check package');

    // "at start: 1.0.0" fires once, a second after deploy: the platform lists gateway-1 on 1.0.0.
    const gateway = await waitFor(
      'gateway-1 in the platform inventory',
      () => api.get<Device>('/devices/demo-product/gateway-1'),
      10_000,
    );
    should(gateway.modules).match([{ module: 'default', version: '1.0.0' }]);

    // The platform verifies 1.1.0 on its simulated test devices, then upgrades gateway-1 alone.
    await simulate(
      { broker: broker.url, productKey: 'demo-product', version: '1.0.0', devices: 2, namePrefix: 'test-', seed: 1 },
      sims,
    );
    const verified = platform.debug('verified');
    platform.press('upload firmware');
    const firmwareId = ((await verified.next(() => true, 20_000)).payload as { id: string }).id;
    const batch = await api.post<{ id: number }>('/batches', {
      firmwareId,
      type: 'static',
      targets: { selection: 'SPECIFIC', productKey: 'demo-product', devices: ['gateway-1'] },
    });
    const done = await waitFor(
      'the batch to complete',
      async () => {
        const b = await api.get<{ state: string; counts: Record<string, number> }>(`/batches/${batch.id}`);
        return b.state === 'COMPLETED' ? b : undefined;
      },
      10_000,
    );

    // On the wire: T1 1.0.0, the notice, T3 100 once ota-verify passed the download, T1 1.1.0.
    const said = wire.seen.map(({ topic, payload }) => {
      const body = JSON.parse(payload);
      return `${topic.split('/')[3]} ${body.params ? JSON.stringify(body.params) : body.data.version}`;
    });
    should(said).eql([
      'inform {"version":"1.0.0"}',
      'upgrade 1.1.0',
      'progress {"step":"100","desc":"package verified"}',
      'inform {"version":"1.1.0"}',
    ]);
    const check = checked.messages[0];
    should(check.notice).match({ code: '1000', data: { version: '1.1.0', size: 4096, signMethod: 'Md5' } });
    should(helper.getNode(device.node('function', 'install').id).context().flow.get('version')).equal('1.1.0');

    // The platform counts the upgrade as done when gateway-1 reports the destination version.
    should(done.counts).match({ SUCCEEDED: 1, FAILED: 0 });
    should((await api.get<Device>('/devices/demo-product/gateway-1')).modules).match([
      { module: 'default', version: '1.1.0' },
    ]);
    const steps = (await api.get<{ step: number | null }[]>(`/batches/${batch.id}/transitions`)).map((t) => t.step);
    should(steps).containEql(100);
  });

  it('reports a notice whose package cannot be downloaded as T3 -2', async function () {
    const device = new Example(DEVICE, broker.url, suite.nodeUrl);
    const wire = await watch(broker.url, ['/ota/device/+/demo-product/gateway-1']);
    watchers.push(wire);
    await device.deploy();
    const checked = device.inbox('ota-verify', 'check package');
    // Its start-up T1 is on the broker once the flow's MQTT nodes are connected.
    await waitFor('the start-up T1', async () => wire.seen.find((m) => m.topic.includes('/inform/')), 10_000);
    const notice = {
      code: '1000',
      id: 7,
      message: 'success',
      data: {
        version: '1.1.0',
        size: 4096,
        signMethod: 'Md5',
        sign: 'a'.repeat(32),
        md5: 'a'.repeat(32),
        url: `${suite.nodeUrl}/no-such-package.bin`,
        module: 'default',
      },
    };
    await wire.publish('/ota/device/upgrade/demo-product/gateway-1', JSON.stringify(notice));
    const t3 = await waitFor('a T3', async () => wire.seen.find((m) => m.topic.includes('/progress/')), 10_000);
    should(JSON.parse(t3.payload)).match({ params: { step: '-2', desc: 'download failed: HTTP 404' } });
    should(checked.messages).eql([]);
  });
});
