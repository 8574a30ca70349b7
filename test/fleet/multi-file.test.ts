/** The catalog's same-bytes rule for lists of files: two different lists under one version are never one package. */
import { createHash } from 'node:crypto';
import should from 'should';
import { fileListDigests, FirmwareFile } from '../../src/fleet';
import { NewFirmware, samePackage } from '../../src/fleet/catalog';
import { makeFleet, TestFleet } from '../helpers/fleet';

const hex = (c: string, n: number) => c.repeat(n);

/** A hosted file of `size` bytes whose digests are made of `c`. */
const hostedFile = (fileName: string, c: string, size = 100): FirmwareFile => ({
  fileName,
  fileSize: size,
  fileSign: hex(c, 32),
  md5: hex(c, 32),
  sha256: hex(c, 64),
});

/** An external file at a CDN URL. */
const externalFile = (fileName: string, c: string, url = `https://cdn.example.com/${fileName}`): FirmwareFile => ({
  fileName,
  fileSize: 100,
  fileSign: hex(c, 32),
  fileUrl: url,
});

function hostedList(files: FirmwareFile[], version = '2.0.0'): NewFirmware {
  return {
    productKey: 'pk1',
    module: 'default',
    version,
    size: files.reduce((n, f) => n + f.fileSize, 0),
    ...fileListDigests(files),
    signMethod: 'Md5',
    hosted: true,
    isDiff: false,
    files,
  };
}

/** An external list, as a direct push records it: no package digest is known. */
function externalList(files: FirmwareFile[], version = '2.0.0'): NewFirmware {
  return {
    productKey: 'pk1',
    module: 'default',
    version,
    size: 200,
    md5: '',
    sha256: '',
    signMethod: 'Md5',
    hosted: false,
    isDiff: false,
    files,
  };
}

describe('multi-file firmware in the catalog', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet({ requireVerification: false });
  });
  afterEach(function () {
    t.close();
  });

  describe('samePackage', function () {
    const a = hostedFile('a.bin', 'a');
    const b = hostedFile('b.bin', 'b');

    it('takes the same files in the same order for the same package', function () {
      should(samePackage(hostedList([a, b]), hostedList([a, b]))).be.true();
    });

    it('tells lists apart by a file, its name, its size, its order or their number', function () {
      const base = hostedList([a, b]);
      should(samePackage(base, hostedList([a, hostedFile('b.bin', 'c')]))).be.false();
      should(samePackage(base, hostedList([a, { ...b, fileName: 'c.bin' }]))).be.false();
      should(samePackage(base, hostedList([a, { ...b, fileSize: 101 }]))).be.false();
      should(samePackage(base, hostedList([b, a]))).be.false();
      should(samePackage(base, hostedList([a, b, hostedFile('c.bin', 'c')]))).be.false();
    });

    it('tells external lists apart although neither knows a package digest', function () {
      should(
        samePackage(
          externalList([externalFile('a.bin', 'a'), externalFile('b.bin', 'b')]),
          externalList([externalFile('a.bin', 'a'), externalFile('b.bin', 'c')]),
        ),
      ).be.false();
    });

    it('never takes a list for a single package', function () {
      const list = hostedList([a, b]);
      const single = { md5: list.md5, sha256: list.sha256 };
      should(samePackage(list, single)).be.false();
      should(samePackage(single, list)).be.false();
    });
  });

  describe('addFirmware', function () {
    it('answers the existing record for the same list under its version', function () {
      const files = [hostedFile('a.bin', 'a'), hostedFile('b.bin', 'b')];
      const first = t.fleet.addFirmware(hostedList(files));
      should(t.fleet.addFirmware(hostedList(files)).id).equal(first.id);
    });

    it('refuses another list under the same version with 409, as different bytes', function () {
      const first = t.fleet.addFirmware(hostedList([hostedFile('a.bin', 'a'), hostedFile('b.bin', 'b')]));
      should(() => t.fleet.addFirmware(hostedList([hostedFile('a.bin', 'a'), hostedFile('b.bin', 'c')]))).throw({
        status: 409,
        message: `version 2.0.0 of pk1/default already exists (firmware ${first.id}) with different bytes; give the new package a new version, or delete the old firmware first`,
      });
    });

    it('refuses another external list under the same version, where both digests are empty', function () {
      t.fleet.addFirmware(externalList([externalFile('a.bin', 'a'), externalFile('b.bin', 'b')]));
      should(() => t.fleet.addFirmware(externalList([externalFile('a.bin', 'a'), externalFile('b.bin', 'c')]))).throw(
        /with different bytes/,
      );
    });

    it('refuses the same external list at other URLs, as another location', function () {
      t.fleet.addFirmware(externalList([externalFile('a.bin', 'a'), externalFile('b.bin', 'b')]));
      should(() =>
        t.fleet.addFirmware(
          externalList([externalFile('a.bin', 'a', 'https://other.example.com/a.bin'), externalFile('b.bin', 'b')]),
        ),
      ).throw(/with another location/);
    });

    it('keeps the files of a hosted list with their digests', function () {
      const files = [hostedFile('a.bin', 'a'), hostedFile('b.bin', 'b')];
      const added = t.fleet.addFirmware(hostedList(files));
      should(t.fleet.firmware(added.id).files).eql(files);
    });
  });

  describe('fileListDigests', function () {
    it('digests the lines "<fileName> <sha256>" of the list, in order', function () {
      const text = `a.bin ${hex('a', 64)}\nb.bin ${hex('b', 64)}\n`;
      should(fileListDigests([hostedFile('a.bin', 'a'), hostedFile('b.bin', 'b')])).eql({
        md5: createHash('md5').update(text).digest('hex'),
        sha256: createHash('sha256').update(text).digest('hex'),
      });
    });
  });
});
