/**
 * One worker process of bench/pg-fleet.ts: a fleet instance of its own (ReplayedFleet over
 * PgStore) on the shared database, reporting a progress step for its share of the devices, all
 * submitted at once; exits when every report is stored.
 *   node pg-fleet-worker.js <connection string> <first device> <end device> <step>
 */
import { ManualClock, ReplayedFleet } from '../../src/fleet';
import { PgStore } from '../../src/fleet/pg-store';

async function work(): Promise<void> {
  const [url, from, to, step] = process.argv.slice(2);
  const replayed = new ReplayedFleet({ server: PgStore.open(url), clock: new ManualClock() });
  const reports: Promise<unknown>[] = [];
  for (let i = Number(from); i < Number(to); i++) {
    const device = { productKey: 'pk', deviceName: `d-${String(i).padStart(6, '0')}` };
    reports.push(replayed.fleet.submitProgress(device, { step: Number(step), module: 'default' }));
  }
  await Promise.all(reports);
  await replayed.close();
}

work().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`pg-fleet worker: ${err.message}\n`);
    process.exit(1);
  },
);
