import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { Fleet, SqliteStore } from '../../src/fleet';
import { ChildRun } from '../helpers/child';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 811;
const DEVICES = 6000;
const SLICE = 100;

describe('fleet: a process killed while it creates a large batch', function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-creation-kill-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  // 0: killed while its devices are read; then after some of its slices, up to its last one.
  const stops = [0, ...fc.sample(fc.integer({ min: SLICE, max: (DEVICES * 9) / 10 - 1 }), { numRuns: 3, seed: SEED })];
  for (const stopAt of stops) {
    it(`leaves no trace of the batch at the next start, the older batch's tasks untouched (killed at ${stopAt} tasks)`, async function () {
      const file = join(dir, 'fleet.sqlite');
      const writer = ChildRun.node(join(__dirname, 'creation-writer.js'), [
        file,
        String(DEVICES),
        String(SLICE),
        String(stopAt),
      ]);
      await writer.waitForOutput(/stopped \d+ at \d+\n|created/, 60_000);
      await writer.kill();
      should(writer.output).match(/stopped \d+/);
      const batchId = Number(/stopped (\d+)/.exec(writer.output)?.[1]);
      const olderId = Number(/older (\d+)/.exec(writer.output)?.[1]);

      const fleet = new Fleet({ store: new SqliteStore(file), name: 'after', batchSliceSize: SLICE });
      // Removed a slice at a time after the start: until then it is CREATING and holds no device.
      should(fleet.batch(batchId).state).equal('CREATING');
      should(
        fleet.reportVersion({ productKey: 'pk1', deviceName: 'd-000001' }, { version: '1.0.0', module: 'default' })
          .batchId,
      ).be.undefined();
      await should(fleet.whenCreated(batchId)).be.rejectedWith(/process stopped while it was being created/);
      should(fleet.listBatches().map((b) => b.id)).eql([olderId]);
      should(fleet.counts(olderId)).match({ QUEUED: 20, CANCELED: 0 });
      fleet.close();

      const db = new Database(file, { readonly: true });
      should(db.pragma('integrity_check', { simple: true })).equal('ok');
      const count = (sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;
      should(count('SELECT COUNT(*) AS n FROM tasks WHERE batch_id = ?', batchId)).equal(0);
      should(count('SELECT COUNT(*) AS n FROM batches WHERE id = ?', batchId)).equal(0);
      should(count('SELECT COUNT(*) AS n FROM transitions')).equal(0);
      should(count("SELECT COUNT(*) AS n FROM tasks WHERE batch_id = ? AND state = 'QUEUED'", olderId)).equal(20);
      should(count('SELECT COUNT(*) AS n FROM devices')).equal(DEVICES);
      db.close();
    });
  }
});
