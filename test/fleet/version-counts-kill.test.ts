import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { SqliteStore } from '../../src/fleet';
import { ChildRun } from '../helpers/child';
import { countedDistribution, printFigures, shouldMatchDevices } from './version-counts-check';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 506;

describe('the SQLite store: version counters after the writing process is killed', function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-versions-kill-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a store reopened after SIGKILL in the middle of writing counts exactly its devices (4 kills)', async function () {
    const file = join(dir, 'fleet.sqlite');
    // Each kill lands after a seeded number of commits, on the same file, so later writers start
    // from what earlier kills left.
    const plan = fc.sample(fc.integer({ min: 2, max: 60 }), { numRuns: 4, seed: SEED });
    const figures: { killedAfter: number[]; devices: number[]; versions: number[] } = {
      killedAfter: [],
      devices: [],
      versions: [],
    };
    for (const [i, commits] of plan.entries()) {
      const writer = ChildRun.node(join(__dirname, 'version-writer.js'), [file, String(SEED + i)]);
      await writer.waitForOutput(`committed ${commits}\n`, 60_000);
      await writer.kill();
      should(writer.child.signalCode).equal('SIGKILL');

      const store = new SqliteStore(file);
      const checker = new Database(file);
      should(checker.pragma('integrity_check', { simple: true })).equal('ok');
      shouldMatchDevices(store, checker, ['pk1', 'pk2', 'pk3']);
      figures.killedAfter.push(commits);
      figures.devices.push((checker.prepare('SELECT COUNT(*) AS n FROM devices').get() as { n: number }).n);
      figures.versions.push(countedDistribution(checker).length);
      checker.close();
      store.close();
    }
    should(figures.devices.every((n) => n > 0)).be.true();
    printFigures('version counters after SIGKILL', { ...figures, seed: SEED });
  });

  it('a store killed while its checkpoint thread runs keeps every acknowledged commit (3 kills)', async function () {
    const file = join(dir, 'fleet.sqlite');
    const delays = fc.sample(fc.integer({ min: 0, max: 200 }), { numRuns: 3, seed: SEED + 1 });
    const figures: { killedAfterMs: number[]; acknowledged: number[]; stored: number[] } = {
      killedAfterMs: [],
      acknowledged: [],
      stored: [],
    };
    for (const [i, ms] of delays.entries()) {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      const writer = ChildRun.node(join(__dirname, 'version-writer.js'), [file, String(SEED + 10 + i), 'thread']);
      // Killed a seeded moment after the store first reset its log, with the thread checkpointing.
      await writer.waitForOutput('thread restarted\n', 60_000);
      await new Promise((r) => setTimeout(r, ms));
      await writer.kill();
      should(writer.child.signalCode).equal('SIGKILL');
      const acknowledged = Math.max(...[...writer.stdout.matchAll(/committed (\d+)\n/g)].map((m) => Number(m[1])));

      const store = new SqliteStore(file);
      const checker = new Database(file);
      should(checker.pragma('integrity_check', { simple: true })).equal('ok');
      shouldMatchDevices(store, checker, ['pk1', 'pk2', 'pk3']);
      const stored = Number(store.getMeta('committed'));
      // The last acknowledged commit is stored (and so every one before it); one more may be.
      should(stored).be.within(acknowledged, acknowledged + 1);
      figures.killedAfterMs.push(ms);
      figures.acknowledged.push(acknowledged);
      figures.stored.push(stored);
      checker.close();
      store.close();
    }
    printFigures('commits after SIGKILL with the checkpoint thread', { ...figures, seed: SEED + 1 });
  });
});
