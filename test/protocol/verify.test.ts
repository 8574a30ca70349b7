import should from 'should';
import {
  buildUpgradeNotice,
  checkPackage,
  digestBuffer,
  FirmwareDescriptor,
  parseFirmwareDescriptor,
  parseUpgradeNotice,
} from '../../src/protocol';
import { PACKAGE } from './support';

const BY_MD5 = parseFirmwareDescriptor({ version: '1.0.1', size: 12, url: PACKAGE.url, md5: PACKAGE.md5 });
const BY_SHA256 = parseFirmwareDescriptor({ version: '1.0.1', size: 12, url: PACKAGE.url, sha256: PACKAGE.sha256 });

describe('checkPackage', function () {
  it('passes a package of the announced size and MD5', function () {
    should(checkPackage(digestBuffer(PACKAGE.bytes), BY_MD5)).eql({ ok: true });
  });

  it('passes a package of the announced size and SHA-256', function () {
    should(checkPackage(digestBuffer(PACKAGE.bytes), BY_SHA256)).eql({ ok: true });
  });

  it('passes the package of a notice whose sign came in uppercase', function () {
    const notice = buildUpgradeNotice(BY_MD5, 1).split(PACKAGE.md5).join(PACKAGE.md5.toUpperCase());
    should(checkPackage(digestBuffer(PACKAGE.bytes), parseUpgradeNotice(notice).firmware as FirmwareDescriptor)).eql({
      ok: true,
    });
  });

  it('fails a package of another size, saying both sizes', function () {
    should(checkPackage(digestBuffer(PACKAGE.bytes.subarray(1)), BY_MD5)).eql({
      ok: false,
      reason: 'size mismatch: the package has 11 bytes, the notice says 12',
    });
  });

  it('fails a package of the right size with another MD5, saying both digests', function () {
    const other = Buffer.from('hello world?');
    should(checkPackage(digestBuffer(other), BY_MD5)).eql({
      ok: false,
      reason: `Md5 mismatch: the package digest is ${digestBuffer(other).md5}, the notice says ${PACKAGE.md5}`,
    });
  });

  it('fails a package of the right size with another SHA-256', function () {
    const other = Buffer.from('HELLO WORLD!');
    should(checkPackage(digestBuffer(other), BY_SHA256)).eql({
      ok: false,
      reason: `SHA256 mismatch: the package digest is ${digestBuffer(other).sha256}, the notice says ${PACKAGE.sha256}`,
    });
  });

  it('does not check a notice of several files as one package', function () {
    const files = [
      { fileName: 'a.bin', fileSize: 12, fileUrl: PACKAGE.url, fileSign: PACKAGE.md5 },
      { fileName: 'b.bin', fileSize: 12, fileUrl: PACKAGE.url, fileSign: PACKAGE.md5 },
    ];
    should(checkPackage(digestBuffer(PACKAGE.bytes), parseFirmwareDescriptor({ version: '1', files }))).eql({
      ok: false,
      reason: 'the notice lists several files; check each file against its fileSign',
    });
  });
});
