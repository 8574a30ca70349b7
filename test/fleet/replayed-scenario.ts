/** One batch driven the same way on the SQLite fleet and on a fleet whose store answers with promises. */
import { join } from 'node:path';
import {
  Fleet,
  ManualClock,
  ReplayedFleet,
  SqliteStore,
  type AsyncFleetStore,
  type Outgoing,
  type Transition,
} from '../../src/fleet';
import { parseUpgradeNotice } from '../../src/protocol';
import { dev, externalFirmware } from '../helpers/fleet';

/** One fleet under test, driven the same way whichever store it has. */
export interface Driven {
  clock: ManualClock;
  /** Runs fn on the fleet as one unit of work. */
  ask<T>(fn: (fleet: Fleet) => T): Promise<T>;
  /** Waits until the fleet has nothing left to do now. */
  idle(): Promise<void>;
  sent: Outgoing[];
  transitions: Transition[];
  close(): Promise<void>;
}

function watch(fleet: Fleet, clock: ManualClock) {
  const sent: Outgoing[] = [];
  const transitions: Transition[] = [];
  fleet.on('send', (out) => sent.push(...out));
  fleet.on('task', (t) => transitions.push(t));
  fleet.attachEgress('push-1');
  return { clock, sent, transitions };
}

export function plainFleet(dir: string): Driven {
  const clock = new ManualClock();
  const fleet = new Fleet({ store: new SqliteStore(join(dir, 'plain.sqlite')), clock, name: 'test' });
  return {
    ...watch(fleet, clock),
    ask: async (fn) => fn(fleet),
    idle: async () => undefined,
    close: async () => fleet.close(),
  };
}

export function replayedFleet(server: AsyncFleetStore | Promise<AsyncFleetStore>): Driven {
  const clock = new ManualClock();
  const replayed = new ReplayedFleet({ server, clock, name: 'test' });
  return {
    ...watch(replayed.fleet, clock),
    ask: (fn) => replayed.ask(fn),
    idle: () => replayed.idle(),
    close: () => replayed.close(),
  };
}

/** Moves the clock forward timer by timer, letting the fleet finish what each one started. */
export async function advance(d: Driven, ms: number): Promise<void> {
  const end = d.clock.now() + ms;
  await d.idle();
  for (;;) {
    const at = d.clock.nextTimerAt;
    if (at === undefined || at > end) break;
    d.clock.advance(Math.max(0, at - d.clock.now()));
    await d.idle();
  }
  d.clock.advance(end - d.clock.now());
  await d.idle();
}

export const devices = Array.from({ length: 12 }, (_, i) => dev(`dev-${String(i).padStart(3, '0')}`));

/** A batch with a rate limit, retries and a timeout: successes, failures retried, silent devices timed out. */
export async function scenario(d: Driven) {
  for (const device of devices) await d.ask((f) => f.reportVersion(device, { version: '1.0.0', module: 'default' }));
  const fw = await d.ask((f) => externalFirmware(f));
  const batch = await d.ask((f) =>
    f.createBatch({
      firmwareId: fw.id,
      targets: { selection: 'ALL' },
      strategy: { maximumPerMinute: 120, retryCount: 1, retryInterval: 1, timeoutInMinutes: 2 },
    }),
  );
  await advance(d, 3_000);
  const early = d.sent.length;
  await advance(d, 10_000);
  for (const [i, device] of devices.entries()) {
    if (i % 4 === 3) continue; // silent: never answers
    await d.ask((f) => f.reportProgress(device, { step: 10, module: 'default' }));
    if (i % 4 === 2) await d.ask((f) => f.reportProgress(device, { step: -2, module: 'default', desc: 'bad crc' }));
    else await d.ask((f) => f.reportVersion(device, { version: '2.0.0', module: 'default' }));
  }
  await advance(d, 90_000);
  for (const [i, device] of devices.entries()) {
    if (i % 4 === 2) await d.ask((f) => f.reportVersion(device, { version: '2.0.0', module: 'default' }));
  }
  await advance(d, 10 * 60_000);
  const final = await d.ask((f) => ({
    batch: f.batch(batch.id),
    tasks: f.tasks(batch.id).map((t) => [t.deviceName, t.state, t.attempts, t.retries, t.reason]),
    versions: f.versions(),
  }));
  return {
    early,
    sent: d.sent.map((o) => {
      const { id: _id, ...notice } = parseUpgradeNotice(o.message.payload) as unknown as Record<string, unknown>;
      return [o.device.deviceName, o.batchId, o.egress, notice];
    }),
    transitions: d.transitions.map((t) => [t.deviceName, t.from, t.to, t.reason, t.at]),
    state: final.batch.state,
    counts: final.batch.counts,
    tasks: final.tasks,
    versions: final.versions,
  };
}
