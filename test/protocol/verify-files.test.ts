import { createHash } from 'node:crypto';
import should from 'should';
import {
  buildUpgradeNotice,
  checkFiles,
  digestBuffer,
  FirmwareDescriptor,
  PackageDigest,
  parseFirmwareDescriptor,
  parseUpgradeNotice,
} from '../../src/protocol';
import { PACKAGE } from './support';

const APP = Buffer.from('application image');
const RES = Buffer.from('resources, fonts and pictures');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const url = (name: string) => `https://ota.example.com/fw/${name}?Expires=1700000000&Signature=abc123`;

/** A two-file notice as the device parses it, signed by `signMethod`. */
function twoFiles(signMethod: 'Md5' | 'SHA256' = 'Md5'): FirmwareDescriptor {
  const sign = signMethod === 'Md5' ? md5 : sha256;
  const files = [
    { fileName: 'app.bin', fileSize: APP.length, fileUrl: url('app.bin'), fileSign: sign(APP) },
    { fileName: 'res.bin', fileSize: RES.length, fileUrl: url('res.bin'), fileSign: sign(RES) },
  ];
  const notice = buildUpgradeNotice(parseFirmwareDescriptor({ version: '2.0.0', signMethod, files }), 1);
  return parseUpgradeNotice(notice).firmware as FirmwareDescriptor;
}

function digests(files: Record<string, Buffer>): Map<string, PackageDigest> {
  return new Map(Object.entries(files).map(([name, bytes]) => [name, digestBuffer(bytes)]));
}

describe('checkFiles', function () {
  it('passes every listed file with its size and MD5', function () {
    should(checkFiles(digests({ 'app.bin': APP, 'res.bin': RES }), twoFiles())).eql({ ok: true });
  });

  it('passes every listed file with its size and SHA-256', function () {
    should(checkFiles(digests({ 'app.bin': APP, 'res.bin': RES }), twoFiles('SHA256'))).eql({ ok: true });
  });

  it('does not depend on the order the files were downloaded in', function () {
    should(checkFiles(digests({ 'res.bin': RES, 'app.bin': APP }), twoFiles())).eql({ ok: true });
  });

  it('fails when a listed file is missing, naming it', function () {
    should(checkFiles(digests({ 'app.bin': APP }), twoFiles())).eql({
      ok: false,
      reason: 'missing file "res.bin": the notice lists it, but it was not downloaded',
    });
  });

  it('fails a file of another size, naming the file and both sizes', function () {
    should(checkFiles(digests({ 'app.bin': APP, 'res.bin': RES.subarray(1) }), twoFiles())).eql({
      ok: false,
      reason: `size mismatch in file "res.bin": it has ${RES.length - 1} bytes, the notice says ${RES.length}`,
    });
  });

  it('fails a file of the right size with another MD5, naming the file and both digests', function () {
    const tampered = Buffer.from(APP.toString().toUpperCase());
    should(checkFiles(digests({ 'app.bin': tampered, 'res.bin': RES }), twoFiles())).eql({
      ok: false,
      reason: `Md5 mismatch in file "app.bin": its digest is ${md5(tampered)}, the notice says ${md5(APP)}`,
    });
  });

  it('fails a file of the right size with another SHA-256', function () {
    const tampered = Buffer.from(RES.toString().toUpperCase());
    should(checkFiles(digests({ 'app.bin': APP, 'res.bin': tampered }), twoFiles('SHA256'))).eql({
      ok: false,
      reason: `SHA256 mismatch in file "res.bin": its digest is ${sha256(tampered)}, the notice says ${sha256(RES)}`,
    });
  });

  it('fails a file the notice does not list, naming it', function () {
    should(checkFiles(digests({ 'app.bin': APP, 'res.bin': RES, 'extra.bin': PACKAGE.bytes }), twoFiles())).eql({
      ok: false,
      reason: 'unexpected file "extra.bin": the notice does not list it',
    });
  });

  it("reports the first difference in the notice's order", function () {
    should(checkFiles(digests({ 'res.bin': APP }), twoFiles())).eql({
      ok: false,
      reason: 'missing file "app.bin": the notice lists it, but it was not downloaded',
    });
  });

  it('does not check a single-package notice as files', function () {
    const single = parseFirmwareDescriptor({ version: '1.0.1', size: 12, url: PACKAGE.url, md5: PACKAGE.md5 });
    should(checkFiles(digests({ 'fw.bin': PACKAGE.bytes }), single)).eql({
      ok: false,
      reason: 'the notice announces one package, not a list of files; check it against its sign',
    });
  });
});
