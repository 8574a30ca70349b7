import should from 'should';
import { RECOVERY_DELAY_MS, recoveryDelayFor } from '../../src/fleet/recovery';
import { dev, externalFirmware, makeFleet, notices, reportFleet, TestFleet } from '../helpers/fleet';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** Notices per device in `sent`. */
function perDevice(t: TestFleet): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of notices(t.sent)) counts.set(n.device, (counts.get(n.device) ?? 0) + 1);
  return counts;
}

describe('fleet: notices at least once across a restart', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
  });
  afterEach(function () {
    t.close();
  });

  /** The process stops, stays down `downMs`, and a new fleet opens the same file. */
  function restart(downMs = 1500): void {
    t.fleet.close();
    t.clock.advance(downMs);
    t = makeFleet({}, t.dir, t.clock);
  }

  /** A batch of `n` devices, run for `runFor`, then a restart; the tasks NOTIFIED at the crash. */
  function crashWhileNotified(n: number, strategy: Record<string, unknown>, runFor: number, downMs?: number) {
    const devices = reportFleet(t.fleet, n, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, type: 'static', targets: { selection: 'ALL' }, strategy });
    t.clock.advance(runFor);
    const before = t.fleet.tasks(batch.id, { state: 'NOTIFIED', limit: 100_000 });
    restart(downMs);
    return { devices, batch, before };
  }

  it('every NOTIFIED task gets exactly one recovery notice, within the rate, using no retry', function () {
    // 6 a minute: one notice every 10 s; four devices notified before the crash, two still queued.
    const { devices, batch, before } = crashWhileNotified(
      6,
      { maximumPerMinute: 6, retryCount: 2, retryInterval: 5 },
      35 * SECOND,
    );
    should(before.map((x) => x.deviceName)).eql(['dev-000', 'dev-001', 'dev-002', 'dev-003']);
    t.clock.advance(RECOVERY_DELAY_MS - 1);
    // The flows are given time to connect before the first recovery notice; queued pushes go on.
    should(notices(t.sent).map((n) => n.device)).eql(['dev-004']);
    should(t.transitions.filter((tr) => tr.from === 'NOTIFIED')).be.empty();
    t.clock.advance(2 * MINUTE);
    const sent = notices(t.sent);
    should(sent.map((n) => n.device)).eql(['dev-004', 'dev-000', 'dev-001', 'dev-002', 'dev-003', 'dev-005']);
    const recoveries = t.transitions.filter((tr) => tr.from === 'NOTIFIED' && tr.to === 'NOTIFIED');
    should(recoveries.map((tr) => tr.deviceName)).eql(['dev-000', 'dev-001', 'dev-002', 'dev-003']);
    for (const tr of recoveries) should(tr.reason).match(/re-sent after a restart/);
    // Within the rate: the recovery notices and the pushes after them take one token each, 10 s apart.
    const times = t.transitions.filter((tr) => tr.to === 'NOTIFIED').map((tr) => tr.at);
    for (let i = 1; i < times.length; i++) should(times[i] - times[i - 1]).be.aboveOrEqual(10 * SECOND);
    for (const task of t.fleet
      .tasks(batch.id, { state: 'NOTIFIED' })
      .filter((x) => before.some((b) => b.id === x.id))) {
      should(task.retries).equal(0);
      should(task.attempts).equal(2);
    }

    // Nothing more from the recovery, however long the fleet runs (short of the retry interval).
    t.clock.advance(2 * MINUTE);
    should([...perDevice(t).values()]).eql([1, 1, 1, 1, 1, 1]);

    // A device that then reports its source version (it rebooted) is pushed once more, no more.
    t.fleet.reportVersion(devices[1], { version: '1.0.0', module: 'default' });
    t.clock.advance(MINUTE);
    should(perDevice(t).get('dev-001')).equal(2);
    should(t.fleet.tasks(batch.id, { state: 'NOTIFIED' }).find((x) => x.deviceName === 'dev-001')?.retries).equal(0);
  });

  it('a task that used its last retry is noticed again after a restart, not failed by it', function () {
    // Down for a minute: past the deadline of its last notice.
    const { batch, before } = crashWhileNotified(1, { retryCount: 1, retryInterval: 1 }, 1.5 * MINUTE, MINUTE);
    should(before).have.length(1);
    should(before[0]).match({ retries: 1, attempts: 2 });
    t.clock.advance(RECOVERY_DELAY_MS);
    should(notices(t.sent)).have.length(1);
    should(t.fleet.tasks(batch.id)[0]).match({
      state: 'NOTIFIED',
      retries: 1,
      attempts: 3,
      reason: /re-sent after a restart/,
    });
    // Its answer window starts again from the recovery notice; unanswered, the policy fails it then.
    t.clock.advance(MINUTE);
    should(t.fleet.tasks(batch.id)[0]).match({ state: 'FAILED', reason: 'no answer to 3 notice(s)' });
    should(notices(t.sent)).have.length(1);
  });

  it('a large unthrottled batch is recovered a page at a time, each task once', function () {
    const { batch, before } = crashWhileNotified(1200, { retryCount: 3, retryInterval: 10 }, 0);
    should(before).have.length(1200);
    t.clock.advance(RECOVERY_DELAY_MS);
    const counts = perDevice(t);
    should(counts.size).equal(1200);
    should([...counts.values()].every((c) => c === 1)).be.true();
    t.clock.advance(5 * MINUTE);
    should(notices(t.sent)).have.length(1200);
    should(t.fleet.counts(batch.id).NOTIFIED).equal(1200);
  });

  it('a second restart notices the tasks still NOTIFIED once more, each restart once', function () {
    crashWhileNotified(2, { retryCount: 3, retryInterval: 10 }, 0);
    t.clock.advance(RECOVERY_DELAY_MS);
    should(notices(t.sent)).have.length(2);
    restart();
    t.clock.advance(RECOVERY_DELAY_MS + MINUTE);
    should([...perDevice(t).entries()]).eql([
      ['dev-000', 1],
      ['dev-001', 1],
    ]);
  });

  it('a batch started after the restart is not recovered', function () {
    restart();
    reportFleet(t.fleet, 3, '1.0.0');
    const fw = externalFirmware(t.fleet);
    t.fleet.createBatch({
      firmwareId: fw.id,
      type: 'static',
      targets: { selection: 'ALL' },
      strategy: { retryCount: 1, retryInterval: 10 },
    });
    t.clock.advance(0);
    should(notices(t.sent)).have.length(3);
    t.clock.advance(RECOVERY_DELAY_MS + MINUTE);
    should(notices(t.sent)).have.length(3);
    should(t.fleet.device(dev('dev-000')).tasks[0].attempts).equal(1);
  });

  it('the recovery delay is two reconnect periods of core mqtt nodes, at least a second', function () {
    should(recoveryDelayFor(undefined)).equal(RECOVERY_DELAY_MS);
    should(recoveryDelayFor(5000)).equal(10_000);
    should(recoveryDelayFor(250)).equal(1000);
    should(recoveryDelayFor('fast')).equal(RECOVERY_DELAY_MS);
  });
});
