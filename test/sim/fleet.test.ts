/**
 * A simulated fleet as a whole: shared connections, waves, idle detection and a stop that leaves
 * nothing running.
 */
import should from 'should';
import { Simulation } from '../../src/sim';
import { Connections, SharedConnection } from '../../src/sim/link';
import { startAedes, TestBroker } from '../helpers/broker';
import {
  delay,
  dev,
  firmwareOf,
  makePackage,
  PackageServer,
  startPackageServer,
  testOptions,
  waitUntil,
  Watcher,
} from './support';

const PACKAGE = makePackage(20_000);

type Writer = (...args: unknown[]) => unknown;

/** Counts the writes (system calls) of the one client `connections` holds: `count()` so far. */
function countWrites(connections: Connections): { count: () => number } {
  const client = [...(connections as unknown as { clients: Set<import('mqtt').MqttClient> }).clients][0];
  const socket = client.stream as unknown as { _write: Writer; _writev: Writer };
  let writes = 0;
  for (const name of ['_write', '_writev'] as const) {
    const original = socket[name];
    socket[name] = function (this: unknown, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
  }
  return { count: () => writes };
}

/** Runs `fn` for each item from a callback of its own, as devices act from timers and handlers. */
const eachApart = <T>(items: T[], fn: (item: T, i: number) => Promise<unknown>) =>
  Promise.all(
    items.map((item, i) => new Promise((resolve, reject) => setImmediate(() => fn(item, i).then(resolve, reject)))),
  );

/** How many handles and requests of each kind keep the event loop alive; setImmediate callbacks come and go. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) if (kind !== 'Immediate') counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** The kinds of which more are active now than in `before`. */
function leftOpen(before: Record<string, number>): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const [kind, n] of Object.entries(activeResources()))
    if (n > (before[kind] ?? 0)) extra[kind] = n - (before[kind] ?? 0);
  return extra;
}

describe('ota-sim: a fleet', function () {
  let broker: TestBroker;
  let server: PackageServer;
  let watcher: Watcher;
  let sim: Simulation | undefined;

  beforeEach(async function () {
    broker = await startAedes();
    server = await startPackageServer(PACKAGE.bytes);
  });

  afterEach(async function () {
    await sim?.stop();
    sim = undefined;
    await watcher?.close();
    await server.close();
    await broker.close();
  });

  it('with --share 10 runs 20 devices over 2 MQTT connections, and all of them upgrade', async function () {
    watcher = await Watcher.start(broker.url, ['/ota/device/#', '$SYS/+/new/clients']);
    sim = new Simulation(testOptions(broker.url, { devices: 20, share: 10 }));
    await sim.start();
    should(sim.connectionCount).equal(2);
    await waitUntil(
      () => watcher.reports.filter((m) => m.topic.startsWith('/ota/device/inform/')).length === 20,
      'a T1 from every device',
    );
    for (const device of sim.devices)
      await watcher.notify(dev(device.name), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitUntil(() => sim?.summary().upgraded === 20, 'every device upgraded', 10_000);
    const clients = watcher.seen.filter((m) => m.topic.endsWith('/new/clients')).map((m) => m.text);
    should(clients.filter((id) => id.startsWith('pk1.'))).eql(['pk1.sim-shared-1', 'pk1.sim-shared-2']);
    should(sim.connectionCount).equal(2);
  });

  it('sends the packets its devices publish in one turn as one write, and every one arrives in order', async function () {
    watcher = await Watcher.start(broker.url, ['shared/#']);
    const connections = new Connections({ broker: broker.url, insecure: false }, () => undefined);
    const shared = new SharedConnection(connections, 'pk1.sim-shared-coalesce');
    try {
      const links = await Promise.all(
        Array.from({ length: 30 }, (_, i) => shared.open(dev(`d${i}`), () => undefined, new AbortController().signal)),
      );
      const writes = countWrites(connections);
      await eachApart(links, (l, i) => l.publish({ topic: `shared/${i}`, payload: String(i), qos: 1 }));
      // 30 PUBLISH packets went out together (one each would be 30 writes).
      should(writes.count()).be.belowOrEqual(2);
      await waitUntil(() => watcher.seen.length === 30, 'all 30 messages at the watcher');
      should(watcher.seen.map((m) => m.text)).eql(Array.from({ length: 30 }, (_, i) => String(i)));
    } finally {
      await connections.closeAll();
    }
  });

  it('sends the subscriptions and unsubscriptions of one turn as one write, and each is answered', async function () {
    watcher = await Watcher.start(broker.url, ['shared/#']);
    const connections = new Connections({ broker: broker.url, insecure: false }, () => undefined);
    const shared = new SharedConnection(connections, 'pk1.sim-shared-subscribe');
    try {
      const got: string[] = [];
      const links = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          shared.open(dev(`s${i}`), (topic) => void got.push(topic), new AbortController().signal),
        ),
      );
      const writes = countWrites(connections);
      await eachApart(links, (l, i) => l.subscribe([`shared/in/${i}`]));
      // 30 SUBSCRIBE packets (one each would be 30 writes).
      should(writes.count()).be.belowOrEqual(2);
      await eachApart(links, (_l, i) => watcher.client.publishAsync(`shared/in/${i}`, 'x', { qos: 1 }));
      await waitUntil(() => got.length === 30, 'a message for each subscription');
      should([...got].sort()).eql(Array.from({ length: 30 }, (_, i) => `shared/in/${i}`).sort());
      const before = writes.count();
      // Each end resolves when the broker has acknowledged its UNSUBSCRIBE.
      await eachApart(links, (l) => l.end('reboot'));
      // 30 UNSUBSCRIBE packets.
      should(writes.count() - before).be.belowOrEqual(2);
    } finally {
      await connections.closeAll();
    }
  });

  it('gives each device its own client, named after the device, by default', async function () {
    watcher = await Watcher.start(broker.url, ['$SYS/+/new/clients']);
    sim = new Simulation(testOptions(broker.url, { devices: 3 }));
    await sim.start();
    await waitUntil(() => watcher.seen.length >= 4, 'the clients to connect');
    should(watcher.seen.map((m) => m.text).filter((id) => id.startsWith('pk1.'))).eql([
      'pk1.sim-001',
      'pk1.sim-002',
      'pk1.sim-003',
    ]);
    should(sim.connectionCount).equal(3);
  });

  it('powers devices on in waves of --connect-wave', async function () {
    watcher = await Watcher.start(broker.url);
    sim = new Simulation(testOptions(broker.url, { devices: 6, timing: { connectWave: 2, bootMs: 40 } }));
    const booted: string[] = [];
    sim.on('state', (d, from) => from === 'booting' && booted.push(d.name));
    await sim.start();
    // A wave starts once the previous one has booted: devices 3-4 never before 1-2, 5-6 never before 3-4.
    should(booted.slice(0, 2).sort()).eql(['sim-001', 'sim-002']);
    should(booted.slice(2, 4).sort()).eql(['sim-003', 'sim-004']);
    should(booted.slice(4).sort()).eql(['sim-005', 'sim-006']);
  });

  it('idle() resolves once no device has been working on a notice for the quiet time', async function () {
    watcher = await Watcher.start(broker.url);
    sim = new Simulation(testOptions(broker.url, { devices: 2 }));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitUntil(() => sim?.devices[0].state !== 'idle', 'the device to take the notice');
    await sim.idle(100);
    should(sim.summary().states).containDeep({ upgraded: 1, idle: 1 });
  });

  it('stop() ends every client, download and timer, and may be called again', async function () {
    watcher = await Watcher.start(broker.url);
    const before = activeResources();
    sim = new Simulation(
      testOptions(broker.url, {
        devices: 5,
        faults: { slow: '5', offline: '2' },
        timing: { slowBytesPerSecond: 5000, offlineWithinMs: 5000 },
      }),
    );
    await sim.start();
    for (const device of sim.devices)
      await watcher.notify(dev(device.name), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitUntil(() => sim?.summary().states.downloading === 5, 'every device to be downloading');
    await sim.stop();
    await sim.stop();
    should(sim.connectionCount).equal(0);
    // The broker and the HTTP server close their side of each connection a moment later.
    await waitUntil(() => Object.keys(leftOpen(before)).length === 0, 'nothing more open than before', 2000).catch(
      () => {
        should(leftOpen(before)).eql({});
      },
    );
  });

  it('stop() before start() is harmless, and start() then does nothing', async function () {
    sim = new Simulation(testOptions(broker.url));
    await sim.stop();
    await sim.start();
    should(sim.devices).have.length(0);
  });

  it('start() refuses with a clear error when the broker cannot be reached', async function () {
    await broker.close();
    sim = new Simulation(testOptions(broker.url));
    await should(sim.start()).be.rejectedWith(
      new RegExp(`^ota-sim cannot connect to ${broker.url.replace(/[.]/g, '\\.')}: connect ECONNREFUSED`),
    );
    broker = await startAedes();
  });

  it('counts each fault given by a count on exactly that many devices', async function () {
    watcher = await Watcher.start(broker.url);
    sim = new Simulation(testOptions(broker.url, { devices: 10, faults: { failVerify: '3', silent: '2' } }));
    await sim.start();
    await delay(10);
    should(sim.summary().faults).containDeep({ failVerify: 3, silent: 2, failBurn: 0 });
  });
});
