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

  it('refuses a message on a topic it does not read, on output 2 and with an error, publishing nothing for it', async function () {
    const d = await deploy({ productKey: 'pk1' });
    // Its availability goes out at start: what is counted below is only what follows the bad message.
    await d.mqtt.next((m) => m.topic === 'ota-homeassistant/availability', 5000);
    const before = d.mqtt.messages.length;
    helper.getNode(d.ha.id).receive({ topic: 'somewhere/else', payload: 'install' });
    const refused = await d.events.next();
    should(refused).match({
      topic: 'refused',
      payload: { reason: /^msg\.topic must be ota-homeassistant\/<object id>\/install/ },
    });
    should(((await d.caught.next()).error as { message: string }).message).match(/msg\.topic must be/);
    should(d.mqtt.messages.slice(before).filter((m) => m.topic !== 'ota-homeassistant/availability')).eql([]);
  });
});
