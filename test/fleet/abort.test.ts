import should from 'should';
import { failureReason } from '../../src/protocol';
import { dev, externalFirmware, makeFleet, notices, reportFleet, TestFleet } from '../helpers/fleet';

const MINUTE = 60_000;
const V1 = { version: '1.0.0', module: 'default' };
const V2 = { version: '2.0.0', module: 'default' };
const FAIL = { step: -1, module: 'default' };
const STARTED = { step: 10, module: 'default' };

describe('fleet: the abort threshold ends the batch', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
  });
  afterEach(function () {
    t.close();
  });

  /** A static batch over dev-000 … dev-(n-1), all on 1.0.0. */
  function start(strategy: Record<string, unknown>, n: number) {
    reportFleet(t.fleet, n, '1.0.0');
    const fw = externalFirmware(t.fleet);
    return t.fleet.createBatch({ firmwareId: fw.id, type: 'static', targets: { selection: 'ALL' }, strategy }).id;
  }

  const states = (batchId: number) => t.fleet.tasks(batchId).map((x) => [x.deviceName, x.state, x.reason]);

  it('crossing the threshold cancels the batch, and its event gives the failure rate and the threshold', function () {
    const batchId = start({ abort: { failurePercent: 50, minDevices: 5 } }, 5);
    t.clock.advance(0);
    t.fleet.reportVersion(dev('dev-000'), V2);
    t.fleet.reportVersion(dev('dev-001'), V2);
    t.fleet.reportProgress(dev('dev-002'), FAIL);
    t.fleet.reportProgress(dev('dev-003'), FAIL);
    should(t.fleet.batch(batchId).state).equal('IN_PROGRESS');
    t.fleet.reportProgress(dev('dev-004'), FAIL);
    const { at, ...change } = t.batchChanges[t.batchChanges.length - 1];
    should(at).equal(t.clock.now());
    should(change).eql({
      batchId,
      from: 'IN_PROGRESS',
      to: 'CANCELED',
      reason: 'aborted: 3 of 5 finished tasks failed (60.0%, threshold 50%)',
      counts: { CONFIRM: 0, QUEUED: 0, NOTIFIED: 0, IN_PROGRESS: 0, SUCCEEDED: 2, FAILED: 3, CANCELED: 0 },
    });
    should(t.fleet.batch(batchId)).match({
      state: 'CANCELED',
      reason: 'aborted: 3 of 5 finished tasks failed (60.0%, threshold 50%)',
    });
  });

  it('below minDevices finished nothing is aborted; reaching it cancels the batch', function () {
    const batchId = start({ maximumInFlight: 3, abort: { failurePercent: 50, minDevices: 3 } }, 6);
    t.clock.advance(0);
    t.fleet.reportProgress(dev('dev-000'), FAIL);
    t.fleet.reportProgress(dev('dev-001'), FAIL);
    should(t.fleet.batch(batchId).state).equal('IN_PROGRESS');
    should(t.fleet.counts(batchId)).match({ NOTIFIED: 1, QUEUED: 3, FAILED: 2, CANCELED: 0 });
    t.fleet.reportProgress(dev('dev-002'), FAIL);
    should(t.fleet.batch(batchId)).match({
      state: 'CANCELED',
      reason: 'aborted: 3 of 3 finished tasks failed (100.0%, threshold 50%)',
    });
  });

  it('tasks awaiting a confirm or a push are canceled with the reason "aborted", and nothing more is sent', function () {
    const batchId = start({ needConfirm: true, maximumInFlight: 3, abort: { failurePercent: 50, minDevices: 2 } }, 8);
    t.fleet.control('confirm', batchId, {
      devices: ['dev-000', 'dev-001', 'dev-002', 'dev-003', 'dev-004'].map((name) => dev(name)),
    });
    t.clock.advance(0);
    should(notices(t.sent).map((n) => n.device)).eql(['dev-000', 'dev-001', 'dev-002']);
    t.fleet.reportProgress(dev('dev-000'), FAIL);
    t.fleet.reportProgress(dev('dev-001'), FAIL);
    t.clock.advance(MINUTE);
    should(states(batchId)).eql([
      ['dev-000', 'FAILED', failureReason(-1)],
      ['dev-001', 'FAILED', failureReason(-1)],
      ['dev-002', 'NOTIFIED', null],
      ['dev-003', 'CANCELED', 'aborted'],
      ['dev-004', 'CANCELED', 'aborted'],
      ['dev-005', 'CANCELED', 'aborted'],
      ['dev-006', 'CANCELED', 'aborted'],
      ['dev-007', 'CANCELED', 'aborted'],
    ]);
    should(notices(t.sent)).have.length(3);
  });

  it('failed tasks waiting for a retry get none', function () {
    const batchId = start(
      { retryCount: 1, retryInterval: 60, timeoutInMinutes: 30, abort: { failurePercent: 50, minDevices: 2 } },
      3,
    );
    t.clock.advance(0);
    t.fleet.reportProgress(dev('dev-000'), FAIL); // retried in an hour: not a final failure yet
    t.fleet.reportProgress(dev('dev-001'), STARTED);
    t.fleet.reportProgress(dev('dev-002'), STARTED);
    t.clock.advance(30 * MINUTE); // both time out: final failures
    should(t.fleet.batch(batchId)).match({
      state: 'CANCELED',
      reason: 'aborted: 2 of 2 finished tasks failed (100.0%, threshold 50%)',
    });
    t.clock.advance(2 * 60 * MINUTE);
    should(t.fleet.tasks(batchId)[0]).match({
      deviceName: 'dev-000',
      state: 'FAILED',
      retries: 0,
      attempts: 1,
      dueAt: null,
    });
    should(notices(t.sent)).have.length(3);
  });

  it('a device upgrading when the batch aborts still succeeds, and then nothing of the batch is left to time out', function () {
    const batchId = start(
      { retryCount: 2, retryInterval: 60, timeoutInMinutes: 30, abort: { failurePercent: 50, minDevices: 2 } },
      5,
    );
    t.clock.advance(0);
    for (const name of ['dev-001', 'dev-002', 'dev-003', 'dev-004']) t.fleet.reportProgress(dev(name), STARTED);
    t.clock.advance(10 * MINUTE);
    t.fleet.reportProgress(dev('dev-000'), STARTED);
    t.clock.advance(20 * MINUTE); // dev-001 … dev-004 time out together: the batch aborts
    should(t.fleet.batch(batchId).state).equal('CANCELED');
    t.fleet.reportVersion(dev('dev-000'), V2);
    should(t.fleet.tasks(batchId)[0]).match({ deviceName: 'dev-000', state: 'SUCCEEDED', step: 100 });
    should(t.batchChanges.map((b) => b.to)).eql(['IN_PROGRESS', 'CANCELED']);
    should(notices(t.sent)).have.length(5);
    should(t.fleet.drainingBatches.size).equal(0);
  });

  it('a device that fails after the abort fails for good, and a silent one times out', function () {
    const batchId = start(
      { retryCount: 2, retryInterval: 60, timeoutInMinutes: 30, abort: { failurePercent: 50, minDevices: 2 } },
      4,
    );
    t.clock.advance(0);
    t.fleet.reportProgress(dev('dev-000'), STARTED);
    t.fleet.reportProgress(dev('dev-001'), STARTED);
    t.clock.advance(10 * MINUTE);
    t.fleet.reportProgress(dev('dev-002'), STARTED);
    t.fleet.reportProgress(dev('dev-003'), STARTED);
    t.clock.advance(20 * MINUTE); // dev-000 and dev-001 time out: the batch aborts
    should(t.fleet.batch(batchId).state).equal('CANCELED');
    t.fleet.reportProgress(dev('dev-002'), FAIL);
    t.clock.advance(10 * MINUTE);
    should(states(batchId).slice(2)).eql([
      ['dev-002', 'FAILED', failureReason(-1)],
      ['dev-003', 'FAILED', 'timed out: no success within 30 minute(s) of the first progress report'],
    ]);
    t.clock.advance(2 * 60 * MINUTE);
    should(t.fleet.tasks(batchId)[2]).match({ state: 'FAILED', dueAt: null, retries: 0 });
    should(notices(t.sent)).have.length(4);
    should(t.fleet.batch(batchId).state).equal('CANCELED');
  });

  it('after a restart, the tasks in flight of an aborted batch still succeed or time out, and get no notice', function () {
    const batchId = start({ timeoutInMinutes: 30, abort: { failurePercent: 50, minDevices: 2 } }, 5);
    t.clock.advance(0);
    t.fleet.reportProgress(dev('dev-001'), STARTED);
    t.fleet.reportProgress(dev('dev-002'), FAIL);
    t.fleet.reportProgress(dev('dev-003'), FAIL);
    should(t.fleet.batch(batchId).state).equal('CANCELED');
    t.clock.advance(10 * MINUTE);
    t.fleet.reportProgress(dev('dev-000'), STARTED);
    t = t.reopen();
    t.fleet.reportProgress(dev('dev-000'), { step: 80, module: 'default' });
    t.clock.advance(20 * MINUTE);
    t.fleet.reportVersion(dev('dev-000'), V2);
    should(states(batchId)).eql([
      ['dev-000', 'SUCCEEDED', null],
      ['dev-001', 'FAILED', 'timed out: no success within 30 minute(s) of the first progress report'],
      ['dev-002', 'FAILED', failureReason(-1)],
      ['dev-003', 'FAILED', failureReason(-1)],
      ['dev-004', 'NOTIFIED', null],
    ]);
    should(t.sent).be.empty(); // not even the notice a restart sends again to NOTIFIED tasks of open batches
    should(t.fleet.batch(batchId).state).equal('CANCELED');
  });

  it('an unanswered notice of an aborted batch fails when its answer window ends, and is not sent again', function () {
    const batchId = start(
      { retryCount: 2, retryInterval: 20, timeoutInMinutes: 30, abort: { failurePercent: 50, minDevices: 2 } },
      3,
    );
    t.clock.advance(0);
    t.fleet.reportProgress(dev('dev-000'), STARTED);
    t.fleet.reportProgress(dev('dev-001'), STARTED);
    t.clock.advance(30 * MINUTE); // dev-002 was noticed again at 20 min; then both others time out
    should(t.fleet.batch(batchId).state).equal('CANCELED');
    should(notices(t.sent).map((n) => n.device)).eql(['dev-000', 'dev-001', 'dev-002', 'dev-002']);
    t.clock.advance(10 * MINUTE);
    should(t.fleet.tasks(batchId)[2]).match({
      deviceName: 'dev-002',
      state: 'FAILED',
      reason: 'no answer to 2 notice(s), and the batch was aborted: no more are sent',
    });
    t.clock.advance(60 * MINUTE);
    should(notices(t.sent)).have.length(4);
  });

  it('a notified device that reboots before answering is canceled, not pushed again', function () {
    const batchId = start({ abort: { failurePercent: 50, minDevices: 2 } }, 3);
    t.clock.advance(0);
    t.fleet.reportProgress(dev('dev-000'), FAIL);
    t.fleet.reportProgress(dev('dev-001'), FAIL);
    should(t.fleet.batch(batchId).state).equal('CANCELED');
    t.fleet.reportVersion(dev('dev-002'), V1);
    t.clock.advance(MINUTE);
    should(t.fleet.tasks(batchId)[2]).match({ deviceName: 'dev-002', state: 'CANCELED', reason: 'aborted' });
    should(notices(t.sent)).have.length(3);
  });

  it('a paused batch aborts too', function () {
    const batchId = start({ abort: { failurePercent: 50, minDevices: 2 } }, 3);
    t.clock.advance(0);
    t.fleet.control('pause', batchId);
    t.fleet.reportProgress(dev('dev-000'), FAIL);
    t.fleet.reportProgress(dev('dev-001'), FAIL);
    should(t.batchChanges[t.batchChanges.length - 1]).match({
      from: 'PAUSED',
      to: 'CANCELED',
      reason: 'aborted: 2 of 2 finished tasks failed (100.0%, threshold 50%)',
    });
  });
});
