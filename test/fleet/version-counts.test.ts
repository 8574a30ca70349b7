import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { SCHEMA_VERSION, SqliteStore } from '../../src/fleet';
import { downgrade } from './old-schema';
import { counterRows, shouldMatchDevices } from './version-counts-check';

const dev = (deviceName: string, productKey = 'pk1') => ({ productKey, deviceName });

/** Rows written by the statements of this connection and by the triggers they fired. */
const totalChanges = (db: Database.Database): number =>
  (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;

const dbOf = (store: SqliteStore) => (store as unknown as { db: Database.Database }).db;

describe('the SQLite store: the version distribution kept as counters', function () {
  let dir: string;
  let file: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-versions-'));
    file = join(dir, 'fleet.sqlite');
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a file at schema 4 gains counters equal to a count of its devices, and keeps them from then on', function () {
    const store = new SqliteStore(file);
    store.recordVersion(dev('a'), 'default', '1.0.0', 1);
    store.recordVersion(dev('b'), 'default', '1.0.0', 1);
    store.recordVersion(dev('a'), 'MCU', '7', 1);
    store.close();
    downgrade(file, 4);
    // Devices written by release 4, which kept no counters.
    const old = new Database(file);
    old.prepare("INSERT INTO devices VALUES ('pk1', 'c', 'default', '1.1.0', 2, 2)").run();
    old.prepare("INSERT INTO devices VALUES ('pk2', 'x', 'default', '3.0', 2, 2)").run();
    old.prepare("UPDATE devices SET version = '1.1.0' WHERE device_name = 'b' AND module = 'default'").run();
    old.close();

    const migrated = new SqliteStore(file);
    const checker = new Database(file);
    should(checker.pragma('user_version', { simple: true })).equal(SCHEMA_VERSION);
    should(migrated.versionDistribution()).eql([
      { productKey: 'pk1', module: 'MCU', version: '7', count: 1 },
      { productKey: 'pk1', module: 'default', version: '1.1.0', count: 2 },
      { productKey: 'pk1', module: 'default', version: '1.0.0', count: 1 },
      { productKey: 'pk2', module: 'default', version: '3.0', count: 1 },
    ]);
    migrated.recordVersion(dev('a'), 'default', '1.1.0', 3);
    migrated.recordVersion(dev('y', 'pk2'), 'default', '3.0', 3);
    shouldMatchDevices(migrated, checker, ['pk1', 'pk2']);
    should(counterRows(checker).map((r) => r.version)).eql(['7', '1.1.0', '3.0']);
    checker.close();
    migrated.close();
  });

  it('the distribution lists each module with its most common version first, ties by version, for all products or one', function () {
    const store = new SqliteStore(file);
    for (const [name, version] of [
      ['a', '1.0.9'],
      ['b', '1.0.10'],
      ['c', '1.0.10'],
      ['d', '0.9'],
      ['e', '1.1'],
    ])
      store.recordVersion(dev(name), 'default', version, 1);
    store.recordVersion(dev('z', 'pk0'), 'default', '5', 1);
    should(store.versionDistribution('pk1')).eql([
      { productKey: 'pk1', module: 'default', version: '1.0.10', count: 2 },
      { productKey: 'pk1', module: 'default', version: '0.9', count: 1 },
      { productKey: 'pk1', module: 'default', version: '1.0.9', count: 1 },
      { productKey: 'pk1', module: 'default', version: '1.1', count: 1 },
    ]);
    should(store.versionDistribution()[0]).eql({ productKey: 'pk0', module: 'default', version: '5', count: 1 });
    should(store.versionDistribution('pk9')).eql([]);
    store.close();
  });

  it('a report of the version a device already has writes its row and no counter', function () {
    const store = new SqliteStore(file);
    store.recordVersion(dev('a'), 'default', '1.0.0', 1);
    const db = dbOf(store);
    const before = totalChanges(db);
    store.recordVersion(dev('a'), 'default', '1.0.0', 2);
    should(totalChanges(db) - before).equal(1);
    should(store.listDevices({})).match([{ deviceName: 'a', version: '1.0.0', lastSeen: 2 }]);
    should(store.versionDistribution()).eql([{ productKey: 'pk1', module: 'default', version: '1.0.0', count: 1 }]);
    store.close();
  });

  it('a version left by its last device disappears from the counters, not left at 0', function () {
    const store = new SqliteStore(file);
    store.recordVersion(dev('a'), 'default', '1.0.0', 1);
    store.recordVersion(dev('b'), 'default', '1.0.0', 1);
    store.recordVersion(dev('a'), 'default', '2.0.0', 2);
    store.recordVersion(dev('b'), 'default', '2.0.0', 2);
    const checker = new Database(file);
    should(counterRows(checker)).eql([{ productKey: 'pk1', module: 'default', version: '2.0.0', count: 2 }]);
    checker.close();
    store.close();
  });

  it('devices deleted or rewritten by another connection are counted too', function () {
    const store = new SqliteStore(file);
    for (const name of ['a', 'b', 'c']) store.recordVersion(dev(name), 'default', '1.0.0', 1);
    store.recordVersion(dev('a'), 'MCU', '7', 1);
    const operator = new Database(file);
    operator.prepare("DELETE FROM devices WHERE device_name = 'b'").run();
    operator.prepare("DELETE FROM devices WHERE module = 'MCU'").run();
    operator.prepare("UPDATE devices SET product_key = 'pk2' WHERE device_name = 'c'").run();
    operator.prepare("UPDATE devices SET module = 'wifi', version = '3' WHERE device_name = 'a'").run();
    should(store.versionDistribution()).eql([
      { productKey: 'pk1', module: 'wifi', version: '3', count: 1 },
      { productKey: 'pk2', module: 'default', version: '1.0.0', count: 1 },
    ]);
    shouldMatchDevices(store, operator, ['pk1', 'pk2']);
    operator.close();
    store.close();
  });

  it('a transaction that throws midway leaves the counters as they were', function () {
    const store = new SqliteStore(file);
    store.recordVersion(dev('a'), 'default', '1.0.0', 1);
    should(() =>
      store.transaction(() => {
        store.recordVersion(dev('a'), 'default', '2.0.0', 2);
        store.recordVersion(dev('b'), 'default', '2.0.0', 2);
        throw new Error('midway');
      }),
    ).throw('midway');
    should(store.versionDistribution()).eql([{ productKey: 'pk1', module: 'default', version: '1.0.0', count: 1 }]);
    store.close();
  });
});
