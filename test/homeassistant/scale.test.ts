/**
 * The Home Assistant side of ten thousand devices, without Node-RED: on a real fleet (a SQLite
 * file), the bridge queues one config and one state per entity and never more (a newer message
 * for a topic takes the waiting one's place, however often everything is asked for again), sends
 * each exactly once, and a new firmware sends states only.
 */
import should from 'should';
import { HaBridge } from '../../src/nodes/homeassistant/bridge';
import type { MqttOut } from '../../src/nodes/homeassistant/pacer';
import { readHaSettings } from '../../src/nodes/homeassistant/settings';
import { externalFirmware, makeFleet, reportFleet, TestFleet } from '../helpers/fleet';
import { delay } from '../helpers/red';
import { eventually } from '../helpers/fleet-red';
import { askNow } from '../../src/nodes/registry';

const DEVICES = 10_000;

describe('ota-homeassistant with ten thousand devices', function () {
  this.timeout(180_000);
  let t: TestFleet;
  let bridge: HaBridge | undefined;

  beforeEach(function () {
    t = makeFleet({ requireVerification: false });
    // One unit of work: one SQLite transaction for the whole inventory.
    t.fleet.run(() => reportFleet(t.fleet, DEVICES, '1.0.0'));
  });
  afterEach(async function () {
    await bridge?.close(false);
    t.close();
  });

  async function drained(b: HaBridge): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (b.summary().pending > 0) {
      if (Date.now() > deadline) throw new Error(`${b.summary().pending} messages still queued`);
      await delay(50);
    }
  }

  it('queues one config and one state per entity, however often everything is asked for, and sends each once', async function () {
    const sent: MqttOut[] = [];
    const settings = readHaSettings({ productKey: 'pk1', rate: 10_000 });
    bridge = new HaBridge({ fleet: t.fleet, ask: askNow(t.fleet) }, settings, 'homeassistant:scale', {
      publish: (messages) => sent.push(...messages),
      changed: () => undefined,
    });
    await bridge.start();
    should(bridge.summary()).match({ entities: DEVICES, pending: 2 * DEVICES, held: true });
    // Home Assistant restarting three times before the broker answered: still one message per topic.
    for (let i = 0; i < 3; i++) bridge.birth();
    should(bridge.summary().pending).equal(2 * DEVICES);
    await drained(bridge);
    const paced = sent.filter((m) => !m.topic.endsWith('/availability'));
    should(paced.length).equal(2 * DEVICES);
    should(new Set(paced.map((m) => m.topic)).size).equal(2 * DEVICES);
    should(paced.filter((m) => m.topic.endsWith('/config')).length).equal(DEVICES);

    // A new firmware changes what every entity is offered: states only, one each.
    sent.length = 0;
    externalFirmware(t.fleet, '1.1.0');
    // What each entity is offered is read again (one unit of work for all), then every state queued at once.
    const b = bridge;
    await eventually('the states queued again', () => b.summary().pending > 0 || sent.length > 0);
    should(b.summary().pending + sent.length).equal(DEVICES);
    await drained(bridge);
    should(sent.length).equal(DEVICES);
    should(sent.every((m) => m.topic.endsWith('/state') && JSON.parse(m.payload).latest_version === '1.1.0')).be.true();
  });

  it('shows every task already running when it starts in progress, read from the fleet a page at a time', async function () {
    const firmware = await externalFirmware(t.fleet, '1.1.0');
    const batch = t.fleet.createBatch({ firmwareId: firmware.id, targets: { selection: 'ALL', productKey: 'pk1' } });
    // Ten thousand devices are more than one slice: the batch is created over a few turns.
    await t.fleet.whenCreated(batch.id);
    const sent: MqttOut[] = [];
    bridge = new HaBridge(
      { fleet: t.fleet, ask: askNow(t.fleet) },
      readHaSettings({ productKey: 'pk1', rate: 10_000 }),
      'homeassistant:scale',
      {
        publish: (messages) => sent.push(...messages),
        changed: () => undefined,
      },
    );
    await bridge.start();
    bridge.birth();
    await drained(bridge);
    const states = sent
      .filter((m) => m.topic.endsWith('/state'))
      .map((m) => JSON.parse(m.payload) as { in_progress: boolean });
    should(states.length).equal(DEVICES);
    should(states.every((s) => s.in_progress)).be.true();
  });
});
