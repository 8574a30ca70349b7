/**
 * ota-homeassistant through a real broker (Aedes), with simulated devices that answer notices as
 * SDKs do and an mqtt.js client playing Home Assistant: discovery configs valid by HA's schema,
 * Install pressed and followed to the new version, refusals that change nothing, devices leaving
 * the selection cleared, and the rate limit seen from the broker's side.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import { objectIdOf } from '../../src/nodes/homeassistant/entity';
import { fleetById } from '../../src/nodes/registry';
import type { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import { simulate } from '../helpers/example-run';
import { fleetSuite, logged } from '../helpers/fleet-red';
import { Inbox, Msg, recordStatuses } from '../helpers/red';
import { FakeHomeAssistant } from './ha-client';
import { deployHa, haFlow, uploadFirmware } from './ha-flow';
import { discoveryProblems, REQUIRED_KEYS, stateProblems } from './ha-schema';

const PK = 'pk-ha';
const idOf = (deviceName: string, productKey = PK, module = 'default') =>
  objectIdOf({ productKey, deviceName, module }, 'ota-homeassistant');

describe('ota-homeassistant with a broker, simulated devices and a Home Assistant', function () {
  this.timeout(60_000);
  const suite = fleetSuite('homeassistant');
  let broker: TestBroker;
  let ha: FakeHomeAssistant | undefined;
  const sims: Simulation[] = [];

  beforeEach(async function () {
    broker = await startAedes();
  });
  afterEach(async function () {
    await Promise.all(sims.splice(0).map((s) => s.stop()));
    const problems = ha?.problems ?? [];
    await ha?.close();
    ha = undefined;
    await helper.unload();
    await broker.close();
    // Nothing published in the test was refused or dropped by Home Assistant's schemas.
    should(problems).eql([]);
  });

  /** Devices of PK (lamp-001…) and of another product, all on 1.0.0 and known to the fleet. */
  async function devices(lamps: number, others = 0) {
    await simulate(
      { broker: broker.url, productKey: PK, version: '1.0.0', devices: lamps, namePrefix: 'lamp-', seed: 1 },
      sims,
    );
    if (others)
      await simulate(
        { broker: broker.url, productKey: 'pk-other', version: '1.0.0', devices: others, namePrefix: 'fan-', seed: 2 },
        sims,
      );
  }

  it("publishes a discovery config valid by HA's schema, and a state, for every selected device and no other", async function () {
    const f = haFlow(suite, broker.port, { productKey: PK }, { fleetProps: { requireVerification: false } });
    ha = await FakeHomeAssistant.connect(broker.url);
    await deployHa(f);
    await uploadFirmware(suite, f.fleet.id, PK, '1.1.0');
    await devices(3, 2);
    const lamps = ['lamp-001', 'lamp-002', 'lamp-003'].map((n) => idOf(n));
    await ha.until('3 entities with states offering 1.1.0', () =>
      lamps.every((id) => ha?.lastState(id)?.latest_version === '1.1.0'),
    );
    should([...ha.configs.keys()].sort()).eql(lamps.sort());
    for (const config of ha.allConfigs) {
      should(discoveryProblems(config)).eql([]);
      for (const key of REQUIRED_KEYS) should(config).have.property(key);
    }
    for (const id of lamps) for (const state of ha.states(id)) should(stateProblems(state)).eql([]);
    should(ha.lastState(lamps[0])).eql({
      installed_version: '1.0.0',
      latest_version: '1.1.0',
      title: `${PK} firmware`,
      release_summary: `Firmware 1.1.0 for ${PK}/default`,
      in_progress: false,
      update_percentage: null,
    });
    should(ha.configs.get(lamps[0])).match({ device: { name: 'lamp-001', model: PK, sw_version: '1.0.0' } });
    should(ha.log.filter((m) => m.topic === 'ota-homeassistant/availability').at(-1)?.payload).equal('online');

    // Home Assistant restarts: its birth message gets every config and state again.
    const seen = ha.log.length;
    await ha.birth();
    const again = () =>
      ha?.log
        .slice(seen)
        .filter((m) => m.topic.endsWith('/config'))
        .map((m) => m.topic) ?? [];
    await ha.until('every config again', () =>
      lamps.every((id) => again().includes(`homeassistant/update/${id}/config`)),
    );
    should(again().length).equal(lamps.length);
  });

  it('installs from HA: a one-device batch, the state moving through percentages to the new version', async function () {
    const f = haFlow(suite, broker.port, { productKey: PK }, { fleetProps: { requireVerification: false } });
    ha = await FakeHomeAssistant.connect(broker.url);
    await deployHa(f);
    const firmware = await uploadFirmware(suite, f.fleet.id, PK, '1.1.0', 256 * 1024);
    await devices(2);
    const lamp = idOf('lamp-001');
    await ha.until('the offer of 1.1.0', () => ha?.lastState(lamp)?.latest_version === '1.1.0');
    const events = new Inbox(f.events.id);
    await ha.install(lamp);
    const started = await events.next((m) => m.topic === 'install', 10_000);
    should(started.payload).match({
      objectId: lamp,
      productKey: PK,
      deviceName: 'lamp-001',
      module: 'default',
      firmwareId: firmware.id,
      version: '1.1.0',
    });
    await ha.until('the new version installed', () => ha?.lastState(lamp)?.installed_version === '1.1.0', 30_000);
    const states = ha.states(lamp);
    const last = states.at(-1);
    should(last).match({
      installed_version: '1.1.0',
      latest_version: '1.1.0',
      in_progress: false,
      update_percentage: null,
    });
    const during = states.filter((s) => s.in_progress === true);
    should(during.length).be.above(0);
    const percentages = during.map((s) => s.update_percentage).filter((p): p is number => typeof p === 'number');
    should(percentages.length).be.above(0, 'no percentage shown while installing');
    for (const p of percentages) should(p).be.within(0, 100);
    should(percentages).eql([...percentages].sort((a, b) => a - b));
    should(ha.configs.get(lamp)).match({ device: { sw_version: '1.1.0' } });
    const fleet = fleetById(f.fleet.id);
    should((await fleet?.ask((x) => x.listBatches()))?.map((b) => ({ targets: b.targets, state: b.state }))).eql([
      { targets: { selection: 'SPECIFIC', productKey: PK, devices: ['lamp-001'] }, state: 'COMPLETED' },
    ]);
    // The other lamp was not touched.
    should(ha.lastState(idOf('lamp-002'))).match({ installed_version: '1.0.0', in_progress: false });
  });

  it('refuses installs on output 2, in the attributes and with an error, and a bad command only with an error', async function () {
    const f = haFlow(suite, broker.port, { productKey: PK });
    ha = await FakeHomeAssistant.connect(broker.url);
    await deployHa(f);
    await uploadFirmware(suite, f.fleet.id, PK, '1.1.0'); // unverified: the gate holds it back
    await devices(1, 1);
    const lamp = idOf('lamp-001');
    await ha.until('the lamp discovered', () => ha?.lastState(lamp) !== undefined);
    await ha.until(
      'the fan reported',
      async () => ((await fleetById(f.fleet.id)?.ask((x) => x.devices({ productKey: 'pk-other' }).length)) ?? 0) === 1,
    );
    const statesBefore = ha.states(lamp).length;
    const events = new Inbox(f.events.id);
    const caught = new Inbox(f.caught.id);
    const statuses = recordStatuses(f.ha.id);
    const refusal = async (what: () => Promise<unknown>, reason: RegExp) => {
      await what();
      const event = await events.next((m: Msg) => m.topic === 'refused', 10_000);
      should((event.payload as { reason: string }).reason).match(reason);
      const error = await caught.next(() => true, 10_000);
      should((error.error as { message: string }).message).match(reason);
      return event.payload as Record<string, unknown>;
    };
    const gate = await refusal(() => ha!.install(lamp), /nothing to install on pk-ha\/lamp-001: .* is unverified/);
    should(gate).match({ objectId: lamp, productKey: PK, deviceName: 'lamp-001', module: 'default' });
    await ha.until('the refusal of the lamp in its attributes', () => (ha?.attributes(lamp).length ?? 0) >= 1);
    // A payload that is not payload_install is a message the node cannot read: an error, nothing sent.
    const sentBefore = ha.log.length;
    await ha.install(lamp, 'INSTALL');
    should(((await caught.next(() => true, 10_000)).error as { message: string }).message).match(/msg\.payload/);
    const fan = idOf('fan-001', 'pk-other');
    await refusal(
      () => ha!.publish(`ota-homeassistant/${fan}/install`, 'install'),
      /no device of this node's selection has the entity/,
    );
    await refusal(
      () => ha!.publish('ota-homeassistant/ota_nobody/install', 'install'),
      /no device of this node's selection/,
    );
    should(ha.attributes(lamp).map((a) => a.result)).eql(['refused']);
    should(events.messages.filter((m) => m.topic === 'refused')).have.length(3);
    should(ha.log.slice(sentBefore).filter((m) => !m.topic.endsWith('/install'))).eql([]);
    should(statuses.filter((st) => st.fill === 'red' && st.shape === 'ring').length).be.above(0);
    should(await fleetById(f.fleet.id)?.ask((x) => x.listBatches())).eql([]);
    should(ha.states(lamp).length).equal(statesBefore);
    should(ha.lastState(lamp)).match({ installed_version: '1.0.0', latest_version: '1.0.0', in_progress: false });
  });

  it('refuses a second Install while the first one runs', async function () {
    const f = haFlow(suite, broker.port, { productKey: PK }, { fleetProps: { requireVerification: false } });
    ha = await FakeHomeAssistant.connect(broker.url);
    await deployHa(f);
    await uploadFirmware(suite, f.fleet.id, PK, '1.1.0');
    // No ota-sim here: a device that reports and never answers the notice keeps its task open.
    const fleet = fleetById(f.fleet.id)?.fleet;
    await fleet?.submitVersion({ productKey: PK, deviceName: 'quiet' }, { version: '1.0.0', module: 'default' });
    const quiet = idOf('quiet');
    await ha.until('the quiet device discovered', () => ha?.lastState(quiet)?.latest_version === '1.1.0');
    const events = new Inbox(f.events.id);
    await ha.install(quiet);
    await events.next((m) => m.topic === 'install', 10_000);
    await ha.install(quiet);
    const refused = await events.next((m) => m.topic === 'refused', 10_000);
    should((refused.payload as { reason: string }).reason).match(
      /pk-ha\/quiet already has a (QUEUED|NOTIFIED) task in batch 1/,
    );
    should(await fleetById(f.fleet.id)?.ask((x) => x.listBatches().length)).equal(1);
    await ha.until('the install in progress', () => ha?.lastState(quiet)?.in_progress === true);
  });

  it('clears the config of a device whose tag is removed, and of every device a redeploy leaves out', async function () {
    const f = haFlow(
      suite,
      broker.port,
      { productKey: PK, tag: 'home' },
      { fleetProps: { requireVerification: false } },
    );
    ha = await FakeHomeAssistant.connect(broker.url);
    await deployHa(f);
    await devices(3, 1);
    const fleet = fleetById(f.fleet.id);
    await ha.until(
      '3 lamps in the inventory',
      async () => (await fleet?.ask((x) => x.devices({ productKey: PK }).length)) === 3,
    );
    should(ha.configs.size).equal(0);
    await fleet?.ask((x) =>
      x.setTags(
        ['lamp-001', 'lamp-002'].map((deviceName) => ({ productKey: PK, deviceName })),
        ['home'],
      ),
    );
    await ha.until('2 tagged lamps discovered', () => ha?.configs.size === 2);
    await fleet?.ask((x) => x.setTags([{ productKey: PK, deviceName: 'lamp-002' }], []));
    await ha.until('lamp-002 cleared', () => ha?.cleared.includes(idOf('lamp-002')) === true);
    should([...ha.configs.keys()]).eql([idOf('lamp-001')]);

    // A redeploy on the same fleet, now selecting the other product.
    await helper.unload();
    const again = haFlow(suite, broker.port, { productKey: 'pk-other' }, { fleet: f.fleet, haId: f.ha.id });
    await deployHa(again);
    await ha.until('lamp-001 cleared after the redeploy', () => ha?.cleared.includes(idOf('lamp-001')) === true);
    await ha.until('the fan discovered', () => ha?.configs.has(idOf('fan-001', 'pk-other')) === true);
    should([...ha.configs.keys()]).eql([idOf('fan-001', 'pk-other')]);
  });

  it('without a product key publishes no entity, and says so', async function () {
    const f = haFlow(suite, broker.port, {});
    ha = await FakeHomeAssistant.connect(broker.url);
    await ha.watch('ota-homeassistant/availability');
    await deployHa(f);
    const statuses = recordStatuses(f.ha.id);
    await devices(2);
    await ha.until(
      'the availability',
      () => ha?.log.some((m) => m.topic === 'ota-homeassistant/availability') === true,
    );
    await ha.birth();
    await ha.until('the status saying so', () =>
      statuses.some((s) => s.text === 'ota-homeassistant.status.noSelection'),
    );
    should(logged('WARN', f.ha.id)).containEql(
      'no product key selected: this node publishes no entity (and clears any it published before)',
    );
    should(ha.log.filter((m) => m.topic.startsWith('homeassistant/update/'))).eql([]);
  });

  it('without its availability coming back, publishes anyway after a while, and warns', async function () {
    const f = haFlow(suite, broker.port, { productKey: PK }, { echo: false });
    ha = await FakeHomeAssistant.connect(broker.url);
    await deployHa(f);
    await devices(1);
    await ha.until('the lamp discovered', () => ha?.configs.has(idOf('lamp-001')) === true, 30_000);
    should(logged('WARN', f.ha.id)).containEql(
      'ota-homeassistant/availability did not come back from the broker: publishing anyway (subscribe an mqtt in to it)',
    );
  });

  it('publishes at most the configured rate, counted at the broker, and all of it in the end', async function () {
    const RATE = 10;
    const f = haFlow(
      suite,
      broker.port,
      { productKey: PK, rate: RATE },
      { fleetProps: { requireVerification: false } },
    );
    ha = await FakeHomeAssistant.connect(broker.url);
    await deployHa(f);
    const fleet = fleetById(f.fleet.id)?.fleet;
    for (let i = 0; i < 30; i++)
      await fleet?.submitVersion({ productKey: PK, deviceName: `bulb-${i}` }, { version: '1.0.0', module: 'default' });
    await ha.until('30 configs and 30 states', () => ha !== undefined && paced(ha).length >= 60, 30_000);
    const times = paced(ha).map((m) => m.at);
    // Any 3 s window holds at most 3 s of the rate, and one second more for delivery jitter.
    const WINDOW = 3000;
    const most = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + WINDOW).length));
    should(most).be.belowOrEqual(RATE * (WINDOW / 1000 + 1));
  });
});

/** What the pacer sends (configs, states, attributes, clears): not the availability. */
function paced(ha: FakeHomeAssistant) {
  return ha.log.filter(
    (m) => m.topic.startsWith('homeassistant/update/') || /^ota-homeassistant\/[^/]+\/state$/.test(m.topic),
  );
}
