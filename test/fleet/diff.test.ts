import should from 'should';
import { parseFirmwareDescriptor } from '../../src/protocol';
import { dev, makeFleet, notices, TestFleet } from '../helpers/fleet';

const MD5 = 'e'.repeat(32);
/** A differential package from 1.0.0 to 2.0.0, as an external descriptor. */
const diff = (extra: Record<string, unknown> = {}) => ({
  version: '2.0.0',
  size: 512,
  md5: MD5,
  url: 'https://cdn.example.com/pk1/1.0.0-2.0.0.diff',
  isDiff: true,
  ...extra,
});

describe('fleet: differential packages reach only devices at their source version', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet({ requireVerification: false });
    t.fleet.reportVersion(dev('at-src-1'), { version: '1.0.0', module: 'default' });
    t.fleet.reportVersion(dev('at-src-2'), { version: '1.0.0', module: 'default' });
    t.fleet.reportVersion(dev('older'), { version: '0.9.0', module: 'default' });
    t.fleet.reportVersion(dev('newer'), { version: '1.5.0', module: 'default' });
  });
  afterEach(function () {
    t.close();
  });

  const notified = () =>
    notices(t.sent)
      .map((n) => n.device)
      .sort();

  it('an uploaded (hosted) diff: a batch of ALL takes only the devices at its source version', function () {
    const fw = t.fleet.addFirmware({
      productKey: 'pk1',
      module: 'default',
      version: '2.0.0',
      size: 512,
      md5: MD5,
      sha256: '',
      signMethod: 'Md5',
      url: 'https://cdn.example.com/x.diff',
      hosted: false,
      isDiff: true,
      srcVersion: '1.0.0',
    });
    const batch = t.fleet.createBatch({ firmwareId: fw.id, targets: { selection: 'ALL' } });
    t.clock.advance(0);
    should(
      t.fleet
        .tasks(batch.id)
        .map((task) => task.deviceName)
        .sort(),
    ).eql(['at-src-1', 'at-src-2']);
    should(notified()).eql(['at-src-1', 'at-src-2']);
  });

  it('an external diff descriptor in a batch request: only the devices at its srcVersion, and the notice says isDiff', function () {
    const batch = t.fleet.createBatch({
      firmware: diff({ srcVersion: '1.0.0' }),
      targets: { selection: 'ALL', productKey: 'pk1' },
    });
    t.clock.advance(0);
    should(
      t.fleet
        .tasks(batch.id)
        .map((task) => task.deviceName)
        .sort(),
    ).eql(['at-src-1', 'at-src-2']);
    should(notices(t.sent).map((n) => n.notice.firmware?.isDiff)).eql([true, true]);
    should(t.fleet.firmware(batch.firmwareId)).match({ isDiff: true, srcVersion: '1.0.0' });
  });

  it('a direct push of a diff descriptor skips listed devices at another version', function () {
    const [batch] = t.fleet.pushDirect(
      {
        version: '2.0.0',
        size: 512,
        signMethod: 'Md5',
        sign: MD5,
        md5: MD5,
        module: 'default',
        url: diff().url,
        isDiff: true,
        srcVersion: '1.0.0',
      },
      [dev('at-src-1'), dev('older'), dev('newer')],
      'push-1',
    );
    should(t.fleet.tasks(batch.id).map((task) => task.deviceName)).eql(['at-src-1']);
    should(notified()).eql(['at-src-1']);
  });

  it('a dynamic batch of a diff takes a device only once it reports the source version', function () {
    const batch = t.fleet.createBatch({
      type: 'dynamic',
      firmware: diff({ srcVersion: '1.0.0' }),
      targets: { selection: 'ALL', productKey: 'pk1' },
    });
    t.fleet.reportVersion(dev('late'), { version: '0.9.0', module: 'default' });
    t.fleet.reportVersion(dev('late-at-src'), { version: '1.0.0', module: 'default' });
    should(
      t.fleet
        .tasks(batch.id)
        .map((task) => task.deviceName)
        .sort(),
    ).eql(['at-src-1', 'at-src-2', 'late-at-src']);
  });

  it('an external diff descriptor without srcVersion is refused, naming the field, and nothing is stored', function () {
    should(() => t.fleet.createBatch({ firmware: diff(), targets: { selection: 'ALL', productKey: 'pk1' } })).throw(
      'firmware.srcVersion must be the version the differential package (isDiff) applies to, got nothing',
    );
    should(() =>
      t.fleet.pushDirect(
        { version: '2.0.0', size: 512, signMethod: 'Md5', sign: MD5, module: 'default', url: diff().url, isDiff: true },
        [dev('at-src-1')],
        'push-1',
      ),
    ).throw(/^msg\.payload\.srcVersion must be the version the differential package \(isDiff\) applies to/);
    should(t.fleet.listFirmware()).eql([]);
    should(t.fleet.listBatches()).eql([]);
    should(t.sent).eql([]);
  });
});

describe('a descriptor srcVersion', function () {
  it('is refused without isDiff, saying what it is for', function () {
    should(() => parseFirmwareDescriptor(diff({ isDiff: false, srcVersion: '1.0.0' }))).throw(
      'msg.payload.srcVersion must be given only with isDiff: true (the source version of a differential package), got "1.0.0"',
    );
    should(parseFirmwareDescriptor(diff({ srcVersion: '1.0.0' }))).match({ isDiff: true, srcVersion: '1.0.0' });
  });
});
