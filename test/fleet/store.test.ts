import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { SCHEMA_VERSION, SqliteStore } from '../../src/fleet';
import { downgrade } from './old-schema';

describe('the SQLite store: schema versions and migrations', function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-store-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a new file is created at the current schema version, in WAL mode', function () {
    const file = join(dir, 'new.sqlite');
    new SqliteStore(file).close();
    const db = new Database(file, { readonly: true });
    should(db.pragma('user_version', { simple: true })).equal(SCHEMA_VERSION);
    should(db.pragma('journal_mode', { simple: true })).equal('wal');
    db.close();
  });

  it('a file written by the first release is migrated, and keeps its data', function () {
    const file = join(dir, 'v1.sqlite');
    // What release 1 left: its schema and a device with an active task.
    const current = new SqliteStore(file);
    current.close();
    downgrade(file, 1);
    const old = new Database(file);
    old.prepare("INSERT INTO devices VALUES ('pk1', 'dev1', 'default', '1.0.0', 1, 2)").run();
    old
      .prepare(
        "INSERT INTO tasks (batch_id, product_key, device_name, module, src_version, state, attempts, retries, wave, created_at, updated_at) VALUES (1, 'pk1', 'dev1', 'default', '1.0.0', 'NOTIFIED', 1, 0, 0, 1, 1)",
      )
      .run();
    old.close();

    const migrated = new SqliteStore(file);
    should(migrated.activeTask({ productKey: 'pk1', deviceName: 'dev1' }, 'default')).match({
      state: 'NOTIFIED',
      srcVersion: '1.0.0',
    });
    should(migrated.listDevices({})).match([{ deviceName: 'dev1', version: '1.0.0' }]);
    should(migrated.versionDistribution()).eql([{ productKey: 'pk1', module: 'default', version: '1.0.0', count: 1 }]);
    migrated.close();
    const db = new Database(file, { readonly: true });
    should(db.pragma('user_version', { simple: true })).equal(SCHEMA_VERSION);
    should(db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'tasks_by_device'").get()).eql({
      sql: 'CREATE INDEX tasks_by_device ON tasks (product_key, device_name)',
    });
    should(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'tasks_due'").get(),
    ).be.undefined();
    db.close();
  });

  it('the device registry replaces a secret on a second registration, lists no secrets, and deletes one device', function () {
    const store = new SqliteStore(join(dir, 'registry.sqlite'));
    store.putCredentials(
      [
        { productKey: 'pk1', deviceName: 'dev1', deviceSecret: 's1' },
        { productKey: 'pk1', deviceName: 'dev2', deviceSecret: 's2' },
      ],
      10,
    );
    store.putCredentials([{ productKey: 'pk1', deviceName: 'dev1', deviceSecret: 's1-new' }], 20);
    should(store.deviceSecret({ productKey: 'pk1', deviceName: 'dev1' })).equal('s1-new');
    should(store.listCredentials({})).eql([
      { productKey: 'pk1', deviceName: 'dev1', createdAt: 20 },
      { productKey: 'pk1', deviceName: 'dev2', createdAt: 10 },
    ]);
    should(store.deleteCredential({ productKey: 'pk1', deviceName: 'dev2' })).be.true();
    should(store.deleteCredential({ productKey: 'pk1', deviceName: 'dev2' })).be.false();
    should(store.deviceSecret({ productKey: 'pk1', deviceName: 'dev2' })).be.undefined();
    store.close();
  });

  it('a file from a newer release is refused with what to do, and left as it is', function () {
    const file = join(dir, 'newer.sqlite');
    new SqliteStore(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    should(() => new SqliteStore(file)).throw(/written by a newer node-red-contrib-mqtt-ota .* upgrade the package/);
    const after = new Database(file, { readonly: true });
    should(after.pragma('user_version', { simple: true })).equal(SCHEMA_VERSION + 1);
    after.close();
  });

  it('the task holding a device is found through the index of its tasks', function () {
    const store = new SqliteStore(join(dir, 'plan.sqlite'));
    const plan = (store as unknown as { db: Database.Database }).db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT * FROM tasks WHERE product_key = ? AND device_name = ? AND module = ? AND state IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS') ORDER BY id DESC LIMIT 1",
      )
      .all('pk', 'dn', 'm') as { detail: string }[];
    should(plan.map((p) => p.detail)).containEql(
      'SEARCH tasks USING INDEX tasks_by_device (product_key=? AND device_name=?)',
    );
    store.close();
  });
});
