/**
 * ota-homeassistant keeping Home Assistant's view current, through a real broker (Aedes) and an
 * mqtt.js client playing Home Assistant: an install that fails or is canceled, firmware deleted
 * from the catalog, a version reported outside any batch, two nodes showing the same device, and
 * what happens to the entities when the node is deleted, disabled, or lost in a full deploy.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import { objectIdOf } from '../../src/nodes/homeassistant/entity';
import { fleetById, FleetHandle } from '../../src/nodes/registry';
import { startAedes, TestBroker } from '../helpers/broker';
import { fleetSuite } from '../helpers/fleet-red';
import { Inbox } from '../helpers/red';
import { FakeHomeAssistant } from './ha-client';
import { deployHa, HaFlow, haFlow, uploadFirmware } from './ha-flow';
import { discoveryProblems, stateProblems } from './ha-schema';

const PK = 'pk-life';
const BASE = 'ota-homeassistant';
const idOf = (deviceName: string, base = BASE) => objectIdOf({ productKey: PK, deviceName, module: 'default' }, base);

describe('ota-homeassistant keeping Home Assistant current', function () {
  this.timeout(90_000);
  const suite = fleetSuite('homeassistant-life');
  let broker: TestBroker;
  let ha: FakeHomeAssistant;

  beforeEach(async function () {
    broker = await startAedes();
    ha = await FakeHomeAssistant.connect(broker.url);
  });
  afterEach(async function () {
    const problems = ha.problems;
    await ha.close();
    await helper.unload();
    await broker.close();
    // Nothing published in the test was refused or dropped by Home Assistant's schemas.
    should(problems).eql([]);
  });

  function fleetOf(f: HaFlow): FleetHandle {
    const fleet = fleetById(f.fleet.id);
    if (!fleet) throw new Error('the fleet did not start');
    return fleet;
  }

  /** A device that reports its version and never answers a notice: its task stays open. */
  async function quietDevice(fleet: FleetHandle, deviceName: string, version = '1.0.0'): Promise<void> {
    await fleet.fleet.submitVersion({ productKey: PK, deviceName }, { version, module: 'default' });
  }

  /** Deploys with 1.1.0 in the catalog (no verification asked) and `names` on 1.0.0, offered 1.1.0. */
  async function offering(names: string[], haProps: Record<string, unknown> = {}) {
    const f = haFlow(
      suite,
      broker.port,
      { productKey: PK, ...haProps },
      { fleetProps: { requireVerification: false } },
    );
    await deployHa(f);
    const firmware = await uploadFirmware(suite, f.fleet.id, PK, '1.1.0');
    const fleet = fleetOf(f);
    for (const name of names) await quietDevice(fleet, name);
    await ha.until('1.1.0 offered', () => names.every((n) => ha.lastState(idOf(n))?.latest_version === '1.1.0'));
    return { f, fleet, firmware };
  }

  /** Presses Install and waits for the task's notice to be sent (NOTIFIED). */
  async function installed(f: HaFlow, fleet: FleetHandle, deviceName: string): Promise<number> {
    const events = new Inbox(f.events.id);
    await ha.install(idOf(deviceName));
    const started = await events.next((m) => m.topic === 'install', 20_000);
    const batchId = (started.payload as { batchId: number }).batchId;
    await ha.until(
      'the notice sent',
      async () => (await fleet.ask((x) => x.tasks(batchId)[0]?.state)) === 'NOTIFIED',
      30_000,
    );
    await ha.until('the install shown in progress', () => ha.lastState(idOf(deviceName))?.in_progress === true);
    return batchId;
  }

  it('a failed install goes back to not in progress, still offered, and the attributes say it failed and why', async function () {
    // A name with characters outside ASCII: its entity, command topic and install work all the same.
    const name = 'küche-lampe';
    const { f, fleet } = await offering([name]);
    const batchId = await installed(f, fleet, name);
    await fleet.fleet.submitProgress(
      { productKey: PK, deviceName: name },
      { step: -2, desc: 'flash full', module: 'default' },
    );
    await ha.until('the install no longer in progress', () => ha.lastState(idOf(name))?.in_progress === false);
    should(ha.lastState(idOf(name))).match({
      installed_version: '1.0.0',
      latest_version: '1.1.0',
      update_percentage: null,
    });
    await ha.until('the failure in the attributes', () => ha.attributes(idOf(name)).at(-1)?.result === 'failed');
    should(ha.attributes(idOf(name)).at(-1)).match({ result: 'failed', batch_id: batchId, reason: /flash full/ });
    for (const state of ha.states(idOf(name))) should(stateProblems(state)).eql([]);
    should(discoveryProblems(ha.configs.get(idOf(name)))).eql([]);
  });

  it('a canceled batch ends the install in Home Assistant, and the attributes say it was canceled', async function () {
    const { f, fleet } = await offering(['lamp-1']);
    const batchId = await installed(f, fleet, 'lamp-1');
    await fleet.ask((x) => x.control('cancel', batchId));
    await ha.until('the install no longer in progress', () => ha.lastState(idOf('lamp-1'))?.in_progress === false);
    await ha.until('the cancel in the attributes', () => ha.attributes(idOf('lamp-1')).at(-1)?.result === 'canceled');
    should(ha.attributes(idOf('lamp-1')).at(-1)).match({ result: 'canceled', batch_id: batchId });
    should(ha.lastState(idOf('lamp-1'))).match({ latest_version: '1.1.0', update_percentage: null });
  });

  it('firmware deleted from the catalog is no longer offered', async function () {
    const { fleet, firmware } = await offering(['lamp-1', 'lamp-2']);
    await fleet.ask((x) => x.deleteFirmware(firmware.id));
    await ha.until('nothing offered any more', () =>
      ['lamp-1', 'lamp-2'].every((n) => ha.lastState(idOf(n))?.latest_version === '1.0.0'),
    );
    should(ha.lastState(idOf('lamp-1'))).match({
      installed_version: '1.0.0',
      release_summary: `no firmware of ${PK}/default in the catalog`,
      in_progress: false,
    });
  });

  it('a version reported outside any batch shows at once, in the state and as the device version', async function () {
    const { fleet } = await offering(['lamp-1', 'lamp-2']);
    await quietDevice(fleet, 'lamp-1', '1.1.0');
    await ha.until('lamp-1 on 1.1.0', () => ha.lastState(idOf('lamp-1'))?.installed_version === '1.1.0');
    should(ha.lastState(idOf('lamp-1'))).match({ latest_version: '1.1.0', in_progress: false });
    await ha.until('the device version', () => ha.configs.get(idOf('lamp-1'))?.device !== undefined);
    await ha.until(
      'the device block on 1.1.0',
      () => (ha.configs.get(idOf('lamp-1'))?.device as { sw_version?: string }).sw_version === '1.1.0',
    );
    should(ha.lastState(idOf('lamp-2'))).match({ installed_version: '1.0.0', latest_version: '1.1.0' });
  });

  it('two nodes, each with its own base topic, show one device as two entities that never share a topic', async function () {
    const f = haFlow(
      suite,
      broker.port,
      { productKey: PK },
      { fleetProps: { requireVerification: false }, more: [{ productKey: PK, baseTopic: 'ota-ha-upstairs' }] },
    );
    await deployHa(f);
    await quietDevice(fleetOf(f), 'lamp-1');
    const [mine, theirs] = [idOf('lamp-1'), idOf('lamp-1', 'ota-ha-upstairs')];
    await ha.until('both entities', () => ha.lastState(mine) !== undefined && ha.lastState(theirs) !== undefined);
    should(mine).not.equal(theirs);
    const [a, b] = [ha.configs.get(mine), ha.configs.get(theirs)] as Record<string, unknown>[];
    should(a.unique_id).not.equal(b.unique_id);
    should(a.state_topic).not.equal(b.state_topic);
    should(a.command_topic).not.equal(b.command_topic);
    should(a.availability).not.eql(b.availability);
    should(a.device).eql(b.device);
  });

  it('deleting the node clears its entities; disabling it only marks them unavailable', async function () {
    const { f } = await offering(['lamp-1', 'lamp-2']);
    const ids = [idOf('lamp-1'), idOf('lamp-2')];
    const availability = () => ha.log.filter((m) => m.topic === `${BASE}/availability`);
    // Disabled (still in the flows): unavailable, and still there.
    const disabled = f.flow.map((n) => (n.id === f.ha.id ? { ...n, d: true } : n));
    const seen = ha.log.length;
    await redeploy(disabled);
    await ha.until('offline', () => availability().at(-1)?.payload === 'offline');
    should(ha.log.slice(seen).filter((m) => m.topic.endsWith('/config'))).eql([]);
    should([...ha.configs.keys()].sort()).eql([...ids].sort());
    // Enabled again: available, as it was.
    await redeploy(f.flow);
    await ha.until('online', () => availability().at(-1)?.payload === 'online');
    // Deleted: every entity cleared.
    await redeploy(f.flow.filter((n) => n.id !== f.ha.id && n.wires?.[0]?.[0] !== f.ha.id));
    await ha.until('both entities cleared', () => ids.every((id) => ha.cleared.includes(id)));
    should(ha.configs.size).equal(0);
  });

  it("clears the entities of a node deleted while its clears were lost, when the fleet's next node starts", async function () {
    const { f } = await offering(['lamp-1']);
    const gone = idOf('lamp-1');
    // The flows stop as in a full deploy (nothing cleared), and come back without that node.
    await helper.unload();
    should(ha.cleared).eql([]);
    const next = haFlow(suite, broker.port, { productKey: PK, baseTopic: 'ota-ha-next' }, { fleet: f.fleet });
    await deployHa(next);
    await ha.until("the deleted node's entity cleared", () => ha.cleared.includes(gone));
    await ha.until("the new node's entity", () => ha.configs.has(idOf('lamp-1', 'ota-ha-next')));
    should([...ha.configs.keys()]).eql([idOf('lamp-1', 'ota-ha-next')]);
  });
});

/** A deploy of only what changed ("modified nodes"), as the editor's Deploy button does. */
async function redeploy(flow: unknown[]): Promise<void> {
  const red = (helper as unknown as { _redNodes: { setFlows(f: unknown[], c: unknown, t: string): Promise<unknown> } })
    ._redNodes;
  await red.setFlows(flow, {}, 'nodes');
}
