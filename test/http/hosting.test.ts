/**
 * Hosted firmware over real HTTP on the HTTP node root: signed URLs, exact bytes, Range (resume),
 * HEAD, ETag, refusals that never leak a byte, no way out of the package folder, and a large
 * package streamed in and out in constant memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Firmware } from '../../src/fleet';
import { urlSignature } from '../../src/fleet';
import {
  assertNoStackTrace,
  Deployed,
  deploy,
  fleetSuite,
  httpRequest,
  HttpAnswer,
  platformFlow,
  signedUrl,
} from '../helpers/fleet-red';

helper.init(require.resolve('node-red'));

const MB = 1024 * 1024;
/** Random bytes with a recognisable head, so a leak of any part of it can be looked for. */
const PACKAGE = Buffer.concat([Buffer.from('PKG-HEAD-0123456789'), randomBytes(3 * MB)]);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The answer is a refusal with this status and `{error}`, and carries none of the package. */
function assertRefused(res: HttpAnswer, status: number, error?: string): void {
  should(res.status).equal(status);
  should(res.body.includes(PACKAGE.subarray(0, 16))).be.false('the refusal carries package bytes');
  should(res.body.length).be.below(1000);
  assertNoStackTrace(res.body.toString());
  if (error !== undefined) should(JSON.parse(res.body.toString())).eql({ error });
}

describe('firmware hosting', function () {
  const suite = fleetSuite('hosting');
  let d: Deployed;
  let firmware: Firmware;
  let url: string;

  async function upload(version: string, bytes: Buffer): Promise<Firmware> {
    const res = await helper
      .request()
      .post(`/ota/fleets/${d.platform.fleet.id}/firmware?productKey=pk1&version=${version}`)
      .set('Content-Type', 'application/octet-stream')
      .send(bytes)
      .expect(201);
    return res.body;
  }

  beforeEach(async function () {
    d = await deploy(platformFlow(suite, { fleetProps: { urlExpiryHours: 1 } }));
    firmware = await upload('2.0.0', PACKAGE);
    url = signedUrl(d.handle, firmware);
  });

  describe('a signed URL', function () {
    it('is on the public URL under /ota/firmware/<fleet>/<firmware>, with an expiry and a signature', function () {
      should(url).match(
        new RegExp(
          `^${suite.nodeUrl}/ota/firmware/${d.platform.fleet.id}/${firmware.id}\\?e=\\d+&s=[A-Za-z0-9_-]{43}$`,
        ),
      );
      const expires = Number(new URL(url).searchParams.get('e'));
      should(expires).be.within(Math.floor(Date.now() / 1000) + 3590, Math.floor(Date.now() / 1000) + 3600);
    });

    it('keeps its path and query well under the 255 bytes the C SDKs can hold (at most 128)', function () {
      const { pathname, search } = new URL(url);
      should(Buffer.byteLength(pathname + search)).be.belowOrEqual(128);
      should(d.platform.fleet.id).match(/^[0-9a-f]{16}$/);
    });

    it('is never gzipped, even for a client that asks for it (the C SDKs do not gunzip)', async function () {
      const res = await httpRequest(url, { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
      should(res.status).equal(200);
      should(res.headers['content-encoding']).be.undefined();
      should(res.body.equals(PACKAGE)).be.true();
    });

    it('GET answers 200 with the exact bytes, Content-Length, ETag and Accept-Ranges', async function () {
      const res = await httpRequest(url);
      should(res.status).equal(200);
      should(res.body.equals(PACKAGE)).be.true();
      should(res.headers).match({
        'content-type': 'application/octet-stream',
        'content-length': String(PACKAGE.length),
        etag: `"${sha256(PACKAGE)}"`,
        'accept-ranges': 'bytes',
        'content-disposition': 'attachment; filename="pk1-default-2.0.0.bin"',
      });
    });

    it('Range bytes=10-99 answers 206 with Content-Range and exactly those bytes', async function () {
      const res = await httpRequest(url, { headers: { Range: 'bytes=10-99' } });
      should(res.status).equal(206);
      should(res.headers).match({ 'content-range': `bytes 10-99/${PACKAGE.length}`, 'content-length': '90' });
      should(res.body.equals(PACKAGE.subarray(10, 100))).be.true();
    });

    it('a suffix range answers the last bytes', async function () {
      const res = await httpRequest(url, { headers: { Range: 'bytes=-100' } });
      should(res.status).equal(206);
      should(res.headers['content-range']).equal(
        `bytes ${PACKAGE.length - 100}-${PACKAGE.length - 1}/${PACKAGE.length}`,
      );
      should(res.body.equals(PACKAGE.subarray(PACKAGE.length - 100))).be.true();
    });

    it('a download cut off after some bytes and resumed with Range from there assembles the exact package', async function () {
      const cut = await httpRequest(url, { abortAfter: MB });
      should(cut.status).equal(200);
      should(cut.body.length).be.within(MB, PACKAGE.length - 1);
      should(cut.body.equals(PACKAGE.subarray(0, cut.body.length))).be.true();
      const rest = await httpRequest(url, {
        headers: { Range: `bytes=${cut.body.length}-`, 'If-Range': `"${sha256(PACKAGE)}"` },
      });
      should(rest.status).equal(206);
      should(rest.headers['content-range']).equal(`bytes ${cut.body.length}-${PACKAGE.length - 1}/${PACKAGE.length}`);
      should(sha256(Buffer.concat([cut.body, rest.body]))).equal(sha256(PACKAGE));
    });

    it('a Range with an If-Range of another ETag answers the whole package', async function () {
      const res = await httpRequest(url, { headers: { Range: 'bytes=10-99', 'If-Range': '"0000"' } });
      should(res.status).equal(200);
      should(res.body.equals(PACKAGE)).be.true();
    });

    it('HEAD answers the headers and no body', async function () {
      const res = await httpRequest(url, { method: 'HEAD' });
      should(res.status).equal(200);
      should(res.headers).match({
        'content-length': String(PACKAGE.length),
        etag: `"${sha256(PACKAGE)}"`,
        'accept-ranges': 'bytes',
      });
      should(res.body.length).equal(0);
    });

    it('If-None-Match with the ETag answers 304 and no body', async function () {
      const res = await httpRequest(url, { headers: { 'If-None-Match': `"${sha256(PACKAGE)}"` } });
      should(res.status).equal(304);
      should(res.headers.etag).equal(`"${sha256(PACKAGE)}"`);
      should(res.body.length).equal(0);
    });

    it('an unsatisfiable range answers 416 with the size', async function () {
      const res = await httpRequest(url, { headers: { Range: `bytes=${PACKAGE.length}-` } });
      should(res.status).equal(416);
      should(res.headers['content-range']).equal(`bytes */${PACKAGE.length}`);
      should(res.body.length).equal(0);
    });
  });

  describe('refusals', function () {
    it('an expired URL answers 403 and no package bytes', async function () {
      const expired = signedUrl(d.handle, firmware, Date.now() - 2 * 3600 * 1000);
      assertRefused(
        await httpRequest(expired),
        403,
        'the URL has expired; the device can ask again (T4) for a fresh one',
      );
    });

    it('a tampered signature answers 403', async function () {
      const s = new URL(url).searchParams.get('s') as string;
      const tampered = url.replace(`s=${s}`, `s=${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`);
      assertRefused(await httpRequest(tampered), 403, 'the URL signature does not match');
    });

    it('a stretched expiry answers 403', async function () {
      const e = new URL(url).searchParams.get('e') as string;
      assertRefused(
        await httpRequest(url.replace(`e=${e}`, `e=${Number(e) + 86400}`)),
        403,
        'the URL signature does not match',
      );
    });

    it("another firmware's signature replayed on this one answers 403", async function () {
      const other = await upload('2.0.1', Buffer.from('another package'));
      const otherQuery = new URL(signedUrl(d.handle, other)).search;
      const replayed = `${suite.nodeUrl}/ota/firmware/${d.platform.fleet.id}/${firmware.id}${otherQuery}`;
      assertRefused(await httpRequest(replayed), 403, 'the URL signature does not match');
    });

    it('a URL without its signature answers 403', async function () {
      assertRefused(await httpRequest(url.replace(/&s=.*$/, '')), 403, 'the URL is not signed');
      assertRefused(await httpRequest(url.replace(/\?.*$/, '')), 403, 'the URL is not signed');
    });

    it('an unknown firmware id with a valid signature answers 404', async function () {
      const expires = Math.floor(Date.now() / 1000) + 600;
      const fleet = d.platform.fleet.id;
      const s = urlSignature(d.handle.secret, { fleet, firmware: 'feedfeedfeed', expires });
      assertRefused(
        await httpRequest(`${suite.nodeUrl}/ota/firmware/${fleet}/feedfeedfeed?e=${expires}&s=${s}`),
        404,
        'no such firmware',
      );
    });

    it('the URL of a deleted firmware answers 404', async function () {
      await helper.request().delete(`/ota/fleets/${d.platform.fleet.id}/firmware/${firmware.id}`).expect(200);
      assertRefused(await httpRequest(url), 404, 'no such firmware');
    });

    it('an unknown fleet answers 404', async function () {
      const query = new URL(url).search;
      assertRefused(
        await httpRequest(`${suite.nodeUrl}/ota/firmware/nofleet/${firmware.id}${query}`),
        404,
        'no such firmware',
      );
    });
  });

  describe('no way out of the package folder', function () {
    const leaks = (res: HttpAnswer) =>
      ['root:', 'SQLite format 3', 'PKG-HEAD'].filter((text) => res.body.includes(text));

    it('path traversal attempts answer 403 or 404 and never a file', async function () {
      const fleet = d.platform.fleet.id;
      const query = new URL(url).search;
      const attempts = [
        `/ota/firmware/${fleet}/../../../../etc/passwd${query}`,
        `/ota/firmware/${fleet}/..%2F..%2F..%2F..%2Fetc%2Fpasswd${query}`,
        `/ota/firmware/${fleet}/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd${query}`,
        `/ota/firmware/${fleet}/%2e%2e%2ffleet.sqlite${query}`,
        `/ota/firmware/${fleet}/%2Fetc%2Fpasswd${query}`,
        `/ota/firmware/${fleet}/${firmware.id}%00${query}`,
        `/ota/firmware/${fleet}/${firmware.id}%00..%2F..%2Ffleet.sqlite${query}`,
        `/ota/firmware/${fleet}/..${query}`,
        `/ota/firmware/../../${fleet}/fleet.sqlite${query}`,
        `/ota/firmware/..%2F${fleet}/${firmware.id}${query}`,
        `/ota/firmware/${fleet}%2F..%2F..%2Fota/fleet.sqlite${query}`,
      ];
      for (const path of attempts) {
        const res = await httpRequest(`${suite.nodeUrl}${path}`);
        should([403, 404]).containEql(res.status);
        should({ path, leaks: leaks(res) }).eql({ path, leaks: [] });
        assertNoStackTrace(res.body.toString());
      }
    });

    it('even a validly signed path to the store or to the package file by its digest finds nothing', async function () {
      const fleet = d.platform.fleet.id;
      const expires = Math.floor(Date.now() / 1000) + 600;
      for (const name of ['../fleet.sqlite', '../../../../../../etc/passwd', `/${firmware.sha256}`, firmware.sha256]) {
        const s = urlSignature(d.handle.secret, { fleet, firmware: name, expires });
        const res = await httpRequest(
          `${suite.nodeUrl}/ota/firmware/${fleet}/${encodeURIComponent(name)}?e=${expires}&s=${s}`,
        );
        should({ name, status: res.status, leaks: leaks(res) }).eql({ name, status: 404, leaks: [] });
      }
    });
  });

  describe('a 50 MB package', function () {
    this.timeout(30000);
    const SIZE = 50 * MB;
    const CHUNK = MB;
    const seed = randomBytes(CHUNK);
    /** The package in 1 MB chunks, made on the fly (the same bytes every time). */
    async function* chunks() {
      for (let i = 0; i < SIZE / CHUNK; i++) {
        const chunk = Buffer.from(seed);
        chunk.writeUInt32BE(i, 0);
        yield chunk;
      }
    }

    it('is streamed in and out with the process memory growing by far less than its size', async function () {
      const expected = createHash('sha256');
      for await (const chunk of chunks()) expected.update(chunk);
      const digest = expected.digest('hex');

      let peak = process.memoryUsage().rss;
      const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
      const timer = setInterval(sample, 5);
      try {
        const startUpload = process.memoryUsage().rss;
        peak = startUpload;
        const res = await httpRequest(
          `${suite.adminUrl}/ota/fleets/${d.platform.fleet.id}/firmware?productKey=pk1&version=big-1`,
          {
            method: 'POST',
            headers: { 'Content-Type': 'application/octet-stream' },
            body: chunks(),
          },
        );
        should(res.status).equal(201);
        const big = JSON.parse(res.body.toString()) as Firmware;
        should({ size: big.size, sha256: big.sha256 }).eql({ size: SIZE, sha256: digest });
        should(peak - startUpload).be.below(
          30 * MB,
          `the upload grew the RSS by ${Math.round((peak - startUpload) / MB)} MB`,
        );

        const startDownload = process.memoryUsage().rss;
        peak = startDownload;
        const received = createHash('sha256');
        let bytes = 0;
        const download = await httpRequest(signedUrl(d.handle, big), {
          onChunk: (chunk) => {
            bytes += chunk.length;
            received.update(chunk);
            sample();
          },
        });
        should({ status: download.status, bytes, sha256: received.digest('hex') }).eql({
          status: 200,
          bytes: SIZE,
          sha256: digest,
        });
        should(peak - startDownload).be.below(
          30 * MB,
          `the download grew the RSS by ${Math.round((peak - startDownload) / MB)} MB`,
        );
      } finally {
        clearInterval(timer);
      }
    });
  });
});
