/**
 * A progress storm: a batch over many devices, all notified, then a flood of T3 reports in a
 * seeded random order (steps 0..100 and failures -1..-4) with the batch canceled at a seeded
 * point in the middle. Afterwards the counts must match, every way they can be read: the fleet's
 * live counts, a GROUP BY on the store file through a separate connection, and a model of what
 * each report should have done; no task of the canceled batch may still be active or waiting for
 * a retry, and every task's last stored transition must end in its state.
 */
import Database from 'better-sqlite3';
import should from 'should';
import { Fleet, SqliteStore } from '../../src/fleet';
import { seededRandom } from '../../src/fleet/planner';
import type { TaskCounts } from '../../src/fleet/states';
import { externalFirmware, makeFleet } from './fleet';

export interface StormFigures {
  devices: number;
  reports: number;
  seed: number;
  canceledAfter: number;
  appliedBeforeCancel: number;
  ignoredAfterCancel: number;
  counts: TaskCounts;
  ms: { setup: number; notify: number; storm: number; cancel: number; check: number };
  reportsPerSecond: number;
}

/** The fleet's seeded PRNG (mulberry32): the storm's order and steps are reproducible from its seed. */
export const random = seededRandom;

const name = (i: number) => `dev-${String(i).padStart(6, '0')}`;

/** The counts of a batch read straight from the file, as GROUP BY sees them. */
export function countsInFile(
  file: string,
  batchId: number,
): { counts: Record<string, number>; activeOrRetrying: number; lastTransitionMismatches: number } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const counts: Record<string, number> = {};
    for (const row of db
      .prepare<[number], { state: string; n: number }>(
        'SELECT state, COUNT(*) AS n FROM tasks WHERE batch_id = ? GROUP BY state',
      )
      .all(batchId))
      counts[row.state] = row.n;
    const activeOrRetrying = (
      db
        .prepare<[number], { n: number }>(
          "SELECT COUNT(*) AS n FROM tasks WHERE batch_id = ? AND (state IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS') OR (state = 'FAILED' AND due_at IS NOT NULL))",
        )
        .get(batchId) as { n: number }
    ).n;
    const lastTransitionMismatches = (
      db
        .prepare<{ batch: number }, { n: number }>(
          // One pass over the transitions (the store need not index them by task).
          `SELECT COUNT(*) AS n FROM tasks t
           JOIN (SELECT task_id, MAX(id) AS last FROM transitions WHERE batch_id = @batch GROUP BY task_id) l ON l.task_id = t.id
           JOIN transitions tr ON tr.id = l.last
           WHERE t.batch_id = @batch AND tr.to_state <> t.state`,
        )
        .get({ batch: batchId }) as { n: number }
    ).n;
    return { counts, activeOrRetrying, lastTransitionMismatches };
  } finally {
    db.close();
  }
}

/** Runs the storm through the Fleet API on a real SQLite file, and checks the counts. */
export async function progressStorm(devices: number, reports: number, seed: number): Promise<StormFigures> {
  const rnd = random(seed);
  const t = makeFleet({ requireVerification: false });
  // What the test listens to is not under test here: keep the helper from collecting a million events.
  t.fleet.removeAllListeners('task');
  t.fleet.removeAllListeners('send');
  t.fleet.removeAllListeners('device');
  const fleet: Fleet = t.fleet;
  try {
    const lap = (() => {
      let last = Date.now();
      return () => {
        const now = Date.now();
        const ms = now - last;
        last = now;
        return ms;
      };
    })();
    // The inventory is written straight into the store in one transaction: setting up, not under test.
    fleet.store.transaction(() => {
      for (let i = 0; i < devices; i++)
        fleet.store.recordVersion({ productKey: 'pk1', deviceName: name(i) }, 'default', '1.0.0', 0);
    });
    const firmware = externalFirmware(fleet);
    const batch = fleet.createBatch({
      firmwareId: firmware.id,
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { retryCount: 2, retryInterval: 5 },
    });
    // A large batch is created a slice per turn: the storm starts once it is complete.
    await fleet.whenCreated(batch.id);
    const setup = lap();
    while (fleet.counts(batch.id).QUEUED > 0) fleet.tick();
    should(fleet.counts(batch.id).NOTIFIED).equal(devices);
    const notify = lap();

    // The model: NOTIFIED → IN_PROGRESS on a step, → FAILED on a failure (the clock stands still,
    // so no retry comes due); FAILED takes no more reports; the cancel ends NOTIFIED and IN_PROGRESS.
    const model: string[] = new Array(devices).fill('NOTIFIED');
    const canceledAfter = Math.floor(reports * (0.1 + 0.2 * rnd()));
    let applied = 0;
    let ignoredAfter = 0;
    let cancelMs = 0;
    for (let r = 0; r < reports; r++) {
      if (r === canceledAfter) {
        const c = Date.now();
        fleet.control('cancel', batch.id);
        cancelMs = Date.now() - c;
        for (let i = 0; i < devices; i++)
          if (model[i] === 'NOTIFIED' || model[i] === 'IN_PROGRESS') model[i] = 'CANCELED';
      }
      const i = Math.floor(rnd() * devices);
      const step = rnd() < 0.05 ? -1 - Math.floor(rnd() * 4) : Math.floor(rnd() * 101);
      const outcome = fleet.reportProgress({ productKey: 'pk1', deviceName: name(i) }, { step, module: 'default' });
      const active = model[i] === 'NOTIFIED' || model[i] === 'IN_PROGRESS';
      should(outcome.ignored === undefined).equal(
        active,
        `report ${r} (${name(i)} step ${step}, model ${model[i]}): ${JSON.stringify(outcome)}`,
      );
      if (active) {
        applied++;
        model[i] = step < 0 ? 'FAILED' : 'IN_PROGRESS';
      } else if (r >= canceledAfter) ignoredAfter++;
    }
    const storm = lap() - cancelMs;

    const expected = {
      CONFIRM: 0,
      QUEUED: 0,
      NOTIFIED: 0,
      IN_PROGRESS: 0,
      SUCCEEDED: 0,
      FAILED: 0,
      CANCELED: 0,
    } as TaskCounts;
    for (const s of model) expected[s as keyof TaskCounts]++;
    const counts = fleet.counts(batch.id);
    should(counts).eql(expected);
    should(Object.values(counts).reduce((a, b) => a + b, 0)).equal(devices);
    should(fleet.batch(batch.id).state).equal('CANCELED');
    const inFile = countsInFile((fleet.store as SqliteStore).file, batch.id);
    should(inFile.counts).eql(Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)));
    should(inFile.activeOrRetrying).equal(0);
    should(inFile.lastTransitionMismatches).equal(0);
    // A restart reads the same counts back.
    const reopened = t.reopen();
    try {
      should(reopened.fleet.counts(batch.id)).eql(counts);
    } finally {
      reopened.fleet.close();
    }
    const check = lap();
    return {
      devices,
      reports,
      seed,
      canceledAfter,
      appliedBeforeCancel: applied,
      ignoredAfterCancel: ignoredAfter,
      counts,
      ms: { setup, notify, storm, cancel: cancelMs, check },
      reportsPerSecond: Math.round((reports * 1000) / Math.max(1, storm)),
    };
  } finally {
    t.close();
  }
}
