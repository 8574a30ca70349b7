import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { FirmwareHost, HOSTED_IN_FLIGHT, ManualClock, PackageFiles } from '../../src/fleet';
import { WINDOW_FILL_MS } from '../../src/fleet/settle';
import { dev, externalFirmware, makeFleet, notices, reportFleet, TestFleet } from '../helpers/fleet';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('fleet: batch strategies on the injected clock', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
  });
  afterEach(function () {
    t.close();
  });

  function start(strategy: Record<string, unknown>, targets: Record<string, unknown> = { selection: 'ALL' }, n = 10) {
    const devices = reportFleet(t.fleet, n, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, type: 'static', targets, strategy });
    return { devices, fw, batch };
  }

  it('maximumPerMinute spreads the notices evenly over the minute', function () {
    start({ maximumPerMinute: 60 }, { selection: 'ALL' }, 200);
    t.clock.advance(MINUTE - 1);
    const inFirstMinute = notices(t.sent).length;
    should(inFirstMinute).be.within(59, 61);
    t.clock.advance(2 * MINUTE);
    should(notices(t.sent).length).be.within(179, 181);
  });

  it('an unthrottled batch notifies every target at once', function () {
    start({}, { selection: 'ALL' }, 1200);
    t.clock.advance(0);
    should(notices(t.sent)).have.length(1200);
  });

  it('scheduleStart holds the batch PLANNED until the time comes', function () {
    const { batch } = start({ scheduleStart: t.clock.now() + HOUR });
    should(batch.state).equal('PLANNED');
    t.clock.advance(HOUR - 1);
    should(t.sent).be.empty();
    t.clock.advance(1);
    should(t.fleet.batch(batch.id).state).equal('IN_PROGRESS');
    should(notices(t.sent)).have.length(10);
  });

  it('scheduleFinish cancels unfinished tasks and completes the batch', function () {
    const { devices, batch } = start({ scheduleFinish: t.clock.now() + HOUR });
    t.clock.advance(0);
    t.fleet.reportVersion(devices[0], { version: '2.0.0', module: 'default' });
    t.clock.advance(HOUR);
    const b = t.fleet.batch(batch.id);
    should(b.state).equal('COMPLETED');
    should(b.counts).match({ SUCCEEDED: 1, CANCELED: 9, NOTIFIED: 0 });
    should(t.fleet.tasks(batch.id, { state: 'CANCELED' })[0].reason).match(/schedule finished/);
  });

  it('a failure is retried after retryInterval, up to retryCount times', function () {
    const { devices, batch } = start(
      { retryCount: 2, retryInterval: 10 },
      { selection: 'SPECIFIC', devices: ['dev-000'] },
    );
    const d = devices[0];
    t.clock.advance(0);
    t.fleet.reportProgress(d, { step: -1, module: 'default' });
    should(t.fleet.tasks(batch.id)[0]).match({ state: 'FAILED', retries: 0 });
    should(t.fleet.batch(batch.id).state).equal('IN_PROGRESS');
    t.clock.advance(10 * MINUTE);
    should(t.fleet.tasks(batch.id)[0]).match({ state: 'NOTIFIED', retries: 1, attempts: 2 });
    t.fleet.reportProgress(d, { step: -4, module: 'default' });
    t.clock.advance(10 * MINUTE);
    t.fleet.reportProgress(d, { step: -4, module: 'default' });
    t.clock.advance(10 * MINUTE);
    should(t.fleet.tasks(batch.id)[0]).match({ state: 'FAILED', retries: 2, attempts: 3 });
    should(t.fleet.batch(batch.id).state).equal('COMPLETED');
    should(notices(t.sent)).have.length(3);
  });

  it('an unanswered notice is sent again while retries remain, then the task fails', function () {
    const { batch } = start({ retryCount: 1, retryInterval: 5 }, { selection: 'SPECIFIC', devices: ['dev-000'] });
    t.clock.advance(0);
    t.clock.advance(5 * MINUTE);
    should(notices(t.sent)).have.length(2);
    t.clock.advance(5 * MINUTE);
    should(t.fleet.tasks(batch.id)[0]).match({ state: 'FAILED', reason: 'no answer to 2 notice(s)' });
  });

  it('a timeout counts from the first progress report and is not retried', function () {
    const { devices, batch } = start(
      { timeoutInMinutes: 30, retryCount: 3, retryInterval: 60 },
      { selection: 'SPECIFIC', devices: ['dev-000'] },
    );
    t.clock.advance(45 * MINUTE); // no progress yet: no timeout
    should(t.fleet.tasks(batch.id)[0].state).equal('NOTIFIED');
    const d = devices[0];
    t.fleet.reportProgress(d, { step: 5, module: 'default' });
    t.clock.advance(29 * MINUTE);
    should(t.fleet.tasks(batch.id)[0].state).equal('IN_PROGRESS');
    t.clock.advance(MINUTE);
    should(t.fleet.tasks(batch.id)[0]).match({ state: 'FAILED', reason: /timed out/ });
    t.clock.advance(HOUR);
    should(t.fleet.tasks(batch.id)[0].state).equal('FAILED');
    should(t.fleet.batch(batch.id).state).equal('COMPLETED');
  });

  it('overwrite keep fails the new task of a device that another batch holds', function () {
    const { fw } = start({}, { selection: 'SPECIFIC', devices: ['dev-000'] });
    const other = t.fleet.addFirmware({ ...fw, version: '3.0.0', verification: 'verified' });
    const second = t.fleet.createBatch({
      firmwareId: other.id,
      targets: { selection: 'SPECIFIC', devices: ['dev-000', 'dev-001'] },
    });
    const tasks = t.fleet.tasks(second.id);
    should(tasks.map((x) => [x.deviceName, x.state])).eql([
      ['dev-000', 'FAILED'],
      ['dev-001', 'QUEUED'],
    ]);
    should(tasks[0].reason).match(/overwrite policy "keep"/);
  });

  it('overwrite replace cancels a pending task but never a running one', function () {
    const { fw, devices, batch } = start({}, { selection: 'SPECIFIC', devices: ['dev-000', 'dev-001'] });
    t.clock.advance(0);
    t.fleet.reportProgress(devices[1], { step: 30, module: 'default' });
    const other = t.fleet.addFirmware({ ...fw, version: '3.0.0', verification: 'verified' });
    const second = t.fleet.createBatch({
      firmwareId: other.id,
      targets: { selection: 'SPECIFIC', devices: ['dev-000', 'dev-001'] },
      strategy: { overwrite: 'replace' },
    });
    should(t.fleet.tasks(batch.id).map((x) => [x.deviceName, x.state, x.reason])).eql([
      ['dev-000', 'CANCELED', `replaced by batch ${second.id}`],
      ['dev-001', 'IN_PROGRESS', null],
    ]);
    should(t.fleet.tasks(second.id).map((x) => x.state)).eql(['QUEUED', 'FAILED']);
  });

  it('needConfirm holds tasks in CONFIRM until a confirm arrives', function () {
    const { batch } = start({ needConfirm: true }, { selection: 'ALL' }, 3);
    t.clock.advance(MINUTE);
    should(t.sent).be.empty();
    should(t.fleet.counts(batch.id).CONFIRM).equal(3);
    t.fleet.control('confirm', batch.id, { devices: [dev('dev-001')] });
    t.clock.advance(0);
    should(notices(t.sent).map((n) => n.device)).eql(['dev-001']);
    t.fleet.control('confirm', batch.id);
    t.clock.advance(0);
    should(notices(t.sent)).have.length(3);
  });

  it('the abort threshold cancels the batch and says why', function () {
    const { devices, batch } = start({ abort: { failurePercent: 50, minDevices: 4 } }, { selection: 'ALL' }, 10);
    t.clock.advance(0);
    t.fleet.reportVersion(devices[0], { version: '2.0.0', module: 'default' });
    t.fleet.reportProgress(devices[1], { step: -1, module: 'default' });
    t.fleet.reportProgress(devices[2], { step: -1, module: 'default' });
    should(t.fleet.batch(batch.id).state).equal('IN_PROGRESS');
    t.fleet.reportProgress(devices[3], { step: -3, module: 'default' });
    const b = t.fleet.batch(batch.id);
    should(b.state).equal('CANCELED');
    should(b.reason).equal('aborted: 3 of 4 finished tasks failed (75.0%, threshold 50%)');
  });

  it('waves open one after another when each succeeds well enough', function () {
    const { batch } = start({ waves: [10, 50, 100], waveSuccessPercent: 100 }, { selection: 'ALL' }, 20);
    t.clock.advance(0);
    const first = notices(t.sent).map((n) => n.device);
    should(first).have.length(2);
    for (const name of first) t.fleet.reportVersion(dev(name), { version: '2.0.0', module: 'default' });
    t.clock.advance(0);
    const second = notices(t.sent)
      .map((n) => n.device)
      .slice(2);
    should(second).have.length(8);
    should(t.fleet.batch(batch.id).wave).equal(1);
  });

  it('a wave below its success rate holds the batch, and resume opens the next wave anyway', function () {
    const { batch } = start({ waves: [10, 100], waveSuccessPercent: 100 }, { selection: 'ALL' }, 20);
    t.clock.advance(0);
    const [a, b] = notices(t.sent).map((n) => n.device);
    t.fleet.reportVersion(dev(a), { version: '2.0.0', module: 'default' });
    t.fleet.reportProgress(dev(b), { step: -1, module: 'default' });
    should(t.fleet.batch(batch.id)).match({ state: 'PAUSED', reason: /wave 1 succeeded on 50.0%/ });
    t.fleet.control('resume', batch.id);
    t.clock.advance(0);
    should(notices(t.sent)).have.length(20);
  });

  it('GRAY takes the percentage rounded down, at least one device', function () {
    const { batch } = start({}, { selection: 'GRAY', percent: 25 }, 10);
    should(t.fleet.tasks(batch.id)).have.length(2);
    t.close();
    t = makeFleet();
    const small = start({}, { selection: 'GRAY', percent: 1 }, 10);
    should(t.fleet.tasks(small.batch.id)).have.length(1);
  });

  it('GROUP targets the devices tagged with the group', function () {
    reportFleet(t.fleet, 4, '1.0.0');
    t.fleet.setTags([dev('dev-001'), dev('dev-003')], ['lab']);
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'GROUP', tag: 'lab' } });
    should(t.fleet.tasks(batch.id).map((x) => x.deviceName)).eql(['dev-001', 'dev-003']);
  });

  it('srcVersions keeps only devices running one of them', function () {
    reportFleet(t.fleet, 4, '1.0.0');
    t.fleet.reportVersion(dev('dev-002'), { version: '1.5.0', module: 'default' });
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL', srcVersions: ['1.5.0'] } });
    should(t.fleet.tasks(batch.id).map((x) => x.deviceName)).eql(['dev-002']);
  });

  it('a dynamic batch takes devices that report a matching version later', function () {
    reportFleet(t.fleet, 2, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({
      firmwareId: fw.id,
      type: 'dynamic',
      targets: { selection: 'ALL', srcVersions: ['1.0.0'] },
    });
    t.clock.advance(0);
    t.fleet.reportVersion(dev('late-1'), { version: '1.0.0', module: 'default' });
    t.fleet.reportVersion(dev('late-2'), { version: '0.9.0', module: 'default' });
    t.clock.advance(0);
    should(notices(t.sent).map((n) => n.device)).eql(['dev-000', 'dev-001', 'late-1']);
    should(t.fleet.batch(batch.id).state).equal('IN_PROGRESS');
  });
});

describe('fleet: the download window', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
  });
  afterEach(function () {
    t.close();
  });

  it('maximumInFlight notifies no more devices than the window, and the next as each one finishes', function () {
    const devices = reportFleet(t.fleet, 10, '1.0.0');
    const fw = externalFirmware(t.fleet);
    const batch = t.fleet.createBatch({
      firmwareId: fw.id,
      targets: { selection: 'ALL' },
      strategy: { maximumInFlight: 3 },
    });
    t.clock.advance(0);
    should(notices(t.sent).map((n) => n.device)).eql(['dev-000', 'dev-001', 'dev-002']);
    t.fleet.reportProgress(devices[0], { step: 10, module: 'default' });
    t.clock.advance(1000);
    should(notices(t.sent)).have.length(3);
    t.fleet.reportVersion(devices[0], { version: '2.0.0', module: 'default' });
    t.fleet.reportProgress(devices[1], { step: -2, module: 'default' });
    t.clock.advance(0);
    should(notices(t.sent).map((n) => n.device)).eql(['dev-000', 'dev-001', 'dev-002', 'dev-003', 'dev-004']);
    should(t.fleet.counts(batch.id)).match({ NOTIFIED: 3, SUCCEEDED: 1, FAILED: 1, QUEUED: 5 });
  });
});

describe('fleet: the download window of a hosted package', function () {
  let t: TestFleet;
  beforeEach(function () {
    const dir = mkdtempSync(join(tmpdir(), 'ota-window-'));
    const host = new FirmwareHost(new PackageFiles(join(dir, 'firmware')), {
      fleetId: 'test',
      publicUrl: 'http://127.0.0.1:1880',
      secret: 'k'.repeat(32),
      expiryHours: 1,
    });
    t = makeFleet({}, dir, new ManualClock(), host);
  });
  afterEach(function () {
    t.close();
  });

  function hosted(strategy: Record<string, unknown>, n: number) {
    const devices = reportFleet(t.fleet, n, '1.0.0');
    const fw = t.fleet.addFirmware({
      productKey: 'pk1',
      module: 'default',
      version: '2.0.0',
      size: 1024,
      md5: 'a'.repeat(32),
      sha256: 'b'.repeat(64),
      signMethod: 'Md5',
      hosted: true,
      isDiff: false,
      verification: 'verified',
    });
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' }, strategy });
    t.clock.advance(0);
    return { devices, batch };
  }

  it('keeps HOSTED_IN_FLIGHT devices downloading over HTTP at a time when the batch sets no window', function () {
    const { devices, batch } = hosted({}, HOSTED_IN_FLIGHT + 5);
    should(notices(t.sent)).have.length(HOSTED_IN_FLIGHT);
    should(t.fleet.counts(batch.id)).match({ NOTIFIED: HOSTED_IN_FLIGHT, QUEUED: 5 });
    for (const device of devices.slice(0, 2)) t.fleet.reportVersion(device, { version: '2.0.0', module: 'default' });
    // Two free places of 400 wait a moment for more before a pass fills them.
    t.clock.advance(0);
    should(notices(t.sent)).have.length(HOSTED_IN_FLIGHT);
    t.clock.advance(WINDOW_FILL_MS);
    should(notices(t.sent)).have.length(HOSTED_IN_FLIGHT + 2);
    should(t.fleet.counts(batch.id)).match({ NOTIFIED: HOSTED_IN_FLIGHT, SUCCEEDED: 2, QUEUED: 3 });
  });

  it('fills the window at once when a twentieth of it is free', function () {
    const { devices } = hosted({}, HOSTED_IN_FLIGHT + 30);
    const free = HOSTED_IN_FLIGHT / 20;
    for (const device of devices.slice(0, free)) t.fleet.reportVersion(device, { version: '2.0.0', module: 'default' });
    t.clock.advance(0);
    should(notices(t.sent)).have.length(HOSTED_IN_FLIGHT + free);
  });

  it("takes the batch's own maximumInFlight over the default, larger or smaller", function () {
    hosted({ maximumInFlight: HOSTED_IN_FLIGHT + 3 }, HOSTED_IN_FLIGHT + 5);
    should(notices(t.sent)).have.length(HOSTED_IN_FLIGHT + 3);
  });

  it('keeps no window when the package downloads over MQTT', function () {
    hosted({ downloadProtocol: 'mqtt' }, HOSTED_IN_FLIGHT + 5);
    should(notices(t.sent)).have.length(HOSTED_IN_FLIGHT + 5);
  });
});
