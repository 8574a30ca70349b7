/** The contract's registry and catalog part: device credentials and firmware records. */
import should from 'should';
import type { Firmware } from '../../src/fleet';
import { device, firmware, freshStore, type OpenStore } from './contract-fixtures';

/** A firmware record with every optional field set. */
const FULL: Firmware = firmware('fw-full', {
  module: 'mcu',
  version: '3.1.0',
  size: 5_000_000,
  signMethod: 'Md5',
  url: 'https://cdn.example.com/fw.bin',
  hosted: false,
  isDiff: true,
  srcVersion: '3.0.0',
  extData: { channel: 'beta', note: '中文' },
  digestsign: 'c2lnbmF0dXJl',
  files: [
    { fileName: 'a.bin', fileSize: 10, fileSign: 'aa', fileUrl: 'https://cdn.example.com/a.bin' },
    { fileName: 'b.bin', fileSize: 20, fileSign: 'bb', md5: 'm', sha256: 's' },
  ],
  streamId: 1007,
  verification: 'unverified',
  sequence: 4,
  createdAt: 1_700_000_000_123,
});

export function describeCatalog(open: OpenStore): void {
  const store = freshStore(open);

  describe('device credentials', function () {
    const creds = (names: string[], productKey = 'pk1') =>
      names.map((deviceName) => ({ productKey, deviceName, deviceSecret: `secret-${productKey}-${deviceName}` }));

    it('a registered secret is read back; an unregistered device has none', async function () {
      await store().putCredentials(creds(['dev01', 'dev02']), 10);
      should(await store().deviceSecret(device('dev01'))).equal('secret-pk1-dev01');
      should(await store().deviceSecret(device('dev03'))).be.undefined();
      should(await store().deviceSecret(device('dev01', 'pk2'))).be.undefined();
    });

    it('a second registration replaces the secret and the time', async function () {
      await store().putCredentials(creds(['dev01', 'dev02']), 10);
      await store().putCredentials(
        [{ productKey: 'pk1', deviceName: 'dev01', deviceSecret: 'new' }],
        1_700_000_000_020,
      );
      should(await store().deviceSecret(device('dev01'))).equal('new');
      should(await store().listCredentials({})).eql([
        { productKey: 'pk1', deviceName: 'dev01', createdAt: 1_700_000_000_020 },
        { productKey: 'pk1', deviceName: 'dev02', createdAt: 10 },
      ]);
    });

    it('a delete removes one secret and answers true; deleting none answers false', async function () {
      await store().putCredentials(creds(['dev01', 'dev02']), 10);
      should(await store().deleteCredential(device('dev02'))).be.true();
      should(await store().deleteCredential(device('dev02'))).be.false();
      should(await store().deleteCredential(device('dev01', 'pk2'))).be.false();
      should(await store().deviceSecret(device('dev02'))).be.undefined();
      should(await store().deviceSecret(device('dev01'))).equal('secret-pk1-dev01');
    });

    it('the list is by product key and name, never with a secret, and pages by limit and offset', async function () {
      await store().putCredentials([...creds(['dev02', 'dev01'], 'pk2'), ...creds(['dev03', 'dev01', 'dev02'])], 5);
      const all = await store().listCredentials({});
      should(all).eql([
        { productKey: 'pk1', deviceName: 'dev01', createdAt: 5 },
        { productKey: 'pk1', deviceName: 'dev02', createdAt: 5 },
        { productKey: 'pk1', deviceName: 'dev03', createdAt: 5 },
        { productKey: 'pk2', deviceName: 'dev01', createdAt: 5 },
        { productKey: 'pk2', deviceName: 'dev02', createdAt: 5 },
      ]);
      for (const record of all) should(Object.keys(record).sort()).eql(['createdAt', 'deviceName', 'productKey']);
      should(JSON.stringify(all)).not.containEql('secret');
      should(await store().listCredentials({ productKey: 'pk2' })).eql(all.slice(3));
      should(await store().listCredentials({ limit: 2 })).eql(all.slice(0, 2));
      should(await store().listCredentials({ limit: 2, offset: 2 })).eql(all.slice(2, 4));
      should(await store().listCredentials({ productKey: 'pk1', limit: 2, offset: 1 })).eql(all.slice(1, 3));
      should(await store().listCredentials({ offset: 5 })).eql([]);
      should(await store().listCredentials({ productKey: 'pk3' })).eql([]);
    });
    it('a list without a limit holds at most 1,000 devices', async function () {
      await store().putCredentials(
        Array.from({ length: 1001 }, (_, i) => ({ productKey: 'pk1', deviceName: `dev${i}`, deviceSecret: 's' })),
        1,
      );
      should(await store().listCredentials({})).have.length(1000);
      should(await store().listCredentials({ productKey: 'pk1', offset: 1000 })).have.length(1);
    });
  });

  describe('firmware', function () {
    it('a record is read back exactly as inserted, by id, by version and by stream id', async function () {
      const plain = firmware('fw-plain');
      await store().insertFirmware(plain);
      await store().insertFirmware(FULL);
      should(await store().firmware('fw-plain')).eql(plain);
      should(await store().firmware('fw-full')).eql(FULL);
      should(await store().firmwareByVersion('pk1', 'mcu', '3.1.0')).eql(FULL);
      should(await store().firmwareByVersion('pk1', 'default', '2.0.0')).eql(plain);
      should(await store().firmwareByStream(1007)).eql(FULL);
      should(await store().firmwareByStream(1001)).eql(plain);
    });

    it('an unknown id, version or stream id finds nothing', async function () {
      await store().insertFirmware(firmware('fw1'));
      should(await store().firmware('fw2')).be.undefined();
      should(await store().firmwareByVersion('pk1', 'default', '9.9.9')).be.undefined();
      should(await store().firmwareByVersion('pk2', 'default', '2.0.0')).be.undefined();
      should(await store().firmwareByVersion('pk1', 'mcu', '2.0.0')).be.undefined();
      should(await store().firmwareByStream(1002)).be.undefined();
    });

    it('the list is by creation time, then by insertion, and a product filters it', async function () {
      const a = firmware('a', { createdAt: 30, version: '1', streamId: 1001 });
      const b = firmware('b', { createdAt: 10, version: '2', streamId: 1002, productKey: 'pk2' });
      const c = firmware('c', { createdAt: 30, version: '3', streamId: 1003 });
      const d = firmware('d', { createdAt: 20, version: '4', streamId: 1004 });
      for (const fw of [c, a, b, d]) await store().insertFirmware(fw);
      should(await store().listFirmware()).eql([b, d, c, a]);
      should(await store().listFirmware('pk1')).eql([d, c, a]);
      should(await store().listFirmware('pk3')).eql([]);
    });

    it('a verification state and a URL are set on one record only', async function () {
      await store().insertFirmware(firmware('fw1'));
      await store().insertFirmware(firmware('fw2', { version: '2.1.0', streamId: 1002 }));
      await store().setVerification('fw1', 'verify-failed');
      await store().setFirmwareUrl('fw1', 'https://cdn.example.com/x.bin');
      should(await store().firmware('fw1')).eql(
        firmware('fw1', { verification: 'verify-failed', url: 'https://cdn.example.com/x.bin' }),
      );
      should(await store().firmware('fw2')).eql(firmware('fw2', { version: '2.1.0', streamId: 1002 }));
    });

    it('a deleted record is gone everywhere, the others stay', async function () {
      await store().insertFirmware(firmware('fw1'));
      await store().insertFirmware(firmware('fw2', { version: '2.1.0', streamId: 1002 }));
      await store().deleteFirmware('fw1');
      await store().deleteFirmware('never-there');
      should(await store().firmware('fw1')).be.undefined();
      should(await store().firmwareByVersion('pk1', 'default', '2.0.0')).be.undefined();
      should(await store().firmwareByStream(1001)).be.undefined();
      should((await store().listFirmware()).map((f) => f.id)).eql(['fw2']);
    });

    it('the next stream id is 1001 in an empty catalog, then one above the highest stored', async function () {
      should(await store().nextStreamId()).equal(1001);
      await store().insertFirmware(firmware('fw1', { streamId: 1001 }));
      should(await store().nextStreamId()).equal(1002);
      await store().insertFirmware(firmware('fw2', { streamId: 1040, version: '2.1.0' }));
      await store().insertFirmware(firmware('fw3', { streamId: 1005, version: '2.2.0', productKey: 'pk2' }));
      should(await store().nextStreamId()).equal(1041);
    });

    it('release sequences count 1, 2, 3 per product and module, and never reuse a deleted release', async function () {
      should(await store().nextReleaseSequence('pk1', 'default')).equal(1);
      await store().insertFirmware(firmware('fw1', { sequence: 1 }));
      should(await store().nextReleaseSequence('pk1', 'default')).equal(2);
      await store().insertFirmware(firmware('fw2', { sequence: 2, version: '2.1.0', streamId: 1002 }));
      should(await store().nextReleaseSequence('pk1', 'mcu')).equal(1);
      should(await store().nextReleaseSequence('pk2', 'default')).equal(1);
      await store().deleteFirmware('fw2');
      await store().deleteFirmware('fw1');
      should(await store().nextReleaseSequence('pk1', 'default')).equal(3);
      should(await store().nextReleaseSequence('pk1', 'mcu')).equal(2);
    });

    it('a firmware with the same bytes is found by sha256 when given, else by md5, only when verified or not required', async function () {
      const same = { md5: 'md5-x', sha256: 'sha-x' };
      await store().insertFirmware(firmware('unverified', { ...same, verification: 'unverified', createdAt: 1 }));
      await store().insertFirmware(
        firmware('failed', { ...same, verification: 'verify-failed', version: '2.1', streamId: 1002, createdAt: 2 }),
      );
      await store().insertFirmware(
        firmware('verifying', { ...same, verification: 'verifying', version: '2.2', streamId: 1003, createdAt: 3 }),
      );
      should(await store().verifiedFirmwareByDigest('pk1', { sha256: 'sha-x' })).be.undefined();
      const free = firmware('free', {
        ...same,
        verification: 'not-required',
        version: '2.3',
        streamId: 1004,
        createdAt: 4,
      });
      const verified = firmware('ok', {
        ...same,
        verification: 'verified',
        version: '2.4',
        streamId: 1005,
        createdAt: 5,
      });
      await store().insertFirmware(verified);
      should(await store().verifiedFirmwareByDigest('pk1', { sha256: 'sha-x' })).eql(verified);
      await store().insertFirmware(free);
      should(await store().verifiedFirmwareByDigest('pk1', { sha256: 'sha-x' })).eql(free);
      should(await store().verifiedFirmwareByDigest('pk1', { md5: 'md5-x' })).eql(free);
      should(await store().verifiedFirmwareByDigest('pk1', { sha256: 'sha-x', md5: 'other' })).eql(free);
      should(await store().verifiedFirmwareByDigest('pk1', { sha256: 'other', md5: 'md5-x' })).be.undefined();
      should(await store().verifiedFirmwareByDigest('pk2', { sha256: 'sha-x' })).be.undefined();
      should(await store().verifiedFirmwareByDigest('pk1', {})).be.undefined();
    });

    it('an external record keeps its empty digests, and an empty digest finds no record', async function () {
      const external = firmware('ext', { md5: '', sha256: '', hosted: false, url: 'https://cdn.example.com/e.bin' });
      await store().insertFirmware(external);
      should(await store().firmware('ext')).eql(external);
      should(await store().verifiedFirmwareByDigest('pk1', { sha256: '', md5: '' })).be.undefined();
      should(await store().verifiedFirmwareByDigest('pk1', { md5: '' })).be.undefined();
      should(await store().firmwareUsingFile('')).equal(0);
    });

    it('a package file counts the hosted records that use it, not the external ones', async function () {
      await store().insertFirmware(firmware('a', { sha256: 'file-1', hosted: true }));
      await store().insertFirmware(
        firmware('b', { sha256: 'file-1', hosted: true, productKey: 'pk2', streamId: 1002 }),
      );
      await store().insertFirmware(
        firmware('c', { sha256: 'file-1', hosted: false, url: 'https://x', version: '2.1', streamId: 1003 }),
      );
      should(await store().firmwareUsingFile('file-1')).equal(2);
      should(await store().firmwareUsingFile('file-2')).equal(0);
      await store().deleteFirmware('a');
      should(await store().firmwareUsingFile('file-1')).equal(1);
    });
  });
}
