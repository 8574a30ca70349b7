import should from 'should';
import { dev, externalFirmware, makeFleet, notices, reportFleet, TestFleet } from '../helpers/fleet';

describe('fleet: a batch from versions reported to every device upgraded', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
  });
  afterEach(function () {
    t.close();
  });

  it('version reports build the inventory and the version distribution', function () {
    reportFleet(t.fleet, 3, '1.0.0');
    t.fleet.reportVersion(dev('dev-001'), { version: '1.1.0', module: 'default' });
    t.fleet.reportVersion(dev('dev-001'), { version: '7', module: 'MCU' });
    should(t.fleet.versions('pk1')).eql([
      { productKey: 'pk1', module: 'MCU', version: '7', count: 1 },
      { productKey: 'pk1', module: 'default', version: '1.0.0', count: 2 },
      { productKey: 'pk1', module: 'default', version: '1.1.0', count: 1 },
    ]);
    should(t.fleet.device(dev('dev-001')).modules.map((m) => [m.module, m.version])).eql([
      ['MCU', '7'],
      ['default', '1.1.0'],
    ]);
  });

  it('a static batch notifies every target, and T1 with the destination version completes it', function () {
    const devices = reportFleet(t.fleet, 5, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, type: 'static', targets: { selection: 'ALL' } });
    should(batch.state).equal('IN_PROGRESS');
    t.clock.advance(0);
    should(notices(t.sent).map((n) => n.device)).eql(devices.map((d) => d.deviceName));
    should(t.fleet.counts(batch.id)).eql({
      CONFIRM: 0,
      QUEUED: 0,
      NOTIFIED: 5,
      IN_PROGRESS: 0,
      SUCCEEDED: 0,
      FAILED: 0,
      CANCELED: 0,
    });
    for (const d of devices) {
      t.fleet.reportProgress(d, { step: 0, module: 'default' });
      t.fleet.reportProgress(d, { step: 100, module: 'default' });
    }
    should(t.fleet.counts(batch.id).IN_PROGRESS).equal(5);
    for (const d of devices) t.fleet.reportVersion(d, { version: '2.0.0', module: 'default' });
    should(t.fleet.batch(batch.id).state).equal('COMPLETED');
    should(t.fleet.counts(batch.id).SUCCEEDED).equal(5);
  });

  it('the notice carries the firmware exactly as the SDKs read it', function () {
    reportFleet(t.fleet, 1, '1.0.0');
    const fw = externalFirmware(t.fleet);
    t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    t.clock.advance(0);
    const [n] = notices(t.sent);
    should(n.notice.firmware).eql({
      version: '2.0.0',
      size: 1024,
      signMethod: 'Md5',
      sign: 'a'.repeat(32),
      md5: 'a'.repeat(32),
      module: 'default',
      url: 'https://cdn.example.com/pk1/default/2.0.0.bin',
    });
    should(n.egress).equal('push-1');
  });

  it('progress 100 alone is not success', function () {
    const [d] = reportFleet(t.fleet, 1, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    t.clock.advance(0);
    t.fleet.reportProgress(d, { step: 100, module: 'default' });
    should(t.fleet.tasks(batch.id)[0].state).equal('IN_PROGRESS');
    should(t.fleet.batch(batch.id).state).equal('IN_PROGRESS');
  });

  it('a failure step fails the task with the code and the device description', function () {
    const [d] = reportFleet(t.fleet, 1, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    t.clock.advance(0);
    t.fleet.reportProgress(d, { step: -2, desc: 'HTTP 404', module: 'default' });
    const [task] = t.fleet.tasks(batch.id);
    should(task.state).equal('FAILED');
    should(task.reason).equal('step -2 (download failed): HTTP 404');
    should(t.fleet.batch(batch.id).state).equal('COMPLETED');
  });

  it('a version that is neither source nor destination fails a running task', function () {
    const [d] = reportFleet(t.fleet, 1, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    t.clock.advance(0);
    t.fleet.reportProgress(d, { step: 10, module: 'default' });
    t.fleet.reportVersion(d, { version: '1.5.0', module: 'default' });
    should(t.fleet.tasks(batch.id)[0]).match({
      state: 'FAILED',
      reason: 'version mismatch: the device reported 1.5.0, expected 2.0.0 (was 1.0.0)',
    });
  });

  it('a notified device that reports its old version has rebooted and is pushed again', function () {
    const [d] = reportFleet(t.fleet, 1, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    t.clock.advance(0);
    t.fleet.reportVersion(d, { version: '1.0.0', module: 'default' });
    t.clock.advance(0);
    should(notices(t.sent)).have.length(2);
    should(t.fleet.tasks(batch.id)[0]).match({ state: 'NOTIFIED', attempts: 2 });
    should(t.transitions.map((tr) => `${tr.from}>${tr.to}`)).eql([
      'QUEUED>NOTIFIED',
      'NOTIFIED>QUEUED',
      'QUEUED>NOTIFIED',
    ]);
  });

  it('devices already at the destination version are left out', function () {
    reportFleet(t.fleet, 3, '1.0.0');
    t.fleet.reportVersion(dev('dev-001'), { version: '2.0.0', module: 'default' });
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    should(t.fleet.tasks(batch.id).map((x) => x.deviceName)).eql(['dev-000', 'dev-002']);
  });

  it('nothing is pushed without an ota-push node, and the fleet says why', function () {
    t.fleet.detachEgress('push-1');
    reportFleet(t.fleet, 2, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    t.clock.advance(1000);
    should(t.sent).be.empty();
    should(t.fleet.counts(batch.id).QUEUED).equal(2);
    should(t.warnings[0]).match(/no ota-push node is deployed/);
    t.fleet.attachEgress('push-2');
    t.clock.advance(0);
    should(notices(t.sent).map((n) => n.egress)).eql(['push-2', 'push-2']);
  });

  it('a restart keeps every batch and task, and the batch finishes', function () {
    const devices = reportFleet(t.fleet, 4, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    t.clock.advance(0);
    t.fleet.reportVersion(devices[0], { version: '2.0.0', module: 'default' });
    t = t.reopen();
    should(t.fleet.counts(batch.id)).eql({
      CONFIRM: 0,
      QUEUED: 0,
      NOTIFIED: 3,
      IN_PROGRESS: 0,
      SUCCEEDED: 1,
      FAILED: 0,
      CANCELED: 0,
    });
    for (const d of devices.slice(1)) t.fleet.reportVersion(d, { version: '2.0.0', module: 'default' });
    should(t.fleet.batch(batch.id).state).equal('COMPLETED');
  });
});
