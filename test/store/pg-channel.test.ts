import should from 'should';
import type { SharedChange } from '../../src/fleet';
import { channelName, NOTIFY_BYTES, PgChannel, splitChange } from '../../src/fleet/pg-channel';
import { freshDatabase, needPostgres, Postgres } from '../helpers/postgres';
import { waitFor } from '../helpers/http';

function transition(i: number) {
  return {
    taskId: i,
    batchId: 1,
    productKey: 'pk1',
    deviceName: `device-with-a-long-name-${String(i).padStart(5, '0')}`,
    module: 'default',
    from: 'QUEUED' as const,
    to: 'NOTIFIED' as const,
    reason: null,
    step: null,
    attempts: 1,
    at: 1_767_225_600_000 + i,
  };
}

function change(origin: string, n: number): SharedChange {
  return {
    origin,
    created: [[1, { QUEUED: n }]],
    transitions: Array.from({ length: n }, (_, i) => transition(i)),
    batches: [],
    devices: [],
    firmware: [],
  };
}

/** Everything a list of received changes holds, joined. */
function joined(changes: SharedChange[]) {
  return {
    created: changes.flatMap((c) => c.created),
    transitions: changes.flatMap((c) => c.transitions),
  };
}

const until = (what: string, ok: () => boolean, ms = 20_000) =>
  waitFor(what, async () => (ok() ? true : undefined), ms);

describe("a fleet's change channel on PostgreSQL (LISTEN/NOTIFY)", function () {
  this.timeout(60_000);

  describe('splitting a change into notifications', function () {
    it('a small change is one payload', function () {
      should(splitChange(change('a', 3))).eql([JSON.stringify(change('a', 3))]);
    });

    it('a large change is split under the limit, every item once and in order', function () {
      const big = change('a', 600);
      const payloads = splitChange(big);
      should(payloads.length).be.above(1);
      for (const p of payloads) should(Buffer.byteLength(p)).not.be.above(NOTIFY_BYTES);
      const parts = payloads.map((p) => JSON.parse(p) as SharedChange);
      should(parts.every((p) => p.origin === 'a')).be.true();
      should(joined(parts)).eql({ created: big.created, transitions: big.transitions });
    });

    it('a fleet of any name gets a channel PostgreSQL accepts', function () {
      should(channelName('Fleet "north" / 北')).match(/^ota_fleet_[0-9a-f]{32}$/);
      should(channelName('a')).not.equal(channelName('b'));
    });
  });

  describe('between processes', function () {
    let server: Postgres;
    before(async function () {
      server = await needPostgres(this);
    });

    it('a change published by one channel reaches the others of the fleet whole, and none of another fleet', async function () {
      const url = await freshDatabase(server, 'channel');
      const a = new PgChannel(url, { fleet: 'north' });
      const b = new PgChannel(url, { fleet: 'north' });
      const c = new PgChannel(url, { fleet: 'south' });
      try {
        await Promise.all([a.ready(), b.ready(), c.ready()]);
        const atB: SharedChange[] = [];
        const atC: SharedChange[] = [];
        b.subscribe((x) => atB.push(x));
        c.subscribe((x) => atC.push(x));
        const big = change('a', 400);
        a.publish(big);
        await until('the whole change at b', () => joined(atB).transitions.length === 400);
        should(joined(atB)).eql({ created: big.created, transitions: big.transitions });
        should(atC).eql([]);
      } finally {
        await Promise.all([a.close(), b.close(), c.close()]);
      }
    });

    it('after the server restarts, a listener is told it may have missed changes, and hears new ones', async function () {
      const own = await Postgres.start();
      should.exist(own);
      const pg = own as Postgres;
      const url = pg.url();
      const troubles: string[] = [];
      const a = new PgChannel(url, { fleet: 'north' });
      const b = new PgChannel(url, { fleet: 'north', onTrouble: (t) => troubles.push(t) });
      try {
        await Promise.all([a.ready(), b.ready()]);
        const atB: SharedChange[] = [];
        b.subscribe((x) => atB.push(x));
        pg.stop('fast');
        pg.startServer();
        await until('b told it may have missed changes', () => atB.some((x) => x.origin === ''));
        await until('a connected again', () => {
          a.publish(change('a', 1));
          return atB.some((x) => x.origin === 'a');
        });
        should(troubles.length).be.above(0);
        should(troubles.join(' ')).not.containEql(pg.password);
      } finally {
        await Promise.all([a.close(), b.close()]);
        pg.close();
      }
    });
  });
});
