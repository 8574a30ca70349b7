/**
 * The runtime side of the editor's OTA tab: fleet events coalesced into few comms messages, sent
 * only to readers, and no listener left behind by a redeploy. Real fleets on SQLite, a real
 * EventEmitter standing in for RED.events.
 */
import { EventEmitter } from 'node:events';
import should from 'should';
import { ConsoleFeed, FleetsUpdate, FleetUpdate, hasPermission } from '../../src/nodes/console-feed';
import { askNow, FleetHandle } from '../../src/nodes/registry';
import { externalFirmware, makeFleet, reportFleet, TestFleet } from '../helpers/fleet';

interface Published {
  topic: string;
  data: FleetUpdate | FleetsUpdate;
  session?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function handleOf(t: TestFleet, id = 'fleet-1'): FleetHandle {
  return { id, name: `fleet ${id}`, fleet: t.fleet, ask: askNow(t.fleet) } as FleetHandle;
}

describe('console feed: live updates for the OTA tab', function () {
  let events: EventEmitter;
  let deployed: FleetHandle[];
  let published: Published[];
  let feed: ConsoleFeed;
  const fleets: TestFleet[] = [];

  function startFeed(adminAuth = false): ConsoleFeed {
    feed = new ConsoleFeed({
      events,
      adminAuth,
      fleets: () => deployed,
      intervalMs: 50,
      publish: (topic, data, session) => published.push({ topic, data, session }),
    });
    feed.start();
    return feed;
  }

  function deploy(...handles: FleetHandle[]): void {
    deployed = handles;
    events.emit('flows:started', {});
  }

  function fleet(): TestFleet {
    const t = makeFleet({ requireVerification: false });
    fleets.push(t);
    return t;
  }

  beforeEach(function () {
    events = new EventEmitter();
    deployed = [];
    published = [];
  });

  afterEach(function () {
    feed?.stop();
    for (const t of fleets.splice(0)) t.close();
  });

  it('a storm of 10,000 progress reports becomes one message per interval with the batch counts', async function () {
    const t = fleet();
    startFeed();
    deploy(handleOf(t));
    const devices = reportFleet(t.fleet, 100, '1.0.0');
    const batch = t.fleet.createBatch({
      firmwareId: externalFirmware(t.fleet).id,
      type: 'static',
      targets: { selection: 'ALL' },
    });
    t.clock.advance(0);
    await sleep(80);
    published = [];
    for (let i = 0; i < 10_000; i++)
      t.fleet.reportProgress(devices[i % 100], { step: Math.floor(i / 100), module: 'default' });
    await sleep(80);
    should(published).eql([
      {
        topic: 'ota/fleet-1',
        session: undefined,
        data: {
          fleetId: 'fleet-1',
          batches: [
            {
              id: batch.id,
              state: 'IN_PROGRESS',
              counts: { CONFIRM: 0, QUEUED: 0, NOTIFIED: 0, IN_PROGRESS: 100, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 },
            },
          ],
          devicesChanged: false,
          firmwareChanged: false,
          tasksChanged: [batch.id],
        },
      },
    ]);
  });

  it('says when devices report and when a firmware is added', async function () {
    const t = fleet();
    startFeed();
    deploy(handleOf(t));
    published = [];
    reportFleet(t.fleet, 3, '1.0.0');
    externalFirmware(t.fleet);
    await sleep(80);
    should(published).have.length(1);
    should(published[0].data).match({
      fleetId: 'fleet-1',
      batches: [],
      devicesChanged: true,
      firmwareChanged: true,
      tasksChanged: [],
    });
  });

  it('with adminAuth, only the editor sessions whose user has ota.read get the messages', async function () {
    const t = fleet();
    startFeed(true);
    events.emit('comms:connection-added', { session: 'reader', user: { username: 'viewer', permissions: 'read' } });
    events.emit('comms:connection-added', { session: 'admin', user: { username: 'admin', permissions: '*' } });
    events.emit('comms:connection-added', {
      session: 'ota',
      user: { username: 'ops', permissions: ['ota.read', 'status.read'] },
    });
    events.emit('comms:connection-added', {
      session: 'flows-only',
      user: { username: 'dev', permissions: ['flows.read', 'status.read'] },
    });
    deploy(handleOf(t));
    should(published.map((p) => [p.topic, p.session])).eql([
      ['ota/fleets', 'reader'],
      ['ota/fleets', 'admin'],
      ['ota/fleets', 'ota'],
    ]);
    events.emit('comms:connection-removed', { session: 'reader' });
    published = [];
    reportFleet(t.fleet, 1, '1.0.0');
    await sleep(80);
    should(published.map((p) => p.session)).eql(['admin', 'ota']);
  });

  it('follows redeploys: the old fleet keeps no listener, the new one is heard, stop removes everything', async function () {
    const first = fleet();
    startFeed();
    deploy(handleOf(first));
    should(first.fleet.listenerCount('task')).equal(2); // the test helper's and the feed's
    should(published.map((p) => p.data)).eql([{ fleets: [{ id: 'fleet-1', name: 'fleet fleet-1' }] }]);

    const second = fleet();
    deploy(handleOf(second), handleOf(fleet(), 'fleet-2'));
    should(first.fleet.listenerCount('task')).equal(1);
    should(second.fleet.listenerCount('task')).equal(2);
    should(feed.watchedCount).equal(2);
    published = [];
    reportFleet(first.fleet, 1, '1.0.0');
    reportFleet(second.fleet, 1, '1.0.0');
    await sleep(80);
    should(published.map((p) => p.topic)).eql(['ota/fleet-1']);

    deploy();
    should(feed.watchedCount).equal(0);
    should(second.fleet.listenerCount('device')).equal(0);
    feed.stop();
    for (const event of ['flows:started', 'flows:stopped', 'comms:connection-added', 'comms:connection-removed'])
      should(events.listenerCount(event)).equal(0);
  });

  it('reads permissions as Node-RED does', function () {
    should(hasPermission('*', 'ota.read')).be.true();
    should(hasPermission('read', 'ota.read')).be.true();
    should(hasPermission(['flows.read', 'ota.read'], 'ota.read')).be.true();
    should(hasPermission('read', 'ota.write')).be.false();
    should(hasPermission(['flows.read', 'status.read'], 'ota.read')).be.false();
    should(hasPermission(undefined, 'ota.read')).be.false();
  });
});
