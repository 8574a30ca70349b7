/**
 * Multi-file firmware over real HTTP: several files uploaded as one firmware (multipart/form-data),
 * each hosted at its own signed URL, and announced in a T2 `files` array as Link SDK 4 reads it.
 */
import { createHash, randomBytes } from 'node:crypto';
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Firmware } from '../../src/fleet';
import { urlSignature } from '../../src/fleet';
import { parseUpgradeNotice } from '../../src/protocol';
import {
  assertNoStackTrace,
  Deployed,
  deploy,
  fleetSuite,
  httpRequest,
  platformFlow,
  reportVersions,
} from '../helpers/fleet-red';

helper.init(require.resolve('node-red'));

type File = { name: string; bytes: Buffer };

const FILES: File[] = [
  { name: 'app.bin', bytes: Buffer.concat([Buffer.from('APP-'), randomBytes(200_000)]) },
  { name: 'boot.bin', bytes: Buffer.concat([Buffer.from('BOOT-'), randomBytes(3000)]) },
  { name: 'res.pak', bytes: Buffer.concat([Buffer.from('RES-'), randomBytes(50_000)]) },
];

const md5 = (bytes: Buffer | string) => createHash('md5').update(bytes).digest('hex');
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** A multipart/form-data body with one part per file, as a browser's FormData sends it. */
function multipart(files: File[]): { body: Buffer; type: string } {
  const boundary = `----ota${randomBytes(8).toString('hex')}`;
  const parts = files.flatMap((f) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${f.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    f.bytes,
    Buffer.from('\r\n'),
  ]);
  return {
    body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

describe('multi-file firmware', function () {
  const suite = fleetSuite('multi-file');
  let d: Deployed;

  async function upload(files: File[], version = '2.0.0', query = '') {
    const { body, type } = multipart(files);
    const res = await httpRequest(
      `${suite.adminUrl}/ota/fleets/${d.platform.fleet.id}/firmware?productKey=pk1&version=${version}${query}`,
      {
        method: 'POST',
        headers: { 'Content-Type': type, 'Content-Length': body.length },
        body,
      },
    );
    const text = res.body.toString();
    assertNoStackTrace(text);
    return { status: res.status, body: JSON.parse(text) as Firmware & { error?: string } };
  }

  async function uploaded(files = FILES): Promise<Firmware> {
    const res = await upload(files);
    should(res.status).equal(201, JSON.stringify(res.body));
    return res.body;
  }

  const fileUrls = (firmware: Firmware) => d.handle.host.signedFileUrls(firmware, Date.now());

  beforeEach(async function () {
    d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false, urlExpiryHours: 1 } }));
  });

  describe('an upload of three files', function () {
    it('answers 201 with a hosted record listing each file with its digests, the total size and the digests of the list', async function () {
      const firmware = await uploaded();
      const list = FILES.map((f) => `${f.name} ${sha256(f.bytes)}\n`).join('');
      should(firmware).match({
        productKey: 'pk1',
        module: 'default',
        version: '2.0.0',
        hosted: true,
        signMethod: 'Md5',
        size: FILES.reduce((n, f) => n + f.bytes.length, 0),
        md5: md5(list),
        sha256: sha256(list),
      });
      should(firmware.files).eql(
        FILES.map((f) => ({
          fileName: f.name,
          fileSize: f.bytes.length,
          fileSign: md5(f.bytes),
          md5: md5(f.bytes),
          sha256: sha256(f.bytes),
        })),
      );
    });

    it("signs each file by the record's signMethod", async function () {
      const res = await upload(FILES, '2.0.0', '&signMethod=SHA256');
      should(res.status).equal(201);
      should(res.body.files?.map((f) => f.fileSign)).eql(FILES.map((f) => sha256(f.bytes)));
    });

    it('serves each file at its own signed URL, whole and by Range, with its ETag', async function () {
      const firmware = await uploaded();
      const urls = fileUrls(firmware);
      for (const [i, url] of urls.entries()) {
        should(url).match(
          new RegExp(
            `^${suite.nodeUrl}/ota/firmware/${d.platform.fleet.id}/${firmware.id}/${i}\\?e=\\d+&s=[A-Za-z0-9_-]{43}$`,
          ),
        );
        const { pathname, search } = new URL(url);
        should(Buffer.byteLength(pathname + search)).be.belowOrEqual(128);
        const whole = await httpRequest(url);
        should(whole.status).equal(200);
        should(whole.body.equals(FILES[i].bytes)).be.true();
        should(whole.headers).match({
          etag: `"${sha256(FILES[i].bytes)}"`,
          'content-length': String(FILES[i].bytes.length),
          'accept-ranges': 'bytes',
        });
        const part = await httpRequest(url, { headers: { Range: 'bytes=5-104' } });
        should(part.status).equal(206);
        should(part.headers['content-range']).equal(`bytes 5-104/${FILES[i].bytes.length}`);
        should(part.body.equals(FILES[i].bytes.subarray(5, 105))).be.true();
      }
    });

    it('answers HEAD for a file with its headers and no body', async function () {
      const firmware = await uploaded();
      const res = await httpRequest(fileUrls(firmware)[1], { method: 'HEAD' });
      should(res.status).equal(200);
      should(res.headers).match({
        'content-length': String(FILES[1].bytes.length),
        'content-disposition': 'attachment; filename="boot.bin"',
      });
      should(res.body.length).equal(0);
    });

    it("refuses a file's URL with another index (403), and a signed index out of range (404)", async function () {
      const firmware = await uploaded();
      const url = fileUrls(firmware)[0];
      const tampered = url.replace(`/${firmware.id}/0?`, `/${firmware.id}/1?`);
      const res = await httpRequest(tampered);
      should({ status: res.status, body: JSON.parse(res.body.toString()) }).eql({
        status: 403,
        body: { error: 'the URL signature does not match' },
      });
      const notANumber = await httpRequest(url.replace(`/${firmware.id}/0?`, `/${firmware.id}/x?`));
      should(notANumber.status).equal(403);

      const expires = Math.floor(Date.now() / 1000) + 600;
      const fleet = d.platform.fleet.id;
      const s = urlSignature(d.handle.secret, { fleet, firmware: firmware.id, expires, file: 3 });
      const outOfRange = await httpRequest(
        `${suite.nodeUrl}/ota/firmware/${fleet}/${firmware.id}/3?e=${expires}&s=${s}`,
      );
      should({ status: outOfRange.status, body: JSON.parse(outOfRange.body.toString()) }).eql({
        status: 404,
        body: { error: 'no such file' },
      });
    });

    it('is not served as one package at the single-package URL', async function () {
      const firmware = await uploaded();
      const res = await httpRequest(d.handle.host.signedUrl(firmware, Date.now()));
      should(res.status).equal(404);
    });
  });

  describe('a batch of a multi-file firmware', function () {
    it('notices a T2 whose files array lists each file with a URL that serves it', async function () {
      await reportVersions(d, 'pk1', ['dev1'], '1.0.0');
      const firmware = await uploaded();
      const res = await helper
        .request()
        .post(`/ota/fleets/${d.platform.fleet.id}/batches`)
        .send({ firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' } });
      should(res.status).equal(201);
      const sent = await d.sent.next();
      should(sent.topic).equal('/ota/device/upgrade/pk1/dev1');
      const notice = parseUpgradeNotice(sent.payload);
      const files = notice.firmware?.files ?? [];
      should(files.map(({ fileUrl: _url, ...f }) => f)).eql(
        FILES.map((f) => ({ fileName: f.name, fileSize: f.bytes.length, fileSign: md5(f.bytes) })),
      );
      should(notice.firmware).match({ version: '2.0.0', size: firmware.size, signMethod: 'Md5' });
      for (const [i, file] of files.entries()) {
        const got = await httpRequest(file.fileUrl);
        should({ i, status: got.status, same: got.body.equals(FILES[i].bytes) }).eql({ i, status: 200, same: true });
      }
      should(JSON.parse(String(sent.payload)).data).have.keys('size', 'version', 'signMethod', 'files');
    });
  });

  describe('a version uploaded again', function () {
    it('with the same files answers the same record', async function () {
      const first = await uploaded();
      const again = await upload(FILES);
      should(again.status).equal(201);
      should(again.body.id).equal(first.id);
    });

    it('with another list of files is refused with 409', async function () {
      const first = await uploaded();
      for (const other of [
        FILES.slice(0, 2),
        [FILES[1], FILES[0], FILES[2]],
        [...FILES.slice(0, 2), { name: 'res.pak', bytes: Buffer.from('other resources') }],
      ]) {
        const res = await upload(other);
        should(res.status).equal(409);
        should(res.body.error).equal(
          `version 2.0.0 of pk1/default already exists (firmware ${first.id}) with different bytes; give the new package a new version, or delete the old firmware first`,
        );
      }
    });
  });

  describe('refusals', function () {
    const refusedWith = async (files: File[], status: number, error: string) => {
      const res = await upload(files);
      should({ status: res.status, body: res.body }).eql({ status, body: { error } });
      should((await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/firmware`)).body).eql([]);
    };

    it('refuses two files of one name', async function () {
      await refusedWith(
        [FILES[0], FILES[1], { name: 'app.bin', bytes: Buffer.from('again') }],
        422,
        'two files are named "app.bin" (files[0] and files[2]); each file of a firmware needs its own name',
      );
    });

    it('refuses an empty file, naming it', async function () {
      await refusedWith(
        [FILES[0], { name: 'empty.bin', bytes: Buffer.alloc(0) }],
        422,
        'files[1] "empty.bin": the package is empty',
      );
    });

    it('refuses a file name that is not a label', async function () {
      const long = `${'n'.repeat(61)}.bin`;
      await refusedWith(
        [FILES[0], { name: long, bytes: Buffer.from('x') }],
        400,
        `files[1].fileName must be at most 64 characters, got "${'n'.repeat(40)}… (65 chars)"`,
      );
    });

    it('refuses 21 files', async function () {
      const many = Array.from({ length: 21 }, (_, i) => ({ name: `part-${i}.bin`, bytes: Buffer.from(`part ${i}`) }));
      await refusedWith(many, 422, 'a firmware holds at most 20 files; "part-20.bin" is one more');
    });

    it('accepts 20 files', async function () {
      const many = Array.from({ length: 20 }, (_, i) => ({ name: `part-${i}.bin`, bytes: Buffer.from(`part ${i}`) }));
      const firmware = await uploaded(many);
      should(firmware.files).have.length(20);
    });

    it('takes a single part as a single-package firmware, hosted at the package URL', async function () {
      const firmware = await uploaded([FILES[1]]);
      should(firmware).match({
        size: FILES[1].bytes.length,
        md5: md5(FILES[1].bytes),
        sha256: sha256(FILES[1].bytes),
        hosted: true,
      });
      should(firmware.files).be.undefined();
      const res = await httpRequest(d.handle.host.signedUrl(firmware, Date.now()));
      should(res.body.equals(FILES[1].bytes)).be.true();
    });

    it('refuses a batch that would download a multi-file firmware over MQTT, and creates none', async function () {
      const firmware = await uploaded();
      await reportVersions(d, 'pk1', ['dev1'], '1.0.0');
      const res = await helper
        .request()
        .post(`/ota/fleets/${d.platform.fleet.id}/batches`)
        .send({
          firmwareId: firmware.id,
          type: 'static',
          targets: { selection: 'ALL' },
          strategy: { downloadProtocol: 'mqtt' },
        });
      should(res.status).equal(422);
      should(res.body).eql({
        error:
          'download over MQTT needs a single package hosted by this fleet, of at most 16 MB (a firmware of several files downloads over https)',
      });
      should((await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches`).expect(200)).body).eql([]);
    });

    it('refuses download over MQTT for a multi-file firmware, when the notice is built', async function () {
      const firmware = await uploaded();
      const { descriptorFor } = await import('../../src/fleet');
      should(() => descriptorFor(firmware, { downloadProtocol: 'mqtt' } as never, d.handle.host, Date.now())).throw(
        `download over MQTT carries one package, and firmware ${firmware.id} has 3 files: use downloadProtocol "https"`,
      );
    });
  });
});
