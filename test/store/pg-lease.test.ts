import should from 'should';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool, types as pgTypes } from 'pg';
import { ManualClock } from '../../src/fleet/clock';
import { DEFAULT_LEASE_TIMINGS } from '../../src/fleet/lease';
import { PgLease, PgLeaseOptions } from '../../src/fleet/pg-lease';
import { ChildRun } from '../helpers/child';
import { freePort } from '../helpers/net';
import { freshDatabase, needPostgres, Postgres } from '../helpers/postgres';
import { TcpProxy } from '../helpers/tcp-proxy';

/** The product's promise: a dead holder is replaced within 10 s. */
const PROMISE_MS = 10_000;

interface Entry {
  at: number;
  who: string;
  kind: 'acquired' | 'lost';
  detail: number | string;
}

/** What every lease reported, timed by one clock (this process's monotonic one). */
class Timeline {
  readonly entries: Entry[] = [];

  watch(lease: PgLease, who: string): PgLease {
    lease.on('acquired', (epoch) => this.entries.push({ at: performance.now(), who, kind: 'acquired', detail: epoch }));
    lease.on('lost', (reason) => this.entries.push({ at: performance.now(), who, kind: 'lost', detail: reason }));
    return lease;
  }

  /** The first entry of `who` and `kind` after `since`. */
  first(who: string, kind: Entry['kind'], since = 0): Entry | undefined {
    return this.entries.find((e) => e.who === who && e.kind === kind && e.at >= since);
  }
}

/** Resolves when `condition` holds; fails after `timeoutMs` saying what it waited for. */
async function until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads every lease's status every 20 ms; `stop()` says how often, and how often two led at once. */
function sampleLeaders(leases: PgLease[]) {
  let samples = 0;
  let twoLeaders = 0;
  const timer = setInterval(() => {
    samples++;
    if (leases.filter((l) => l.status.role === 'leader').length > 1) twoLeaders++;
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return { samples, twoLeaders };
    },
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

describe('PgLease: one scheduler per fleet, through PostgreSQL', function () {
  this.timeout(120_000);
  let pg: Postgres;
  let url: string;
  let leases: PgLease[];
  let timeline: Timeline;
  const figures: string[] = [];

  before(async function () {
    pg = await needPostgres(this);
  });

  beforeEach(async function () {
    url = await freshDatabase(pg, 'lease');
    leases = [];
    timeline = new Timeline();
  });

  afterEach(async function () {
    await Promise.all(leases.map((l) => l.stop()));
  });

  after(function () {
    if (figures.length) console.log(`      measured: ${figures.join('; ')}`);
  });

  function lease(who: string, db: string | Pool = url, options: Partial<PgLeaseOptions> = {}): PgLease {
    const l = new PgLease(db, { name: 'fleet-1', holder: who, ...options });
    leases.push(l);
    return timeline.watch(l, who);
  }

  it('of two leases started together exactly one leads and the other follows it, epoch 1', async function () {
    const own = new Pool({ connectionString: url, max: 2 });
    own.on('error', () => {});
    try {
      const a = lease('a');
      const b = lease('b', own);
      a.start();
      b.start();
      await until('both have an answer', () => timeline.entries.length === 1 && a.status.role !== b.status.role);
      const [leader, follower] = a.status.role === 'leader' ? ['a', 'b'] : ['b', 'a'];
      const status = (who: string) => (who === 'a' ? a : b).status;
      await until('the follower names the leader', () => status(follower).reason === `following ${leader} (epoch 1)`);
      should(status(leader)).eql({ role: 'leader', epoch: 1, reason: 'leading (epoch 1)' });
      should(status(follower)).eql({ role: 'follower', epoch: 1, reason: `following ${leader} (epoch 1)` });
      should(timeline.entries).match([{ who: leader, kind: 'acquired', detail: 1 }]);
      const rows = (await own.query('SELECT name, holder, epoch FROM ota_leases')).rows;
      should(rows).eql([{ name: 'fleet-1', holder: leader, epoch: '1' }]);
      // The epoch is a number for the lease only: pg's own parser for bigint is left as it was.
      should(pgTypes.getTypeParser(20)('1')).equal('1');
    } finally {
      await Promise.all(leases.splice(0).map((l) => l.stop()));
      await own.end();
    }
  });

  it('a stopped leader hands over at once: lost, then the other leads with epoch + 1', async function () {
    const a = lease('a');
    const b = lease('b');
    a.start();
    await until('a leads', () => a.status.role === 'leader');
    b.start();
    await until('b follows a', () => b.status.reason === 'following a (epoch 1)');
    const stoppedAt = performance.now();
    await a.stop();
    await until('b leads', () => b.status.role === 'leader');
    const lost = timeline.first('a', 'lost')!;
    const acquired = timeline.first('b', 'acquired')!;
    should(lost.detail).equal('the lease was released (stopped)');
    should(acquired.detail).equal(2);
    should(lost.at).be.below(acquired.at);
    should(a.status.role).equal('follower');
    figures.push(`stop → takeover ${seconds(acquired.at - stoppedAt)}`);
  });

  it('a leader killed (SIGKILL) is replaced within 10 s, epoch + 1', async function () {
    const child = ChildRun.node(join(__dirname, 'pg-lease-child.js'), [], {
      env: { OTA_LEASE_DB: url, OTA_LEASE_NAME: 'fleet-1', OTA_LEASE_HOLDER: 'child' },
    });
    try {
      await child.waitForOutput('acquired 1', 30_000);
      const b = lease('b');
      b.start();
      await until('b follows the child', () => b.status.reason === 'following child (epoch 1)');
      const killedAt = performance.now();
      await child.kill();
      await until('b leads', () => b.status.role === 'leader');
      const takeover = timeline.first('b', 'acquired')!.at - killedAt;
      should(b.status.epoch).equal(2);
      should(takeover).be.below(PROMISE_MS);
      figures.push(`SIGKILL → takeover ${seconds(takeover)}`);
    } finally {
      await child.kill();
    }
  });

  it('a leader cut off by a partition reports lost before the other leads, and follows after the heal', async function () {
    const proxy = await TcpProxy.start(pg.port);
    try {
      const a = lease('a', url.replace(`:${pg.port}/`, `:${proxy.port}/`));
      const b = lease('b');
      a.start();
      await until('a leads', () => a.status.role === 'leader');
      b.start();
      await until('b follows a', () => b.status.reason === 'following a (epoch 1)');
      const sampler = sampleLeaders([a, b]);
      const cutAt = performance.now();
      proxy.cut();
      await until('b leads', () => b.status.role === 'leader');
      const { samples, twoLeaders } = sampler.stop();
      const lost = timeline.first('a', 'lost')!;
      const acquired = timeline.first('b', 'acquired')!;
      should(lost).be.ok();
      should(lost.detail).match(/^could not renew the lease in time|^the lease was not renewed in time/);
      should(lost.at).be.below(acquired.at);
      should(acquired.detail).equal(2);
      should(samples).be.above(0);
      should(twoLeaders).equal(0);
      should(a.status.role).equal('unreachable');
      should(proxy.dropped).be.above(0);
      figures.push(
        `partition → a lost after ${seconds(lost.at - cutAt)}, b leads after ${seconds(acquired.at - cutAt)} ` +
          `(${seconds(acquired.at - lost.at)} with no leader)`,
      );

      proxy.heal();
      await until('a follows b again', () => a.status.reason === 'following b (epoch 2)');
      should(b.status.role).equal('leader');
      should(timeline.entries.filter((e) => e.who === 'a').map((e) => e.kind)).eql(['acquired', 'lost']);
    } finally {
      await Promise.all(leases.splice(0).map((l) => l.stop()));
      await proxy.close();
    }
  });

  it('a database restart: the leader reports lost, both are unreachable, and one leads again after', async function () {
    const own = (await Postgres.start()) as Postgres;
    try {
      const db = own.createDatabase('lease');
      const a = lease('a', db);
      const b = lease('b', db);
      a.start();
      await until('a leads', () => a.status.role === 'leader');
      b.start();
      await until('b follows a', () => b.status.reason === 'following a (epoch 1)');
      const sampler = sampleLeaders([a, b]);
      own.stop('fast');
      await until('a has lost the lease', () => timeline.first('a', 'lost') !== undefined);
      await until('both are unreachable', () => a.status.role === 'unreachable' && b.status.role === 'unreachable');
      should(a.status.reason).startWith('cannot reach the database: ');
      should(b.status.reason).startWith('cannot reach the database: ');
      const restartedAt = performance.now();
      own.startServer();
      await until('one leads again', () => a.status.role === 'leader' || b.status.role === 'leader');
      const { twoLeaders } = sampler.stop();
      should(twoLeaders).equal(0);
      const leader = a.status.role === 'leader' ? a : b;
      const follower = leader === a ? b : a;
      await until('the other follows', () => follower.status.role === 'follower');
      // b can only have taken it afresh (epoch + 1); a may also have renewed its own row, if the
      // server was back before that row ran out (same epoch: no other holder came between).
      if (leader === b) should(leader.status.epoch).equal(2);
      else should([1, 2]).containEql(leader.status.epoch);
      const again = timeline.entries.find((e) => e.kind === 'acquired' && e.at >= restartedAt)!;
      figures.push(`database restart → one leads ${seconds(again.at - restartedAt)} after the server is back`);

      // The connections the restart broke are replaced: a clean stop still hands over.
      const epoch = leader.status.epoch as number;
      await leader.stop();
      await until('the other leads', () => follower.status.role === 'leader');
      should(follower.status.epoch).equal(epoch + 1);
    } finally {
      await Promise.all(leases.splice(0).map((l) => l.stop()));
      own.close();
    }
  });

  it('on an injected clock, a renewal unanswered at the deadline is a loss, and its late grant a lead again', async function () {
    const clock = new ManualClock(0);
    const a = lease('a', url, { clock });
    a.start();
    await until('a leads', () => a.status.role === 'leader');
    // The renewal due at 2 s is sent; the clock reaches the deadline (5.5 s) before its answer.
    clock.advance(DEFAULT_LEASE_TIMINGS.ttlMs - DEFAULT_LEASE_TIMINGS.safetyMarginMs);
    should(a.status.role).equal('unreachable');
    await until('the renewal is answered', () => a.status.role === 'leader');
    should(timeline.entries.map((e) => [e.kind, e.detail])).eql([
      ['acquired', 1],
      ['lost', 'the lease was not renewed in time'],
      ['acquired', 1],
    ]);
  });

  it('errors say what failed without the password or the connection string', async function () {
    const wrongPassword = url.replace(`:${pg.password}@`, ':not-the-password-4f2a@');
    const closedPort = url.replace(`:${pg.port}/`, `:${await freePort()}/`);
    const a = lease('a', wrongPassword);
    const b = lease('b', closedPort);
    const reasons: string[] = [];
    for (const l of [a, b]) l.on('status', (s) => reasons.push(s.reason));
    a.start();
    b.start();
    await until('both are unreachable', () => a.status.role === 'unreachable' && b.status.role === 'unreachable');
    should(a.status.reason).match(/^cannot reach the database: .*password authentication failed/);
    should(b.status.reason).match(/^cannot reach the database: .*ECONNREFUSED/);
    // A caller's pool: its password is kept out of the reasons too.
    const pool = new Pool({ connectionString: wrongPassword, max: 1 });
    pool.on('error', () => {});
    const c = lease('c', pool);
    c.on('status', (s) => reasons.push(s.reason));
    c.start();
    await until('c is unreachable', () => c.status.role === 'unreachable');
    await c.stop();
    await pool.end();
    for (const reason of reasons) {
      should(reason).not.containEql('not-the-password-4f2a');
      should(reason).not.containEql(pg.password);
      should(reason).not.containEql('postgres://');
    }
  });

  it('refuses a lease without a fleet name, and a stopped lease does not start again', async function () {
    should(() => new PgLease(url, { name: ' ' })).throw('a lease needs the fleet name it is for');
    const a = lease('a');
    await a.stop();
    should(() => a.start()).throw('a stopped lease cannot start again: make a new one');
  });
});
