import net from 'node:net';
import pg from 'pg';
import should from 'should';
import { FleetError } from '../../src/fleet/errors';
import { PG_SCHEMA_VERSION } from '../../src/fleet/pg-schema';
import { PgStore } from '../../src/fleet/pg-store';
import type { NewTask } from '../../src/fleet/store';
import type { TaskState } from '../../src/fleet/states';
import type { Task } from '../../src/fleet/types';
import { freePort } from '../helpers/net';
import { freshDatabase, needPostgres, Postgres } from '../helpers/postgres';

const PK = 'pk1';
const device = (i: number) => ({ productKey: PK, deviceName: `dev-${String(i).padStart(6, '0')}` });

const newBatch = (at = 1) => ({
  firmwareId: 'fw-1',
  type: 'static' as const,
  state: 'IN_PROGRESS' as const,
  targets: { productKey: PK, module: 'default' } as never,
  strategy: {} as never,
  wave: 0,
  direct: false,
  allowUnverified: false,
  createdAt: at,
  updatedAt: at,
});

const newTask = (batchId: number, i: number, state: TaskState = 'QUEUED'): NewTask => ({
  batchId,
  ...device(i),
  module: 'default',
  srcVersion: '1.0.0',
  state,
  reason: null,
  step: null,
  attempts: 0,
  retries: 0,
  wave: 0,
  dueAt: null,
  startedAt: null,
  createdAt: 1,
  updatedAt: 1,
});

/** The rejection of a promise (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<FleetError> {
  try {
    await p;
  } catch (err) {
    return err as FleetError;
  }
  throw new Error('expected a rejection');
}

/** A small deterministic random sequence (mulberry32), so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the PostgreSQL store: schema and migrations', function () {
  this.timeout(120_000);
  let server: Postgres;
  before(async function () {
    server = await needPostgres(this);
  });

  it('an empty database is migrated to the current schema, its counters kept by triggers', async function () {
    const url = await freshDatabase(server);
    const store = await PgStore.open(url);
    try {
      await store.recordVersion(device(1), 'default', '1.0.0', 1);
      await store.recordVersion(device(2), 'default', '1.0.0', 1);
      await store.recordVersion(device(1), 'default', '2.0.0', 2);
      should(await store.versionDistribution(PK)).eql([
        { productKey: PK, module: 'default', version: '1.0.0', count: 1 },
        { productKey: PK, module: 'default', version: '2.0.0', count: 1 },
      ]);
    } finally {
      await store.close();
    }
    const name = new URL(url).pathname.slice(1);
    should(server.psql(name, 'SELECT version FROM ota_schema')).equal(String(PG_SCHEMA_VERSION));
  });

  it('a store opened again finds the data it wrote', async function () {
    const url = await freshDatabase(server);
    const first = await PgStore.open(url);
    await first.recordVersion(device(1), 'default', '1.0.0', 1_700_000_000_000);
    const batchId = await first.insertBatch(newBatch());
    await first.insertTasks([newTask(batchId, 1)]);
    await first.setMeta('key', 'value');
    await first.close();

    const again = await PgStore.open(url);
    try {
      should(await again.deviceModules(device(1))).eql([
        {
          ...device(1),
          module: 'default',
          version: '1.0.0',
          firstSeen: 1_700_000_000_000,
          lastSeen: 1_700_000_000_000,
        },
      ]);
      should((await again.tasksOf(batchId, {})).map((t) => t.deviceName)).eql([device(1).deviceName]);
      should(await again.getMeta('key')).equal('value');
      should((await again.countsByBatch(batchId)).get(batchId)?.QUEUED).equal(1);
    } finally {
      await again.close();
    }
  });

  it('a user that may only read and write rows opens a migrated database and works in it', async function () {
    const url = await freshDatabase(server);
    await (await PgStore.open(url)).close();
    const name = new URL(url).pathname.slice(1);
    const role = `writer_${name}`;
    server.psql(
      name,
      `CREATE ROLE ${role} LOGIN PASSWORD 'writer-pw'; REVOKE CREATE ON SCHEMA public FROM PUBLIC;
       GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role};
       GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role};`,
    );
    const writer = await PgStore.open(`postgres://${role}:writer-pw@127.0.0.1:${server.port}/${name}`);
    try {
      await writer.recordVersion(device(1), 'default', '1.0.0', 1);
      const batchId = await writer.insertBatch(newBatch());
      await writer.insertTasks([newTask(batchId, 1)]);
      should(await writer.versionDistribution()).eql([
        { productKey: PK, module: 'default', version: '1.0.0', count: 1 },
      ]);
      should((await writer.countsByBatch(batchId)).get(batchId)?.QUEUED).equal(1);
    } finally {
      await writer.close();
    }
  });

  it('a database written by a newer package is refused with OTA_STORE, naming the schema versions', async function () {
    const url = await freshDatabase(server);
    await (await PgStore.open(url)).close();
    const name = new URL(url).pathname.slice(1);
    server.psql(name, `UPDATE ota_schema SET version = ${PG_SCHEMA_VERSION + 1}`);
    const err = await rejection(PgStore.open(url));
    should(err).be.instanceOf(FleetError);
    should(err.code).equal('OTA_STORE');
    should(err.message).match(
      new RegExp(`newer .*schema ${PG_SCHEMA_VERSION + 1}, this one knows ${PG_SCHEMA_VERSION}`),
    );
    should(err.message).containEql(`127.0.0.1:${server.port}/${name}`);
    should(err.message).not.containEql(server.password);
  });

  it('four stores opening one empty database at once all end on one migrated schema', async function () {
    const url = await freshDatabase(server);
    const stores = await Promise.all([1, 2, 3, 4].map(() => PgStore.open(url)));
    try {
      await Promise.all(stores.map((s, i) => s.recordVersion(device(i), 'default', '1.0.0', 1)));
      should(await stores[0].versionDistribution()).eql([
        { productKey: PK, module: 'default', version: '1.0.0', count: 4 },
      ]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    const name = new URL(url).pathname.slice(1);
    should(server.psql(name, "SELECT COUNT(*) || ',' || MAX(version) FROM ota_schema")).equal(`1,${PG_SCHEMA_VERSION}`);
    should(server.psql(name, "SELECT COUNT(*) FROM pg_trigger WHERE tgname = 'batch_counts_insert'")).equal('1');
  });
});

describe('the PostgreSQL store: numbers', function () {
  this.timeout(120_000);
  let server: Postgres;
  let url: string;
  before(async function () {
    server = await needPostgres(this);
    url = await freshDatabase(server);
  });

  it('BIGINT columns come back as numbers from the store, while a plain pg client still reads strings', async function () {
    const store = await PgStore.open(url);
    const client = new pg.Client({ connectionString: url });
    try {
      const at = 2 ** 41 + 7;
      await store.recordVersion(device(1), 'default', '1.0.0', at);
      should((await store.deviceModules(device(1)))[0].lastSeen).equal(at);
      should(await store.countDevices({})).equal(1);
      await client.connect();
      const row = (await client.query<{ last_seen: unknown }>('SELECT last_seen FROM devices')).rows[0];
      should(row.last_seen).equal(String(at));
      should(pg.types.getTypeParser(20, 'text')('5')).equal('5');
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('stream ids and batch ids taken by two stores at once never repeat', async function () {
    const [a, b] = await Promise.all([PgStore.open(url), PgStore.open(url)]);
    try {
      const streams = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).nextStreamId()));
      const batches = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).insertBatch(newBatch())));
      should(new Set(streams).size).equal(20);
      should(new Set(batches).size).equal(20);
      should(Math.min(...streams)).be.above(1000);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('the PostgreSQL store: transactions between instances', function () {
  this.timeout(120_000);
  let server: Postgres;
  let a: PgStore;
  let b: PgStore;
  const retried: string[] = [];
  before(async function () {
    server = await needPostgres(this);
    const url = await freshDatabase(server);
    const onRetry = ({ error }: { error: FleetError }) => retried.push(error.message);
    [a, b] = await Promise.all([PgStore.open(url, { onRetry }), PgStore.open(url, { onRetry })]);
  });
  after(async function () {
    await Promise.all([a?.close(), b?.close()]);
  });

  /** A read-modify-write of one task: one more attempt, and a transition saying so. */
  const bump = async (tx: Parameters<Parameters<PgStore['transaction']>[0]>[0], id: number) => {
    const t = (await tx.task(id)) as Task;
    const next = { ...t, attempts: t.attempts + 1, updatedAt: t.updatedAt + 1 };
    await tx.saveTask(next, {
      taskId: id,
      batchId: t.batchId,
      productKey: t.productKey,
      deviceName: t.deviceName,
      module: t.module,
      from: t.state,
      to: t.state,
      reason: null,
      step: null,
      attempts: next.attempts,
      at: next.updatedAt,
    });
  };

  it('a transaction that rejects leaves nothing behind, and rejects with its own error', async function () {
    const oops = new Error('the unit of work failed');
    const err = await rejection(
      a.transaction(async (tx) => {
        await tx.recordVersion(device(900), 'default', '9.9.9', 1);
        const batchId = await tx.insertBatch(newBatch());
        await tx.insertTasks([newTask(batchId, 900)]);
        throw oops;
      }),
    );
    should(err).equal(oops);
    should(await b.deviceVersion(device(900), 'default')).be.undefined();
    should(await b.versionDistribution()).eql([]);
    should(await b.listBatches()).eql([]);
    should([...(await b.countsByBatch()).keys()]).eql([]);
  });

  it('twenty read-modify-writes of one task on two stores at once all apply (the reads lock the row)', async function () {
    const batchId = await a.insertBatch(newBatch());
    await a.insertTasks([newTask(batchId, 1)]);
    const id = (await a.tasksOf(batchId, {}))[0].id;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).transaction(async (tx) => {
          await bump(tx, id);
        }),
      ),
    );
    should((await a.task(id))?.attempts).equal(20);
    should((await a.transitions({ taskId: id })).map((t) => t.attempts)).eql(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('two stores locking two tasks in opposite orders deadlock once; the loser runs again and both changes apply', async function () {
    const batchId = await a.insertBatch(newBatch());
    await a.insertTasks([newTask(batchId, 1), newTask(batchId, 2)]);
    const [one, two] = (await a.tasksOf(batchId, {})).map((t) => t.id);
    const before = a.retries + b.retries;
    retried.length = 0;
    let firstLocked!: () => void;
    let secondLocked!: () => void;
    const first = new Promise<void>((resolve) => (firstLocked = resolve));
    const second = new Promise<void>((resolve) => (secondLocked = resolve));
    const runs = { a: 0, b: 0 };
    await Promise.all([
      a.transaction(async (tx) => {
        runs.a++;
        await bump(tx, one);
        firstLocked();
        await second;
        await bump(tx, two);
      }),
      b.transaction(async (tx) => {
        runs.b++;
        await bump(tx, two);
        secondLocked();
        await first;
        await bump(tx, one);
      }),
    ]);
    should(a.retries + b.retries - before).equal(1);
    should(runs.a + runs.b).equal(3);
    should(retried).have.length(1);
    should(retried[0]).match(/deadlock/);
    should((await a.task(one))?.attempts).equal(2);
    should((await a.task(two))?.attempts).equal(2);
  });

  it('a uniform change waits for a task another store is changing, then writes none of its tasks, also inside a transaction that goes on', async function () {
    const batchId = await a.insertBatch(newBatch());
    await a.insertTasks([newTask(batchId, 1), newTask(batchId, 2), newTask(batchId, 3)]);
    const tasks = await a.tasksOf(batchId, {});
    const change = { taskIds: tasks.map((t) => t.id), from: 'QUEUED' as const, to: 'NOTIFIED' as const };
    let changing!: () => void;
    let release!: () => void;
    const locked = new Promise<void>((resolve) => (changing = resolve));
    const done = new Promise<void>((resolve) => (release = resolve));
    // b takes the second task to CANCELED and holds its row until the change has started waiting.
    const other = b.transaction(async (tx) => {
      await tx.saveTask({ ...tasks[1], state: 'CANCELED', updatedAt: 5 });
      changing();
      await done;
    });
    await locked;
    const refused = a.transaction(async (tx) => {
      const waiting = tx.saveUniformChange({ ...change, attemptsAdded: 1, dueAt: 900, at: 10 });
      setTimeout(release, 200);
      const err = await rejection(waiting);
      // The caller goes on and commits: the change left nothing to commit.
      await tx.setMeta('after-refusal', 'yes');
      return err;
    });
    await other;
    should((await refused).message).match(/1 of 3 tasks were not QUEUED as expected; none was saved/);
    should((await a.tasksOf(batchId, {})).map((t) => [t.state, t.attempts, t.updatedAt])).eql([
      ['QUEUED', 0, 1],
      ['CANCELED', 0, 5],
      ['QUEUED', 0, 1],
    ]);
    should(await a.transitions({ batchId })).eql([]);
    should((await a.countsByBatch(batchId)).get(batchId)).match({ QUEUED: 2, CANCELED: 1, NOTIFIED: 0 });
    should(await a.getMeta('after-refusal')).equal('yes');
  });

  it('a meta value read and written back by transactions on two stores loses no update, even before it exists', async function () {
    const increment = (store: PgStore) =>
      store.transaction(async (tx) => {
        const n = Number((await tx.getMeta('runs')) ?? '0');
        await tx.setMeta('runs', String(n + 1));
      });
    await Promise.all(Array.from({ length: 10 }, (_, i) => increment(i % 2 ? a : b)));
    should(await a.getMeta('runs')).equal('10');
  });

  it('a savepoint undoes a failed part of a transaction, and the rest commits', async function () {
    const batchId = await a.insertBatch(newBatch());
    await a.transaction(async (tx) => {
      await tx.setMeta('before', 'kept');
      await tx.savepoint('nested');
      await tx.setMeta('inside', 'undone');
      await should(tx.insertTasks([newTask(batchId, 7), newTask(batchId, 7)])).be.rejectedWith({ code: 'OTA_STORE' });
      await tx.rollbackTo('nested');
      await tx.release('nested');
      await tx.setMeta('after', 'kept');
    });
    should([await b.getMeta('before'), await b.getMeta('inside'), await b.getMeta('after')]).eql([
      'kept',
      undefined,
      'kept',
    ]);
    should(await b.tasksOf(batchId, {})).eql([]);
    await should(a.transaction((tx) => tx.savepoint('no; DROP TABLE tasks'))).be.rejectedWith(/not a savepoint name/);
  });

  it('an error that is not a conflict is not retried: a failed statement rejects with OTA_STORE at once', async function () {
    const before = a.retries;
    let runs = 0;
    const err = await rejection(
      a.transaction(async (tx) => {
        runs++;
        await tx.setMeta('inside', 'x');
        await tx.insertTasks([newTask(424242, 1), newTask(424242, 1)]);
      }),
    );
    should(err.code).equal('OTA_STORE');
    should(err.message).match(/SQLSTATE 23505/);
    should(runs).equal(1);
    should(a.retries).equal(before);
    should(await a.getMeta('inside')).be.undefined();
  });

  it('task and version counters equal a GROUP BY of the rows after two stores write at once', async function () {
    const batchId = await a.insertBatch(newBatch());
    const N = 200;
    await a.insertTasks(Array.from({ length: N }, (_, i) => newTask(batchId, i)));
    const ids = (await a.tasksOf(batchId, {})).map((t) => t.id);
    const states: TaskState[] = ['QUEUED', 'NOTIFIED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELED'];
    const writer = (store: PgStore, seed: number) => async () => {
      const rnd = random(seed);
      for (let i = 0; i < 150; i++) {
        const id = ids[Math.floor(rnd() * N)];
        const state = states[Math.floor(rnd() * states.length)];
        const version = `1.0.${Math.floor(rnd() * 4)}`;
        await store.transaction(async (tx) => {
          const t = (await tx.task(id)) as Task;
          await tx.saveTask({ ...t, state, updatedAt: t.updatedAt + 1 });
          await tx.recordVersion(device(Math.floor(rnd() * 50)), 'default', version, i);
        });
        if (i % 10 === 0) await store.deleteTasksOfBatch(-1, 1);
      }
    };
    await Promise.all([writer(a, 1)(), writer(b, 2)(), writer(a, 3)(), writer(b, 4)()]);

    const grouped = new Map<string, number>();
    for (const t of await a.tasksOf(batchId, { limit: N })) grouped.set(t.state, (grouped.get(t.state) ?? 0) + 1);
    const counts = (await b.countsByBatch(batchId)).get(batchId)!;
    for (const [state, n] of Object.entries(counts)) should([state, n]).eql([state, grouped.get(state) ?? 0]);

    const versions = new Map<string, number>();
    for (const d of await a.listDevices({ productKey: PK }))
      versions.set(d.version, (versions.get(d.version) ?? 0) + 1);
    const distribution = (await b.versionDistribution(PK)).map((v) => [v.version, v.count]);
    should(new Map(distribution as [string, number][])).eql(versions);
  });

  it('a batch of 100,000 tasks is inserted with ids in order and counted', async function () {
    const batchId = await b.insertBatch(newBatch());
    const tasks = Array.from({ length: 100_000 }, (_, i) => newTask(batchId, i, i % 10 ? 'QUEUED' : 'CONFIRM'));
    await b.insertTasks(tasks);
    const counts = (await a.countsByBatch(batchId)).get(batchId)!;
    should([counts.QUEUED, counts.CONFIRM]).eql([90_000, 10_000]);
    const firstPage = await a.tasksOf(batchId, { limit: 3 });
    should(firstPage.map((t) => t.deviceName)).eql([0, 1, 2].map((i) => device(i).deviceName));
    const last = await a.tasksOf(batchId, { after: firstPage[0].id + 99_998 });
    should(last.map((t) => t.deviceName)).eql([device(99_999).deviceName]);
    const page = await a.taskPage(batchId, { state: 'CONFIRM', limit: 10_000 });
    should(page.tasks).have.length(5_000);
    should(page.next).equal(firstPage[0].id + 49_999);
  });
});

describe('the PostgreSQL store: errors name the server, never the secret', function () {
  this.timeout(120_000);
  let server: Postgres;
  let url: string;
  before(async function () {
    server = await needPostgres(this);
    url = await freshDatabase(server);
  });

  const noSecret = (err: FleetError, secret: string) => {
    should(err.message).not.containEql(secret);
    should(err.message).not.containEql('postgres://');
  };

  it('a wrong password is refused with OTA_STORE naming host:port, the database and the user', async function () {
    const wrong = url.replace(server.password, 'not-the-password-42');
    const err = await rejection(PgStore.open(wrong, { connectTimeoutMs: 5_000 }));
    should(err.code).equal('OTA_STORE');
    should(err.message).match(/refused the login of user "postgres"/);
    should(err.message).containEql(`127.0.0.1:${server.port}`);
    should(err.message).containEql(new URL(url).pathname.slice(1));
    noSecret(err, 'not-the-password-42');
    noSecret(err, server.password);
  });

  it('a port where no server listens fails with OTA_STORE saying to check the server runs there', async function () {
    const port = await freePort();
    const there = url.replace(`:${server.port}/`, `:${port}/`);
    const err = await rejection(PgStore.open(there, { connectTimeoutMs: 5_000 }));
    should(err.code).equal('OTA_STORE');
    should(err.message).match(
      new RegExp(`cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}.*check that the server runs`),
    );
    noSecret(err, server.password);
  });

  it('a server that accepts the connection but never answers fails with OTA_STORE after the connect timeout', async function () {
    // Accepts and never answers; its sockets are destroyed at the end, and an error on one is ignored.
    const accepted = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      accepted.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const there = url.replace(`:${server.port}/`, `:${port}/`);
      const err = await rejection(PgStore.open(there, { connectTimeoutMs: 300 }));
      should(err.code).equal('OTA_STORE');
      should(err.message).match(new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port} .*did not answer in time`));
      noSecret(err, server.password);
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a statement cancelled by the statement timeout fails with OTA_STORE naming the option', async function () {
    const holder = await PgStore.open(url);
    const waiter = await PgStore.open(url, { statementTimeoutMs: 200 });
    try {
      const batchId = await holder.insertBatch(newBatch());
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      let done!: () => void;
      const finished = new Promise<void>((resolve) => (done = resolve));
      const holding = holder.transaction(async (tx) => {
        await tx.batch(batchId);
        locked();
        await finished;
      });
      await isLocked;
      const err = await rejection(waiter.transaction((tx) => tx.batch(batchId)));
      done();
      await holding;
      should(err.code).equal('OTA_STORE');
      should(err.message).match(/cancelled a statement while running batch locked: .*statementTimeoutMs/);
      noSecret(err, server.password);
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
    }
  });

  it('a database that does not exist is named in the error', async function () {
    const err = await rejection(PgStore.open(url.replace(/\/[^/]+$/, '/no_such_db'), { connectTimeoutMs: 5_000 }));
    should(err.code).equal('OTA_STORE');
    should(err.message).match(/database "no_such_db"\): the database does not exist/);
    noSecret(err, server.password);
  });

  it('a failed statement rejects with OTA_STORE, its SQLSTATE and what the store was doing', async function () {
    const store = await PgStore.open(url);
    try {
      const fw = {
        id: 'fw-dup',
        productKey: PK,
        module: 'default',
        version: '1.0.0',
        size: 1,
        md5: 'm',
        sha256: 's',
        signMethod: 'SHA256' as const,
        hosted: false,
        isDiff: false,
        streamId: 1001,
        verification: 'verified' as const,
        sequence: 1,
        createdAt: 1,
      };
      await store.insertFirmware(fw);
      const err = await rejection(store.insertFirmware(fw));
      should(err.code).equal('OTA_STORE');
      should(err.message).match(
        /a statement failed on PostgreSQL at 127\.0\.0\.1:\d+ .*insert firmware.*SQLSTATE 23505/,
      );
      noSecret(err, server.password);
    } finally {
      await store.close();
    }
  });
});

describe('the PostgreSQL store: a server stopped and started again', function () {
  this.timeout(180_000);
  let own: Postgres | undefined;
  let store: PgStore | undefined;
  const poolErrors: FleetError[] = [];
  let reported!: () => void;
  const firstPoolError = new Promise<void>((resolve) => (reported = resolve));
  before(async function () {
    await needPostgres(this);
    own = await Postgres.start();
    const url = own!.createDatabase('restart');
    store = await PgStore.open(url, {
      connectTimeoutMs: 3_000,
      onError: (e) => {
        poolErrors.push(e);
        reported();
      },
    });
  });
  after(async function () {
    await store?.close().catch(() => undefined);
    own?.close();
  });

  it('operations fail with OTA_STORE while it is down, the lost idle connections are reported, and all works again once it is back', async function () {
    const s = store!;
    await s.recordVersion(device(1), 'default', '1.0.0', 1);
    await Promise.all([s.deviceVersion(device(1), 'default'), s.countDevices({})]);
    own!.stop('fast');
    // The pool's idle connections are ended by the stop: reported to onError, not thrown.
    await firstPoolError;
    for (const attempt of [
      s.deviceVersion(device(1), 'default'),
      s.recordVersion(device(2), 'default', '1.0.0', 2),
      s.transaction((tx) => tx.countDevices({})),
    ]) {
      const err = await rejection(attempt);
      should(err.code).equal('OTA_STORE');
      should(err.message).containEql(`127.0.0.1:${own!.port}`);
      should(err.message).not.containEql(own!.password);
    }
    for (const e of poolErrors) should([e.code, e.message.includes(own!.password)]).eql(['OTA_STORE', false]);
    own!.startServer();
    await s.recordVersion(device(2), 'default', '2.0.0', 3);
    should(await s.transaction((tx) => tx.countDevices({}))).equal(2);
    should(await s.deviceVersion(device(1), 'default')).equal('1.0.0');
    for (const e of poolErrors) should(e.message).match(/while holding an idle connection/);
  });
});
