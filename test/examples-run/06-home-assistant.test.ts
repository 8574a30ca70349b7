/**
 * examples/06 run against simulated devices and an mqtt.js client playing Home Assistant: every
 * device of demo-product is discovered with nothing to offer, the uploaded firmware is offered
 * once verified on test-1, and Install pressed in Home Assistant upgrades that one device.
 */
import should from 'should';
import { objectIdOf } from '../../src/nodes/homeassistant/entity';
import type { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { Example, NamedDevice, simulate } from '../helpers/example-run';
import { fleetSuite } from '../helpers/fleet-red';
import { FakeHomeAssistant } from '../homeassistant/ha-client';
import { deployExample } from '../homeassistant/ha-flow';
import { discoveryProblems } from '../homeassistant/ha-schema';

const EXAMPLE = '06 - Home Assistant updates.json';
const idOf = (deviceName: string) =>
  objectIdOf({ productKey: 'demo-product', deviceName, module: 'default' }, 'ota-homeassistant');

describe('examples/06 Home Assistant updates, run against simulated devices and a Home Assistant', function () {
  this.timeout(60_000);
  const suite = fleetSuite('example-06');
  let broker: TestBroker;
  let ha: FakeHomeAssistant | undefined;
  const sims: Simulation[] = [];
  const named: NamedDevice[] = [];

  before(async function () {
    broker = await startAedes();
  });
  afterEach(async function () {
    await Promise.all([...sims.splice(0).map((s) => s.stop()), ...named.splice(0).map((d) => d.stop())]);
    await ha?.close();
  });
  after(async function () {
    await broker?.close();
  });

  it('offers the verified firmware in Home Assistant and installs it on the device Install was pressed for', async function () {
    const example = new Example(EXAMPLE, broker.url, suite.nodeUrl);
    ha = await FakeHomeAssistant.connect(broker.url);
    await deployExample(example);
    await example.connected();
    const [verified, installs] = ['verified', 'installs'].map((name) => example.debug(name));

    const testDevice = new NamedDevice(broker.url, 'demo-product', 'test-1', '1.0.0');
    named.push(testDevice);
    await testDevice.start();
    await simulate(
      { broker: broker.url, productKey: 'demo-product', version: '1.0.0', devices: 2, namePrefix: 'device-', seed: 6 },
      sims,
    );
    const entities = ['test-1', 'device-001', 'device-002'].map(idOf);
    await ha.until('3 entities, up to date with nothing in the catalog', () =>
      entities.every((id) => ha?.lastState(id)?.latest_version === '1.0.0'),
    );
    should(ha.lastState(idOf('device-001'))).match({
      release_summary: 'no firmware of demo-product/default in the catalog',
    });
    for (const config of ha.allConfigs) should(discoveryProblems(config)).eql([]);

    example.press('upload firmware');
    should((await verified.next(() => true, 20_000)).payload).match({ version: '1.1.0', verification: 'verified' });
    await ha.until('1.1.0 offered to the devices still on 1.0.0', () =>
      ['device-001', 'device-002'].every((n) => ha?.lastState(idOf(n))?.latest_version === '1.1.0'),
    );

    await ha.install(idOf('device-001'));
    const started = await installs.next(() => true, 10_000);
    should(started).match({ topic: 'install', payload: { deviceName: 'device-001', version: '1.1.0' } });
    await ha.until(
      'device-001 on 1.1.0',
      () => ha?.lastState(idOf('device-001'))?.installed_version === '1.1.0',
      30_000,
    );
    should(ha.states(idOf('device-001')).some((s) => s.in_progress === true)).be.true();
    should(ha.lastState(idOf('device-002'))).match({ installed_version: '1.0.0', latest_version: '1.1.0' });
    should(sims[0].devices.map((d) => [d.name, d.versions.default])).eql([
      ['device-001', '1.1.0'],
      ['device-002', '1.0.0'],
    ]);
    // Nothing the example published was refused or dropped by Home Assistant's schemas.
    should(ha.problems).eql([]);
  });
});
