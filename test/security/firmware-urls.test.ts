/**
 * Security: hosted firmware is served only on a valid signed URL. Expired, tampered, unsigned,
 * replayed for another file or another fleet, or aimed elsewhere by path traversal: 403 or 404,
 * and never a byte of any package.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Firmware } from '../../src/fleet';
import { urlSignature } from '../../src/fleet/url-signing';
import {
  assertNoStackTrace,
  deploy,
  Deployed,
  fleetConfig,
  fleetSuite,
  HttpAnswer,
  httpRequest,
  platformFlow,
  signedUrl,
} from '../helpers/fleet-red';
import { printFigures } from '../helpers/fuzz-run';
import { fleetById } from '../../src/nodes/registry';

helper.init(require.resolve('node-red'));

const HOUR = 3600_000;
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 20;

describe('security: signed firmware URLs', function () {
  this.timeout(60_000);
  const suite = fleetSuite('urls');
  const packages = { a: randomBytes(64 * 1024), b: randomBytes(48 * 1024) };
  let d: Deployed;
  let fwA: Firmware;
  let fwB: Firmware;
  let otherFleet: string;
  let tried = 0;

  async function upload(version: string, bytes: Buffer): Promise<Firmware> {
    const answer = await httpRequest(
      `${suite.adminUrl}/ota/fleets/${d.platform.fleet.id}/firmware?productKey=pk1&version=${version}`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: bytes,
      },
    );
    should(answer.status).equal(201);
    return JSON.parse(answer.body.toString()) as Firmware;
  }

  /** Refused: 403 or 404, no package bytes, not served as a file, no stack trace. */
  function assertRefused(answer: HttpAnswer, url: string, statuses = [403, 404]): void {
    tried++;
    should(statuses).containEql(answer.status);
    should(String(answer.headers['content-type'] ?? '')).not.match(/octet-stream/, url);
    should(answer.headers['content-disposition']).be.undefined();
    for (const bytes of Object.values(packages)) {
      should(answer.body.includes(bytes.subarray(0, 32))).be.false(`${url} sent package bytes`);
      should(answer.body.includes(bytes.subarray(bytes.length - 32))).be.false(`${url} sent package bytes`);
    }
    assertNoStackTrace(answer.body.toString('latin1'));
  }

  const get = (url: string, options: Parameters<typeof httpRequest>[1] = {}) => httpRequest(url, options);
  const parts = (url: string) => {
    const u = new URL(url);
    return {
      path: u.pathname,
      e: u.searchParams.get('e') as string,
      s: u.searchParams.get('s') as string,
      origin: u.origin,
    };
  };

  beforeEach(async function () {
    const platform = platformFlow(suite, { fleetProps: { requireVerification: false } });
    const second = fleetConfig(suite, { name: 'another fleet' });
    platform.flow.push({ ...second, z: platform.flow[0].id });
    d = await deploy(platform);
    otherFleet = second.id;
    should.exist(fleetById(otherFleet));
    fwA = await upload('1.0.0', packages.a);
    fwB = await upload('2.0.0', packages.b);
  });

  it('a valid signed URL serves the exact package (so the refusals below are refusals)', async function () {
    const answer = await get(signedUrl(d.handle, fwA));
    should(answer.status).equal(200);
    should(answer.body.equals(packages.a)).be.true();
  });

  it('an expired URL gets 403 and no bytes, however recently it expired', async function () {
    for (const age of [25 * HOUR, 24 * HOUR + 2000, 365 * 24 * HOUR]) {
      const url = signedUrl(d.handle, fwA, Date.now() - age);
      const answer = await get(url);
      assertRefused(answer, url, [403]);
      should(JSON.parse(answer.body.toString()).error).match(/expired/);
    }
  });

  it('a URL with any one character of its signature changed gets 403 and no bytes', async function () {
    const url = signedUrl(d.handle, fwA);
    const { path, e, s, origin } = parts(url);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    await fc.assert(
      fc.asyncProperty(fc.nat(s.length - 1), fc.constantFrom(...alphabet), async (at, c) => {
        fc.pre(s[at] !== c);
        const forged = `${origin}${path}?e=${e}&s=${s.slice(0, at)}${c}${s.slice(at + 1)}`;
        assertRefused(await get(forged), forged, [403]);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('a URL stretched in time, unsigned, or with its parameters doubled or mangled gets 403 and no bytes', async function () {
    const { path, e, s, origin } = parts(signedUrl(d.handle, fwA));
    const later = String(Number(e) + 365 * 24 * 3600);
    const forged = [
      `${path}?e=${later}&s=${s}`,
      `${path}?e=${Number(e) + 1}&s=${s}`,
      `${path}?e=${e}`,
      `${path}?s=${s}`,
      path,
      `${path}?e=${e}&s=`,
      `${path}?e=&s=${s}`,
      `${path}?e=${e}&s=${s}&s=${s}`,
      `${path}?e=${e}&e=${later}&s=${s}`,
      `${path}?e[0]=${e}&s=${s}`,
      `${path}?e=${e}&s[x]=${s}`,
      `${path}?e=${e}&s=${s}=`,
      `${path}?e=${e}&s=${s.toUpperCase()}`,
      `${path}?e=${e}.0&s=${s}`,
      `${path}?e=${e}&s=${encodeURIComponent(Buffer.from(s, 'base64url').toString('base64'))}`,
      `${path}?e=-1&s=${s}`,
      `${path}?e=${e}&s=${s}&e=${later}`,
    ];
    for (const f of forged) assertRefused(await get(origin + f), f, [403]);
    // (A leading zero, e=0<expiry>, names the same instant and is served: nothing is stretched.)
    // HEAD and Range on a forged URL: nothing either.
    const head = await get(`${origin}${path}?e=${later}&s=${s}`, { method: 'HEAD' });
    assertRefused(head, 'HEAD', [403]);
    assertRefused(
      await get(`${origin}${path}?e=${later}&s=${s}`, { headers: { Range: 'bytes=0-99' } }),
      'Range',
      [403],
    );
  });

  it('a URL replayed for another package, or another fleet, gets 403 and no bytes', async function () {
    const a = parts(signedUrl(d.handle, fwA));
    const replays = [
      `${a.origin}/ota/firmware/${d.platform.fleet.id}/${fwB.id}?e=${a.e}&s=${a.s}`,
      `${a.origin}/ota/firmware/${otherFleet}/${fwA.id}?e=${a.e}&s=${a.s}`,
      `${a.origin}/ota/firmware/${otherFleet}/${fwB.id}?e=${a.e}&s=${a.s}`,
    ];
    for (const url of replays) assertRefused(await get(url), url, [403]);
    // The other fleet's own signature for the same path does not open this fleet's package either.
    const other = fleetById(otherFleet)!;
    const signedThere = `${a.origin}/ota/firmware/${d.platform.fleet.id}/${fwA.id}?e=${a.e}&s=${urlSignature(other.secret, { fleet: d.platform.fleet.id, firmware: fwA.id, expires: Number(a.e) })}`;
    assertRefused(await get(signedThere), signedThere, [403]);
  });

  it('path traversal (../, %2e%2e, %2f, absolute paths, NUL, long names) gets 403 or 404 and no bytes, even when signed with the real secret', async function () {
    const { e, s, origin } = parts(signedUrl(d.handle, fwA));
    const fleet = d.platform.fleet.id;
    const base = `${origin}/ota/firmware`;
    const names = [
      '..',
      '.',
      '..%2F..%2Ffleet.sqlite',
      '%2e%2e%2f%2e%2e%2fsettings.js',
      '%2e%2e',
      '%2Fetc%2Fpasswd',
      `${fwA.id}%00`,
      `${fwA.id}%00.bin`,
      `..%5C..%5Cfleet.sqlite`,
      `${fwA.sha256}`,
      `firmware%2F${fwA.sha256}`,
      'a'.repeat(4000),
    ];
    for (const name of names) {
      for (const url of [
        `${base}/${fleet}/${name}?e=${e}&s=${s}`,
        `${base}/${encodeURIComponent('..')}/${name}?e=${e}&s=${s}`,
      ])
        assertRefused(await get(url), url);
      // Signed with the fleet's real secret (as if it had leaked): still nothing but the catalog's own packages.
      const firmware = decodeURIComponent(name);
      const signed = `${base}/${fleet}/${name}?e=${e}&s=${urlSignature(d.handle.secret, { fleet, firmware, expires: Number(e) })}`;
      assertRefused(await get(signed), signed);
    }
    for (const raw of [
      `/ota/firmware/${fleet}/../../fleet.sqlite`,
      `/ota/firmware/${fleet}/${fwA.id}/../../../etc/passwd`,
      `/ota/firmware/../ota/${fleet}/fleet.sqlite`,
      '/ota/firmware/%2e%2e/%2e%2e/fleet.sqlite',
    ]) {
      assertRefused(await get(`${origin}${raw}?e=${e}&s=${s}`), raw);
    }
    for (const method of ['POST', 'PUT', 'DELETE'])
      assertRefused(await get(signedUrl(d.handle, fwA), { method }), method, [404, 405]);
    printFigures('firmware URLs', { refusedRequests: tried, signatureMutations: 300, seed: SEED, bytesLeaked: 0 });
  });

  // Found by this suite (Express answered with its HTML page and the URIError's stack) and fixed.
  it('a path that is not valid percent-encoding (overlong UTF-8 dots) gets 403 or 404 without a stack trace', async function () {
    const { e, s, origin } = parts(signedUrl(d.handle, fwA));
    for (const name of ['%c0%ae%c0%ae', '%c0%ae%c0%ae%c0%afsettings.js', '%E0%A4%A', '%ZZ']) {
      const url = `${origin}/ota/firmware/${d.platform.fleet.id}/${name}?e=${e}&s=${s}`;
      assertRefused(await get(url), url);
    }
  });
});
