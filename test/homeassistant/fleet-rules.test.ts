/**
 * The fleet's side of Home Assistant: the newest firmware a device may be offered (installable.ts),
 * a selection by product key, module and tag (selection.ts), and an install of one device
 * (install.ts), on a real fleet with a SQLite file.
 */
import should from 'should';
import type { Firmware } from '../../src/fleet';
import { newestInstallable } from '../../src/fleet/installable';
import { dev, externalFirmware, makeFleet, reportFleet, TestFleet } from '../helpers/fleet';

function release(version: string, sequence: number, extra: Partial<Firmware> = {}): Firmware {
  return {
    id: `fw-${version}`,
    productKey: 'pk1',
    module: 'default',
    version,
    size: 1,
    md5: 'a'.repeat(32),
    sha256: '',
    signMethod: 'Md5',
    hosted: false,
    isDiff: false,
    streamId: sequence,
    verification: 'verified',
    sequence,
    createdAt: sequence,
    ...extra,
  };
}

const target = { productKey: 'pk1', module: 'default', version: '1.0.0' };

describe('which firmware a device may be offered', function () {
  it('is the newest release by sequence, not by how the version reads', function () {
    const found = newestInstallable([release('1.10.0', 1), release('1.9.0', 2)], target, true);
    should(found.firmware?.version).equal('1.9.0');
  });

  it('skips a release the gate holds back, and says so when none passes', function () {
    const records = [release('1.1.0', 1), release('1.2.0', 2, { verification: 'unverified' })];
    should(newestInstallable(records, target, true).firmware?.version).equal('1.1.0');
    should(newestInstallable(records, target, false).firmware?.version).equal('1.2.0');
    const none = newestInstallable([release('1.2.0', 2, { verification: 'verifying' })], target, true);
    should(none.firmware).be.undefined();
    should(none.reason).match(/firmware fw-1\.2\.0 \(pk1\/default 1\.2\.0\) is verifying: verify it/);
  });

  it('offers a differential package only to the version it patches', function () {
    const diff = release('1.2.0', 2, { isDiff: true, srcVersion: '1.1.0' });
    should(newestInstallable([release('1.1.0', 1), diff], target, true).firmware?.version).equal('1.1.0');
    should(newestInstallable([diff], { ...target, version: '1.1.0' }, true).firmware?.version).equal('1.2.0');
  });

  it('offers nothing to a device already at the newest release, nor an older one', function () {
    const records = [release('1.0.0', 1), release('2.0.0', 3, { verification: 'unverified' }), release('1.5.0', 2)];
    should(newestInstallable(records, { ...target, version: '1.5.0' }, true)).eql({
      reason:
        'pk1/default 1.5.0 is the newest release that may be installed; firmware fw-2.0.0 (pk1/default 2.0.0) is unverified: verify it on up to 10 test devices first (a batch of type "verify", or ota-verify with test devices), or turn off "require verification" on the fleet',
    });
    // A test device that got the unverified 2.0.0 is not offered 1.5.0 as an "update".
    should(newestInstallable(records, { ...target, version: '2.0.0' }, true).firmware).be.undefined();
  });

  it('looks only at the product and module asked for', function () {
    const records = [release('9.0.0', 5, { module: 'wifi' }), release('8.0.0', 6, { productKey: 'pk2' })];
    should(newestInstallable(records, target, true)).eql({ reason: 'no firmware of pk1/default in the catalog' });
  });
});

describe('a selection of devices and an install from outside', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
  });
  afterEach(function () {
    t.close();
  });

  it('selects by product key, module and tag, over more than one page of the inventory', function () {
    reportFleet(t.fleet, 1200, '1.0.0');
    reportFleet(t.fleet, 3, '1.0.0', 'pk1', 'wifi');
    reportFleet(t.fleet, 2, '1.0.0', 'pk2');
    t.fleet.setTags([dev('dev-001'), dev('dev-002')], ['kitchen']);
    should(t.fleet.selectDevices({ productKey: 'pk1' }).length).equal(1203);
    should(t.fleet.selectDevices({ productKey: 'pk1', module: 'wifi' }).map((d) => d.deviceName)).eql([
      'dev-000',
      'dev-001',
      'dev-002',
    ]);
    should(t.fleet.selectDevices({ productKey: 'pk1', tag: 'kitchen' }).map((d) => `${d.deviceName}/${d.module}`)).eql([
      'dev-001/default',
      'dev-001/wifi',
      'dev-002/default',
      'dev-002/wifi',
    ]);
    should(
      t.fleet.selectedModulesOf(dev('dev-001'), { productKey: 'pk1', module: 'wifi', tag: 'kitchen' }).length,
    ).equal(1);
    should(t.fleet.selectedModulesOf(dev('dev-003'), { productKey: 'pk1', tag: 'kitchen' })).eql([]);
  });

  it('tells who listens when tags change', function () {
    const seen: string[][] = [];
    t.fleet.on('tags', (devices) => seen.push(devices.map((d) => d.deviceName)));
    t.fleet.setTags([dev('dev-001')], []);
    should(seen).eql([['dev-001']]);
  });

  it('installs the newest firmware on one device through an ordinary batch', function () {
    reportFleet(t.fleet, 3, '1.0.0');
    externalFirmware(t.fleet, '1.1.0');
    const newest = externalFirmware(t.fleet, '1.2.0');
    const batch = t.fleet.installLatest(dev('dev-001'), 'default');
    should(batch).match({
      firmwareId: newest.id,
      type: 'static',
      direct: false,
      targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ['dev-001'] },
      strategy: { overwrite: 'keep', needConfirm: false, retryCount: 0 },
    });
    should(t.fleet.tasks(batch.id).map((task) => task.deviceName)).eql(['dev-001']);
  });

  it('refuses an install with nothing to install, behind the gate, or while a task runs, and creates no batch', function () {
    reportFleet(t.fleet, 2, '1.0.0');
    should(() => t.fleet.installLatest(dev('dev-000'), 'default')).throw(
      'nothing to install on pk1/dev-000: no firmware of pk1/default in the catalog',
    );
    const held = t.fleet.addFirmware({ ...release('1.1.0', 0), verification: 'unverified' } as Firmware);
    should(() => t.fleet.installLatest(dev('dev-000'), 'default')).throw(new RegExp(`${held.id} .* is unverified`));
    externalFirmware(t.fleet, '1.2.0');
    const first = t.fleet.installLatest(dev('dev-000'), 'default');
    should(() => t.fleet.installLatest(dev('dev-000'), 'default')).throw(
      `pk1/dev-000 already has a QUEUED task in batch ${first.id}: wait for it to finish, or cancel it`,
    );
    should(() => t.fleet.installLatest(dev('nobody'), 'default')).throw(
      'pk1/nobody has not reported a version of module default',
    );
    should(t.fleet.listBatches().map((b) => b.id)).eql([first.id]);
  });

  it('keeps a note for an integration in the store, across a restart', function () {
    t.fleet.setMemo('homeassistant:n1', '{"ids":["a"]}');
    t = t.reopen();
    should(t.fleet.memo('homeassistant:n1')).equal('{"ids":["a"]}');
    should(t.fleet.memo('homeassistant:n2')).be.undefined();
  });
});
