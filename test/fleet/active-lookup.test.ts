/**
 * The fleet looks a reporting device's task up in the store only while some task may be active
 * (by the live counts). These are the moments the counts lag the store or change under it.
 */
import should from 'should';
import { dev, externalFirmware, makeFleet, notices, reportFleet, TestFleet } from '../helpers/fleet';

describe('fleet: finding the task a report is about', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
  });
  afterEach(function () {
    t.close();
  });

  it('a report between batches moves nothing, and the next batch’s task is found by the report after it', function () {
    const [device] = reportFleet(t.fleet, 1, '1.0.0');
    const first = t.fleet.createBatch({ firmwareId: externalFirmware(t.fleet).id, targets: { selection: 'ALL' } });
    t.clock.advance(0);
    t.fleet.reportVersion(device, { version: '2.0.0', module: 'default' });
    should(t.fleet.batch(first.id).state).equal('COMPLETED');

    should(t.fleet.reportVersion(device, { version: '2.0.0', module: 'default' })).eql({
      ignored: 'no active task for this device and module',
    });

    const second = t.fleet.createBatch({
      firmwareId: externalFirmware(t.fleet, '3.0.0').id,
      targets: { selection: 'ALL' },
    });
    t.clock.advance(0);
    should(notices(t.sent).filter((n) => n.notice.firmware?.version === '3.0.0')).have.length(1);
    should(t.fleet.reportProgress(device, { step: 10, module: 'default' })).eql({
      batchId: second.id,
      state: 'IN_PROGRESS',
      reason: null,
    });
    should(t.fleet.reportVersion(device, { version: '3.0.0', module: 'default' })).eql({
      batchId: second.id,
      state: 'SUCCEEDED',
      reason: null,
    });
  });

  it('a device that joins a dynamic batch is found by its next report in the same group commit', async function () {
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({
      firmwareId: fw.id,
      type: 'dynamic',
      targets: { selection: 'ALL', srcVersions: ['1.0.0'] },
    });
    const report = { version: '1.0.0', module: 'default' };
    const [joined, again] = await Promise.all([
      t.fleet.submitVersion(dev('late-1'), report),
      t.fleet.submitVersion(dev('late-1'), report),
    ]);
    should(joined).eql({ batchId: batch.id, state: 'QUEUED', reason: null });
    should(again).eql({ batchId: batch.id, state: 'QUEUED', reason: null });
  });
});
