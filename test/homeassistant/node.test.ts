/** ota-homeassistant without a broker: settings it refuses, a missing fleet, a message it cannot read. */
import helper from 'node-red-node-test-helper';
import should from 'should';
import { fleetConfig, fleetSuite, loadFlow, logged } from '../helpers/fleet-red';
import { catchAll } from '../helpers/core-nodes';
import { node, onTab, probe } from '../helpers/flow';
import { assertNothingSent, Inbox, recordStatuses } from '../helpers/red';
import { haModule } from './ha-flow';

describe('ota-homeassistant on its own', function () {
  this.timeout(30_000);
  const suite = fleetSuite('homeassistant-node');

  async function deploy(props: Record<string, unknown>, withFleet = true) {
    const fleet = fleetConfig(suite);
    const [mqtt, events, caught] = [probe(), probe(), probe()];
    const ha = node('ota-homeassistant', { ...(withFleet ? { fleet: fleet.id } : {}), ...props }, [
      [mqtt.id],
      [events.id],
    ]);
    await loadFlow(onTab(fleet, ha, mqtt, events, caught, catchAll(caught)), {}, [haModule]);
    return { ha, mqtt: new Inbox(mqtt.id), events: new Inbox(events.id), caught: new Inbox(caught.id) };
  }

  it('with a bad setting refuses every message with the reason, a red status, and sends nothing', async function () {
    const d = await deploy({ productKey: 'pk1', baseTopic: 'a/+/b' });
    should(logged('ERROR', d.ha.id).join('\n')).match(/invalid settings: the node's base topic must be/);
    const statuses = recordStatuses(d.ha.id);
    helper.getNode(d.ha.id).receive({ topic: 'homeassistant/status', payload: 'online' });
    const caught = await d.caught.next();
    should((caught.error as { message: string }).message).match(/the node's base topic must be/);
    should(statuses.some((s) => s.fill === 'red' && s.shape === 'ring')).be.true();
    await assertNothingSent([d.mqtt, d.events]);
  });

  it('without a fleet warns, and refuses every message', async function () {
    const d = await deploy({ productKey: 'pk1' }, false);
    should(logged('WARN', d.ha.id)).containEql("ota-homeassistant needs an ota-fleet: pick one in the node's settings");
    helper.getNode(d.ha.id).receive({ topic: 'homeassistant/status', payload: 'online' });
    should(((await d.caught.next()).error as { message: string }).message).match(/needs an ota-fleet/);
    await assertNothingSent([d.mqtt, d.events]);
  });

  for (const [what, bad, reason] of [
    [
      'on a topic it does not read',
      { topic: 'somewhere/else', payload: 'install' },
      /msg\.topic must be ota-homeassistant\/<object id>\/install/,
    ],
    ['without a topic', { payload: 'install' }, /msg\.topic must be/],
    [
      'with a payload other than payload_install',
      { topic: 'ota-homeassistant/ota_x/install', payload: 'yes' },
      /msg\.payload must be "install"/,
    ],
    [
      'with an install topic of two levels',
      { topic: 'ota-homeassistant/a/b/install', payload: 'install' },
      /msg\.topic must be/,
    ],
    [
      'with a birth that is neither online nor offline',
      { topic: 'homeassistant/status', payload: { online: true } },
      /msg\.payload must be "online" or "offline"/,
    ],
    [
      'that is a retained install',
      { topic: 'ota-homeassistant/ota_x/install', payload: 'install', retain: true },
      /msg\.retain must be false/,
    ],
  ] as const) {
    it(`refuses a message ${what} with an error and a red status, and sends nothing`, async function () {
      const d = await deploy({ productKey: 'pk1' });
      // Its availability goes out at start, again until it comes back: only what else follows counts.
      await d.mqtt.next((m) => m.topic === 'ota-homeassistant/availability', 5000);
      const statuses = recordStatuses(d.ha.id);
      const before = d.mqtt.messages.length;
      helper.getNode(d.ha.id).receive({ ...bad });
      should(((await d.caught.next()).error as { message: string }).message).match(reason);
      should(statuses.some((s) => s.fill === 'red' && s.shape === 'ring')).be.true();
      await assertNothingSent([d.events]);
      should(d.mqtt.messages.slice(before).filter((m) => m.topic !== 'ota-homeassistant/availability')).eql([]);
    });
  }

  it('refuses to start on a base topic another ota-homeassistant node holds, and says which', async function () {
    const fleet = fleetConfig(suite);
    const [mqtt, caught] = [probe(), probe()];
    const first = node('ota-homeassistant', { fleet: fleet.id, productKey: 'pk1' }, [[mqtt.id], []]);
    const second = node('ota-homeassistant', { fleet: fleet.id, productKey: 'pk2' }, [[mqtt.id], []]);
    await loadFlow(onTab(fleet, first, second, mqtt, caught, catchAll(caught)), {}, [haModule]);
    const errors = [...logged('ERROR', first.id), ...logged('ERROR', second.id)].join('\n');
    should(errors).match(/the base topic "ota-homeassistant" is already used by ota-homeassistant node/);
    should(errors).match(/give each node its own base topic/);
  });
});
