/**
 * ota-fleet in a running Node-RED: its store in the user directory, what survives a redeploy, and
 * what the nodes bound to it do when it cannot start or is not deployed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { SqliteStore } from '../../src/fleet';
import { catchAll } from '../helpers/core-nodes';
import {
  deploy,
  feed,
  fleetConfig,
  fleetSuite,
  loadFlow,
  logged,
  platformFlow,
  reportVersions,
  t1,
  t3,
  t4,
} from '../helpers/fleet-red';
import { node, onTab, probe } from '../helpers/flow';
import { assertNothingSent, assertRedRing, inboxes, Msg, recordStatuses } from '../helpers/red';

helper.init(require.resolve('node-red'));

describe('ota-fleet (in Node-RED)', function () {
  const suite = fleetSuite('fleet');

  it('keeps its store in <userDir>/ota/<fleet id>/fleet.sqlite', async function () {
    const platform = platformFlow(suite);
    await deploy(platform);
    should(existsSync(join(suite.userDir, 'ota', platform.fleet.id, 'fleet.sqlite'))).be.true();
  });

  it('is listed by the admin API under its id and name', async function () {
    const platform = platformFlow(suite, { fleetProps: { name: 'north' } });
    await deploy(platform);
    const res = await helper.request().get('/ota/fleets').expect(200);
    should(res.body).eql([{ id: platform.fleet.id, name: 'north', publicKey: null, requireVerification: true }]);
  });

  it('keeps the inventory, firmware and batches through a redeploy of the same flow', async function () {
    const platform = platformFlow(suite, { fleetProps: { requireVerification: false } });
    const first = await deploy(platform);
    await reportVersions(first, 'pk1', ['dev1', 'dev2'], '1.0.0');
    const upload = await helper
      .request()
      .post(`/ota/fleets/${platform.fleet.id}/firmware?productKey=pk1&version=2.0.0`)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from('firmware 2.0.0'))
      .expect(201);
    feed(platform.push!, {
      _msgid: 'b',
      payload: { firmwareId: upload.body.id, type: 'static', targets: { selection: 'ALL' } },
    });
    await first.sent.next();
    await first.sent.next();
    const before = {
      devices: (await helper.request().get(`/ota/fleets/${platform.fleet.id}/devices`).expect(200)).body,
      firmware: (await helper.request().get(`/ota/fleets/${platform.fleet.id}/firmware`).expect(200)).body,
      batches: (await helper.request().get(`/ota/fleets/${platform.fleet.id}/batches`).expect(200)).body,
    };

    await helper.unload();
    const second = await deploy(platform);

    const after = {
      devices: (await helper.request().get(`/ota/fleets/${platform.fleet.id}/devices`).expect(200)).body,
      firmware: (await helper.request().get(`/ota/fleets/${platform.fleet.id}/firmware`).expect(200)).body,
      batches: (await helper.request().get(`/ota/fleets/${platform.fleet.id}/batches`).expect(200)).body,
    };
    should(after).eql(before);
    should(after.devices.map((d: { deviceName: string; version: string }) => [d.deviceName, d.version])).eql([
      ['dev1', '1.0.0'],
      ['dev2', '1.0.0'],
    ]);
    should(after.batches.map((b: { counts: { NOTIFIED: number } }) => b.counts.NOTIFIED)).eql([2]);
    // The running tasks carry on: the new version completes dev1's task after the redeploy.
    feed(platform.inform, t1('pk1', 'dev1', '2.0.0'));
    const event = await second.informed.next();
    should(event.payload).eql({
      productKey: 'pk1',
      deviceName: 'dev1',
      module: 'default',
      version: '2.0.0',
      id: 1,
      batchId: after.batches[0].id,
      state: 'SUCCEEDED',
    });
  });

  describe("the store's durability (synchronous)", function () {
    /** The level the fleet's SQLite connection runs at. */
    function synchronousOf(fleetId: string): string {
      const fleet = helper.getNode(fleetId) as unknown as { handle: { fleet: { store: SqliteStore } } };
      return fleet.handle.fleet.store.synchronous;
    }

    it('is NORMAL by default', async function () {
      const fleet = fleetConfig(suite);
      await loadFlow(onTab(fleet));
      should(synchronousOf(fleet.id)).equal('NORMAL');
    });

    for (const level of ['NORMAL', 'FULL']) {
      it(`reaches the store when set to ${level}`, async function () {
        const fleet = fleetConfig(suite, { synchronous: level });
        await loadFlow(onTab(fleet));
        should(synchronousOf(fleet.id)).equal(level);
      });
    }

    it('refuses any other level, saying which it takes', async function () {
      const fleet = fleetConfig(suite, { synchronous: 'OFF' });
      await loadFlow(onTab(fleet));
      should(logged('ERROR', fleet.id)).eql([
        'the fleet "test fleet" could not start: synchronous must be NORMAL (survives a killed process) or FULL (also a power cut), got "OFF"',
      ]);
      should((await helper.request().get('/ota/fleets').expect(200)).body).eql([]);
    });
  });

  describe('a fleet that cannot start', function () {
    const reason = 'the fleet "test fleet" could not start: urlExpiryHours must be a number from 1 to 720, got 0';

    it('shows a bad setting with node.error', async function () {
      const fleet = fleetConfig(suite, { urlExpiryHours: 0 });
      await loadFlow(onTab(fleet));
      should(logged('ERROR', fleet.id)).eql([reason]);
    });

    it('is not listed by the admin API', async function () {
      const fleet = fleetConfig(suite, { maxPackageMB: 'lots' });
      await loadFlow(onTab(fleet));
      should(logged('ERROR', fleet.id)).eql([
        'the fleet "test fleet" could not start: maxPackageMB must be a number from 1 to 100000, got "lots"',
      ]);
      const res = await helper.request().get('/ota/fleets').expect(200);
      should(res.body).eql([]);
    });

    it('refuses a publicUrl that is not an http(s) base URL', async function () {
      const fleet = fleetConfig(suite, { publicUrl: 'ftp://files.example.com' });
      await loadFlow(onTab(fleet));
      should(logged('ERROR', fleet.id)).eql([
        'the fleet "test fleet" could not start: publicUrl must be an http:// or https:// base URL, got "ftp://files.example.com"',
      ]);
    });

    for (const type of ['ota-inform', 'ota-progress', 'ota-push', 'ota-verify']) {
      it(`makes a bound ${type} refuse every message with the fleet's reason`, async function () {
        const fleet = fleetConfig(suite, { urlExpiryHours: 0 });
        const out = probe();
        const errors = probe();
        const bound = node(type, { fleet: fleet.id }, [[out.id], [out.id]]);
        await loadFlow(onTab(fleet, bound, out, catchAll(errors), errors));
        const [output, caught] = inboxes(out.id, errors.id);
        const statuses = recordStatuses(bound.id);
        feed(
          bound,
          type === 'ota-progress'
            ? t3('pk1', 'dev1', 10)
            : type === 'ota-inform'
              ? t4('pk1', 'dev1', '1')
              : messageFor(type),
        );
        const error = await caught.next();
        should((error.error as { message: string }).message).equal(`Error: ${reason}`);
        assertRedRing(statuses, reason);
        await assertNothingSent([output]);
      });
    }
  });

  describe('a fleet that is not deployed', function () {
    const reason = 'the chosen ota-fleet is not deployed: open the node and pick a fleet';

    for (const type of ['ota-inform', 'ota-progress', 'ota-push', 'ota-verify']) {
      it(`makes a bound ${type} refuse every message saying so`, async function () {
        const out = probe();
        const errors = probe();
        const bound = node(type, { fleet: 'f0f0f0f0f0f0f0f0' }, [[out.id], [out.id]]);
        await loadFlow(onTab(bound, out, catchAll(errors), errors));
        const [output, caught] = inboxes(out.id, errors.id);
        should(helper.getNode(bound.id)).be.ok();
        feed(
          bound,
          type === 'ota-progress'
            ? t3('pk1', 'dev1', 10)
            : type === 'ota-inform'
              ? t1('pk1', 'dev1', '1.0.0')
              : messageFor(type),
        );
        const error = await caught.next();
        should((error.error as { message: string }).message).equal(`Error: ${reason}`);
        await assertNothingSent([output]);
      });
    }
  });
});

/** A message the node would otherwise act on. */
function messageFor(type: string): Msg {
  if (type === 'ota-push') return { _msgid: 'c', action: 'pause', batchId: 1 };
  return { _msgid: 'u', payload: Buffer.from('package'), productKey: 'pk1', version: '1.0.0' };
}
