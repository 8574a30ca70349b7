import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { BatchChange, BatchView, Fleet, ManualClock, Outgoing, SqliteStore, Task } from '../../src/fleet';
import { dev, externalFirmware, notices, reportFleet } from '../helpers/fleet';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 733;

/** A fleet on a real SQLite file whose large batches are created `sliceSize` tasks a turn. */
class SlicedFleet {
  readonly dir = mkdtempSync(join(tmpdir(), 'ota-creation-'));
  readonly clock = new ManualClock();
  readonly fleet: Fleet;
  readonly changes: BatchChange[] = [];
  readonly sent: Outgoing[] = [];

  constructor(readonly sliceSize: number) {
    this.fleet = this.open();
  }

  open(): Fleet {
    const fleet = new Fleet({
      store: new SqliteStore(join(this.dir, 'fleet.sqlite')),
      clock: this.clock,
      name: 'test',
      batchSliceSize: this.sliceSize,
    });
    fleet.on('batch', (b) => this.changes.push(b));
    fleet.on('send', (out) => this.sent.push(...out));
    fleet.attachEgress('push-1');
    return fleet;
  }

  close(): void {
    this.fleet.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One turn of the event loop: a creation stores one slice per turn. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** What a task's plan is, without the ids and times the store gives it. */
function planned(tasks: Task[]) {
  return tasks
    .map((t) => ({
      device: t.deviceName,
      state: t.state,
      wave: t.wave,
      dueAt: t.dueAt,
      reason: t.reason,
      srcVersion: t.srcVersion,
    }))
    .sort((a, b) => a.device.localeCompare(b.device));
}

const all = { limit: 1_000_000 };

describe('fleet: a large batch created a slice at a time', function () {
  const fleets: SlicedFleet[] = [];
  function sliced(sliceSize: number): SlicedFleet {
    const f = new SlicedFleet(sliceSize);
    fleets.push(f);
    return f;
  }
  afterEach(function () {
    for (const f of fleets.splice(0)) f.close();
  });

  it('ends with exactly the tasks the one-shot path gives, for the same seed (property)', async function () {
    const strategyArb = fc.record({
      selection: fc.constantFrom('ALL', 'GRAY', 'GROUP'),
      percent: fc.integer({ min: 1, max: 100 }),
      waves: fc.option(fc.constantFrom([10, 100], [5, 25, 100], [50, 100]), { nil: undefined }),
      needConfirm: fc.boolean(),
      overwrite: fc.constantFrom('keep', 'replace'),
      devices: fc.integer({ min: 8, max: 70 }),
      atVersion: fc.integer({ min: 0, max: 5 }),
      older: fc.integer({ min: 0, max: 12 }),
      upgrading: fc.integer({ min: 0, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(strategyArb, async (s) => {
        const results = [];
        for (const sliceSize of [7, 100_000]) {
          const t = sliced(sliceSize);
          const devices = reportFleet(t.fleet, s.devices, '1.0.0');
          // Some devices already run the new version; some are tagged; some hold a task of an older batch.
          for (let i = 0; i < s.atVersion; i++)
            t.fleet.reportVersion(devices[i], { version: '3.0.0', module: 'default' });
          t.fleet.setTags(
            devices.filter((_, i) => i % 3 !== 0),
            ['north'],
          );
          externalFirmware(t.fleet, '2.0.0');
          const fw = externalFirmware(t.fleet, '3.0.0');
          let older: BatchView | undefined;
          if (s.older > 0) {
            older = t.fleet.createBatch({
              firmwareId: t.fleet.listFirmware()[0].id,
              targets: {
                selection: 'SPECIFIC',
                productKey: 'pk1',
                devices: devices.slice(s.devices - s.older).map((d) => d.deviceName),
              },
            });
            older = await t.fleet.whenCreated(older.id);
            t.fleet.tick();
            for (const d of devices.slice(s.devices - s.upgrading))
              t.fleet.reportProgress(d, { step: 10, desc: '', module: 'default' });
          }
          const targets: Record<string, unknown> = { selection: s.selection, productKey: 'pk1' };
          if (s.selection === 'GRAY') targets.percent = s.percent;
          if (s.selection === 'GROUP') targets.tag = 'north';
          const strategy = { waves: s.waves, needConfirm: s.needConfirm, overwrite: s.overwrite };
          const batch = t.fleet.createBatch({ firmwareId: fw.id, targets, strategy });
          if (sliceSize === 7 && s.devices - s.atVersion > 7 * 4) should(batch.state).equal('CREATING');
          if (sliceSize === 100_000) should(batch.state).not.equal('CREATING');
          const done = await t.fleet.whenCreated(batch.id);
          results.push({
            state: done.state,
            counts: done.counts,
            tasks: planned(t.fleet.tasks(batch.id, all)),
            older: older && planned(t.fleet.tasks(older.id, all)),
          });
        }
        should(results[0]).eql(results[1]);
      }),
      { numRuns: 30, seed: SEED },
    );
  });

  it('is CREATING with rising progress until its last task is stored, and sends nothing meanwhile', async function () {
    const t = sliced(7);
    reportFleet(t.fleet, 100, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk1' } });
    should(batch.state).equal('CREATING');
    should(batch.creation).eql({ done: 0, total: null });
    should(t.fleet.hasOpenBatches()).be.false();
    const seen: number[] = [];
    while (t.fleet.batch(batch.id).state === 'CREATING') {
      const view = t.fleet.batch(batch.id);
      should(t.fleet.listBatches().find((b) => b.id === batch.id)?.state).equal('CREATING');
      if (view.creation?.total !== null) seen.push(view.creation?.done as number);
      t.fleet.tick();
      t.clock.advance(1000);
      await turn();
    }
    should(notices(t.sent)).be.empty();
    should(seen.length).be.above(10);
    should(seen).eql([...seen].sort((a, b) => a - b));
    should(seen[0]).be.below(100);
    const done = await t.fleet.whenCreated(batch.id);
    should(done).match({ state: 'IN_PROGRESS', counts: { QUEUED: 100 } });
    should(done.creation).be.undefined();
    const progress = t.changes.filter((c) => c.batchId === batch.id && c.to === 'CREATING' && c.from === 'CREATING');
    should(progress.length).be.above(0);
    should(progress[0].creation).eql({ done: 0, total: 100 });
    should(t.changes.filter((c) => c.batchId === batch.id).map((c) => [c.from, c.to])).containDeep([
      [null, 'CREATING'],
      ['CREATING', 'IN_PROGRESS'],
    ]);
    t.fleet.tick();
    should(notices(t.sent)).have.length(100);
  });

  it('a batch whose candidates fit in one slice is created at once, as before', function () {
    const t = sliced(7);
    reportFleet(t.fleet, 7, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk1' } });
    should(batch).match({ state: 'IN_PROGRESS', counts: { QUEUED: 7 } });
    should(batch.creation).be.undefined();
  });

  it('a report arriving mid-creation moves the task the device already had, never the new batch', async function () {
    const t = sliced(7);
    const devices = reportFleet(t.fleet, 80, '1.0.0');
    externalFirmware(t.fleet, '2.0.0');
    const fw3 = externalFirmware(t.fleet, '3.0.0');
    const older = t.fleet.createBatch({
      firmwareId: t.fleet.listFirmware()[0].id,
      targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ['dev-010', 'dev-011', 'dev-012'] },
    });
    t.fleet.tick();
    const batch = t.fleet.createBatch({
      firmwareId: fw3.id,
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { overwrite: 'replace' },
    });
    while ((t.fleet.batch(batch.id).creation?.done ?? 0) < 40) await turn();
    // dev-010's new task is stored; it reports progress of the older batch's notice, dev-011 succeeds it.
    should(t.fleet.tasks(batch.id, all).map((x) => x.deviceName)).containEql('dev-010');
    should(t.fleet.reportProgress(devices[10], { step: 20, desc: '', module: 'default' })).match({
      batchId: older.id,
      state: 'IN_PROGRESS',
    });
    should(t.fleet.reportVersion(devices[11], { version: '2.0.0', module: 'default' })).match({
      batchId: older.id,
      state: 'SUCCEEDED',
    });
    should(t.fleet.reportVersion(devices[50], { version: '1.0.0', module: 'default' }).batchId).be.undefined();
    const done = await t.fleet.whenCreated(batch.id);
    should(done.state).equal('IN_PROGRESS');
    const mine = (name: string) => t.fleet.tasks(batch.id, all).find((x) => x.deviceName === name) as Task;
    const theirs = (name: string) => t.fleet.tasks(older.id, all).find((x) => x.deviceName === name) as Task;
    // Upgrading in the older batch: never replaced; the new task gives way.
    should(theirs('dev-010').state).equal('IN_PROGRESS');
    should(mine('dev-010')).match({ state: 'CANCELED', reason: /started upgrading in batch/ });
    should(theirs('dev-011').state).equal('SUCCEEDED');
    // Still only notified: replaced in the last step.
    should(theirs('dev-012')).match({ state: 'CANCELED', reason: `replaced by batch ${batch.id}` });
    should(mine('dev-012').state).equal('QUEUED');
    // The live counts are the stored ones.
    const live = [t.fleet.counts(older.id), t.fleet.counts(batch.id)];
    t.fleet.close();
    const reopened = t.open();
    should([reopened.counts(older.id), reopened.counts(batch.id)]).eql(live);
    reopened.close();
    rmSync(t.dir, { recursive: true, force: true });
    fleets.splice(fleets.indexOf(t), 1);
  });

  it('cancel mid-creation removes the tasks stored so far and leaves the batch CANCELED, other batches untouched', async function () {
    const t = sliced(7);
    reportFleet(t.fleet, 90, '1.0.0');
    externalFirmware(t.fleet, '2.0.0');
    const fw3 = externalFirmware(t.fleet, '3.0.0');
    const older = t.fleet.createBatch({
      firmwareId: t.fleet.listFirmware()[0].id,
      targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ['dev-001', 'dev-002'] },
    });
    const batch = t.fleet.createBatch({
      firmwareId: fw3.id,
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { overwrite: 'replace' },
    });
    while ((t.fleet.batch(batch.id).creation?.done ?? 0) < 30) await turn();
    should(() => t.fleet.control('pause', batch.id)).throw(/can only be canceled as a whole/);
    const view = t.fleet.control('cancel', batch.id);
    should(view.state).equal('CREATING');
    const done = await t.fleet.whenCreated(batch.id);
    should(done).match({ state: 'CANCELED', reason: /while it was being created/ });
    should(Object.values(done.counts).every((n) => n === 0)).be.true();
    should(t.fleet.tasks(batch.id, all)).be.empty();
    should(t.fleet.tasks(older.id, all).map((x) => x.state)).eql(['QUEUED', 'QUEUED']);
    should(t.fleet.transitions({ batchId: batch.id })).be.empty();
    should(t.changes.filter((c) => c.batchId === batch.id).pop()).match({ from: 'CREATING', to: 'CANCELED' });
  });

  it('refusals known up front throw at once and store nothing', function () {
    const t = sliced(7);
    const devices = reportFleet(t.fleet, 40, '1.0.0');
    const fw = externalFirmware(t.fleet);
    for (const d of devices) t.fleet.reportVersion(d, { version: '2.0.0', module: 'default' });
    should(() => t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk1' } })).throw(
      /no device of product pk1 \(module default\) matches/,
    );
    should(() =>
      t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'GROUP', productKey: 'pk1', tag: 'none' } }),
    ).throw(/no device of product pk1/);
    const unverified = t.fleet.addFirmware({ ...fw, version: '9.0.0', verification: 'unverified' });
    should(() =>
      t.fleet.createBatch({ firmwareId: unverified.id, targets: { selection: 'ALL', productKey: 'pk1' } }),
    ).throw(/verif/);
    should(t.fleet.listBatches()).be.empty();
  });

  it('a second batch of the same module waits until the first is created', async function () {
    const t = sliced(7);
    reportFleet(t.fleet, 60, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk1' } });
    should(() =>
      t.fleet.createBatch({
        firmwareId: fw.id,
        targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ['dev-001'] },
      }),
    ).throw({ message: new RegExp(`batch ${batch.id} of product pk1 \\(module default\\) is still being created`) });
    await t.fleet.whenCreated(batch.id);
    should(
      t.fleet.createBatch({
        firmwareId: fw.id,
        targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ['dev-001'] },
      }).counts.FAILED,
    ).equal(1);
  });

  it('a fleet closed mid-creation leaves the batch for the next start to remove, with its tasks', async function () {
    const t = sliced(7);
    reportFleet(t.fleet, 90, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk1' } });
    while ((t.fleet.batch(batch.id).creation?.done ?? 0) < 30) await turn();
    const settled = t.fleet.whenCreated(batch.id);
    t.fleet.close();
    await should(settled).be.rejectedWith(/closed/);
    const next = t.open();
    should(next.batch(batch.id).state).equal('CREATING');
    should(next.reportVersion(dev('dev-040'), { version: '1.0.0', module: 'default' }).batchId).be.undefined();
    await should(next.whenCreated(batch.id)).be.rejectedWith(/process stopped/);
    should(next.listBatches()).be.empty();
    should(next.tasks).be.ok();
    should(next.devices({ limit: 1000 })).have.length(90);
    next.close();
    const store = new SqliteStore(join(t.dir, 'fleet.sqlite'));
    should(store.tasksOf(batch.id, all)).be.empty();
    store.close();
    rmSync(t.dir, { recursive: true, force: true });
    fleets.splice(fleets.indexOf(t), 1);
  });
});
