import should from 'should';
import { Fleet, ReplayedFleet, type Outgoing, type Transition } from '../../src/fleet';
import type { DeviceRef } from '../../src/protocol';
import { PgChannel } from '../../src/fleet/pg-channel';
import { PgLease } from '../../src/fleet/pg-lease';
import { PgStore } from '../../src/fleet/pg-store';
import { freshDatabase, needPostgres, type Postgres } from '../helpers/postgres';
import { waitFor } from '../helpers/http';
import { dev, externalFirmware } from '../helpers/fleet';

/** One process of a fleet shared on PostgreSQL: its store, lease and channel, and what it saw. */
interface Member {
  name: string;
  replayed: ReplayedFleet;
  lease: PgLease;
  channel: PgChannel;
  sent: Outgoing[];
  transitions: Transition[];
  ask<T>(fn: (fleet: Fleet) => T): Promise<T>;
  stop(): Promise<void>;
}

function member(name: string, url: string): Member {
  const lease = new PgLease(url, { name: 'shared', holder: name });
  const channel = new PgChannel(url, { fleet: 'shared' });
  const replayed = new ReplayedFleet({ server: PgStore.open(url), name: 'shared', lease, channel, origin: name });
  const sent: Outgoing[] = [];
  const transitions: Transition[] = [];
  replayed.fleet.on('send', (out) => sent.push(...out));
  replayed.fleet.on('task', (t) => transitions.push(t));
  replayed.fleet.attachEgress(`push-${name}`);
  lease.start();
  return {
    name,
    replayed,
    lease,
    channel,
    sent,
    transitions,
    ask: (fn) => replayed.ask(fn),
    async stop() {
      await lease.stop();
      await replayed.close();
      await channel.close();
    },
  };
}

/** Resolves once `ok()` holds; fails naming `what` after `ms`. */
const until = (what: string, ok: () => boolean, ms: number) => waitFor(what, async () => (ok() ? true : undefined), ms);

const key = (t: Transition) => `${t.deviceName} ${t.from}>${t.to} ${t.at}`;

describe('two processes share a fleet on PostgreSQL', function () {
  this.timeout(120_000);
  let server: Postgres;
  let members: Member[] = [];

  before(async function () {
    server = await needPostgres(this);
  });

  afterEach(async function () {
    for (const m of members) await m.stop().catch(() => undefined);
    members = [];
  });

  it('one schedules, both take reports, each sees the other’s changes, and the other takes over when it stops', async function () {
    const url = await freshDatabase(server, 'cluster');
    const a = member('a', url);
    const b = member('b', url);
    members = [a, b];
    await until('a leader', () => a.lease.isLeader || b.lease.isLeader, 15_000);
    const [leader, other] = a.lease.isLeader ? [a, b] : [b, a];
    should(other.lease.isLeader).be.false();

    const devices: DeviceRef[] = Array.from({ length: 20 }, (_, i) => dev(`dev-${String(i).padStart(3, '0')}`));
    // Reports reach either process, as a shared subscription spreads them.
    for (const [i, d] of devices.entries())
      await members[i % 2].ask((f) => f.reportVersion(d, { version: '1.0.0', module: 'default' }));
    const fw = await other.ask((f) => externalFirmware(f));
    const batch = await other.ask((f) =>
      f.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' }, strategy: { maximumPerMinute: 600 } }),
    );

    // Only the leader sends notices; the rate lets a few go at a time.
    await until('ten notices', () => leader.sent.length >= 10, 30_000);
    should(other.sent).eql([]);
    const notified = new Set(leader.sent.map((o) => o.device.deviceName));
    for (const [i, d] of devices.entries()) {
      if (!notified.has(d.deviceName)) continue;
      const via = members[i % 2];
      await via.ask((f) => f.reportProgress(d, { step: 50, module: 'default' }));
      await via.ask((f) => f.reportVersion(d, { version: '2.0.0', module: 'default' }));
    }

    // Each process's events show what the other one stored.
    await until(
      'the same transitions in both',
      () => a.transitions.length === b.transitions.length && a.transitions.length >= 30,
      20_000,
    );
    should(a.transitions.map(key).sort()).eql(b.transitions.map(key).sort());

    // The leader stops: the other takes over, and the rest of the batch goes through it.
    await leader.stop();
    members = [other];
    await until('the other to lead', () => other.lease.isLeader, 15_000);
    await until('notices from the other', () => other.sent.length > 0, 30_000);
    await until('every device notified', () => notifiedAll(leader, other, devices), 60_000);
    for (const d of devices) {
      if (notified.has(d.deviceName)) continue;
      await other.ask((f) => f.reportVersion(d, { version: '2.0.0', module: 'default' }));
    }
    const view = await other.ask((f) => f.batch(batch.id));
    should(view.state).equal('COMPLETED');
    should(view.counts.SUCCEEDED).equal(devices.length);
    // No device was pushed by both: the leader's notices and the taker's are apart.
    const byLeader = new Set(leader.sent.map((o) => o.device.deviceName));
    should(other.sent.filter((o) => byLeader.has(o.device.deviceName)).length).equal(0);
  });
});

function notifiedAll(leader: Member, other: Member, devices: DeviceRef[]): boolean {
  const names = new Set([...leader.sent, ...other.sent].map((o) => o.device.deviceName));
  return devices.every((d) => names.has(d.deviceName));
}
