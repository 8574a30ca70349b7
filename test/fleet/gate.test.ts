import should from 'should';
import { dev, externalFirmware, makeFleet, notices, reportFleet, TestFleet } from '../helpers/fleet';
import { parseUpgradeNotice } from '../../src/protocol';

/** A firmware at an external URL, as a user would add it: not verified yet. */
function unverifiedFirmware(t: TestFleet, version = '3.0.0', md5 = 'c'.repeat(32)) {
  return t.fleet.addFirmware({
    productKey: 'pk1',
    module: 'default',
    version,
    size: 2048,
    md5,
    sha256: '',
    signMethod: 'Md5',
    url: `https://cdn.example.com/pk1/${version}.bin`,
    hosted: false,
    isDiff: false,
  });
}

const descriptor = (md5: string, version = '3.0.0') => ({
  version,
  size: 2048,
  md5,
  url: `https://cdn.example.com/pk1/${version}-b.bin`,
});

describe('fleet: the verification gate holds on every path a notice can leave by', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
    reportFleet(t.fleet, 4, '1.0.0');
  });
  afterEach(function () {
    t.close();
  });

  it('a batch of unverified firmware is refused, naming the firmware and how to verify it', function () {
    const fw = unverifiedFirmware(t);
    should(() => t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } })).throw(
      /is unverified: verify it on up to 10 test devices first/,
    );
    should(t.fleet.listBatches()).eql([]);
  });

  it('a direct push of an unverified catalog record is refused: no batch, no task, no notice', function () {
    const fw = unverifiedFirmware(t);
    should(() => t.fleet.pushDirect({ firmwareId: fw.id }, [dev('dev-000')], 'push-1')).throw(
      /firmware .* is unverified: verify it first .*"allow unverified direct pushes" on the ota-push node/,
    );
    t.clock.advance(0);
    should(t.fleet.listBatches()).eql([]);
    should(notices(t.sent)).eql([]);
  });

  it('a direct push of a record whose verification failed is refused', function () {
    const fw = unverifiedFirmware(t);
    const verify = t.fleet.createBatch({
      firmwareId: fw.id,
      type: 'verify',
      targets: { selection: 'SPECIFIC', devices: ['dev-003'] },
    });
    t.clock.advance(0);
    t.fleet.reportProgress(dev('dev-003'), { step: -3, desc: 'bad digest', module: 'default' });
    should(t.fleet.batch(verify.id).state).equal('COMPLETED');
    should(t.fleet.firmware(fw.id).verification).equal('verify-failed');
    const sentBefore = t.sent.length;
    should(() => t.fleet.pushDirect({ firmwareId: fw.id }, [dev('dev-000')], 'push-1')).throw(/is verify-failed/);
    t.clock.advance(0);
    should(t.sent.length).equal(sentBefore);
  });

  it('a direct push of a descriptor of unknown bytes is refused, and stores nothing', function () {
    should(() => t.fleet.pushDirect(parseDescriptor(descriptor('d'.repeat(32))), [dev('dev-000')], 'push-1')).throw(
      /is unverified/,
    );
    should(t.fleet.listFirmware()).eql([]);
    should(t.fleet.listBatches()).eql([]);
  });

  it('a direct push of a descriptor whose bytes (md5) match verified firmware goes out', function () {
    const verified = externalFirmware(t.fleet);
    const [batch] = t.fleet.pushDirect(
      parseDescriptor(descriptor(verified.md5, '2.0.0-cdn')),
      [dev('dev-000')],
      'push-1',
    );
    should(batch).match({ direct: true, allowUnverified: false });
    should(t.fleet.firmware(batch.firmwareId).verification).equal('verified');
    should(notices(t.sent).map((n) => n.device)).eql(['dev-000']);
  });

  it('with "allow unverified direct pushes", an unverified descriptor goes out, and the batch says so', function () {
    const [batch] = t.fleet.pushDirect(parseDescriptor(descriptor('d'.repeat(32))), [dev('dev-000')], 'push-1', {
      allowUnverified: true,
    });
    should(batch).match({ direct: true, allowUnverified: true });
    should(notices(t.sent).map((n) => n.notice.firmware?.md5)).eql(['d'.repeat(32)]);
    // A re-notice of that task (the device rebooted) passes the same gate.
    t.fleet.reportVersion(dev('dev-000'), { version: '1.0.0', module: 'default' });
    t.clock.advance(0);
    should(notices(t.sent).map((n) => n.device)).eql(['dev-000', 'dev-000']);
  });

  describe('firmware that loses its verification while a batch sends it', function () {
    function runningBatchThenReverify() {
      const fw = externalFirmware(t.fleet);
      const batch = t.fleet.createBatch({
        firmwareId: fw.id,
        targets: { selection: 'SPECIFIC', devices: ['dev-000', 'dev-001'] },
        strategy: { maximumPerMinute: 10 },
      });
      t.clock.advance(0);
      // A new verification of the same firmware starts, and its test device fails.
      const verify = t.fleet.createBatch({
        firmwareId: fw.id,
        type: 'verify',
        targets: { selection: 'SPECIFIC', devices: ['dev-003'] },
      });
      t.clock.advance(0);
      t.fleet.reportProgress(dev('dev-003'), { step: -4, desc: 'flash write failed', module: 'default' });
      return { fw, batch, verify };
    }

    it('the running batch is paused, with the gate as its reason', function () {
      const { fw, batch } = runningBatchThenReverify();
      should(t.fleet.firmware(fw.id).verification).equal('verify-failed');
      should(t.fleet.batch(batch.id)).match({
        state: 'PAUSED',
        reason: new RegExp(`firmware ${fw.id} .* is verifying`),
      });
      const pushed = notices(t.sent).filter((n) => n.batchId === batch.id).length;
      t.clock.advance(60_000);
      should(notices(t.sent).filter((n) => n.batchId === batch.id).length).equal(pushed);
    });

    it('a planned batch whose firmware lost its verification is paused when it starts, and sends nothing', function () {
      const fw = externalFirmware(t.fleet);
      const start = t.clock.now() + 60_000;
      const planned = t.fleet.createBatch({
        firmwareId: fw.id,
        targets: { selection: 'SPECIFIC', devices: ['dev-000'] },
        strategy: { scheduleStart: start },
      });
      should(planned.state).equal('PLANNED');
      t.fleet.createBatch({
        firmwareId: fw.id,
        type: 'verify',
        targets: { selection: 'SPECIFIC', devices: ['dev-003'] },
      });
      t.clock.advance(0);
      t.fleet.reportProgress(dev('dev-003'), { step: -2, desc: 'download failed', module: 'default' });
      t.clock.advance(61_000);
      should(t.fleet.batch(planned.id)).match({ state: 'PAUSED', reason: /is verify-failed/ });
      should(notices(t.sent).filter((n) => n.batchId === planned.id)).eql([]);
    });

    it('resume and re-upgrade are refused by the same gate', function () {
      const { batch } = runningBatchThenReverify();
      should(() => t.fleet.control('resume', batch.id)).throw(/is verify-failed/);
      should(t.fleet.batch(batch.id).state).equal('PAUSED');
      should(() => t.fleet.control('reupgrade', batch.id)).throw(/is verify-failed/);
    });

    it('a device that asks (T4) is answered "nothing pending", and a T8 request gets no notice', function () {
      const { batch } = runningBatchThenReverify();
      const device = t.fleet.tasks(batch.id).find((task) => task.state === 'NOTIFIED');
      should.exist(device);
      const ref = dev(device?.deviceName as string);
      const before = t.sent.length;
      const outcome = t.fleet.queryFirmware(ref, { id: 7, module: 'default' });
      should(outcome).match({ pending: false, ignored: /is verify-failed/ });
      const answers = t.sent.slice(before);
      should(answers.map((o) => [o.message.topic, JSON.parse(String(o.message.payload))])).eql([
        [`/sys/pk1/${ref.deviceName}/thing/ota/firmware/get_reply`, { id: 7, code: 200, data: {} }],
      ]);
      const request = t.fleet.queryFirmware(ref, { module: 'default' }, 'request');
      should(request.pending).be.false();
      should(t.sent.length).equal(before + 1);
      should(answers.every((o) => parseUpgradeNotice(o.message.payload).firmware === undefined)).be.true();
    });
  });
});

function parseDescriptor(d: ReturnType<typeof descriptor>) {
  return {
    version: d.version,
    size: d.size,
    signMethod: 'Md5' as const,
    sign: d.md5,
    md5: d.md5,
    module: 'default',
    url: d.url,
  };
}
