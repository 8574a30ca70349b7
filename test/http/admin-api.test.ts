/**
 * The admin HTTP API (README: Admin API) over real HTTP, route by route: answers, refusals with
 * `{error}` and the right status, and never a stack trace.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Response } from 'supertest';
import { checkPackageSignature, readPrivateKey, readPublicKey, signPackageDigest } from '../../src/protocol';
import {
  assertNoStackTrace,
  Deployed,
  deploy,
  feed,
  fleetSuite,
  httpRequest,
  platformFlow,
  reportVersions,
  t1,
  t3,
} from '../helpers/fleet-red';

helper.init(require.resolve('node-red'));

const PACKAGE = Buffer.from('firmware 2.0.0 of pk1: '.padEnd(4000, '#'));
const EMPTY_COUNTS = { CONFIRM: 0, QUEUED: 0, NOTIFIED: 0, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 };

interface Answer {
  status: number;
  body: unknown;
  text: string;
  /** The X-Next-After header: the cursor of the next page. */
  next?: string;
}

/** Every answer is checked for stack traces on the way. */
function answer(res: Response): Answer {
  assertNoStackTrace(res.text ?? '');
  const next = res.headers['x-next-after'] as string | undefined;
  return { status: res.status, body: res.body, text: res.text, ...(next === undefined ? {} : { next }) };
}

/** Every page of a list by cursor, from `path` (which has a query already), `limit` rows each. */
async function pagesOf(path: string, limit: number): Promise<{ pages: unknown[][]; lastNext?: string }> {
  const pages: unknown[][] = [];
  let after = '';
  for (;;) {
    const res = await api.get(`${path}&limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    should(res.status).equal(200);
    pages.push(res.body as unknown[]);
    if (res.next === undefined) return { pages };
    after = res.next;
  }
}

const api = {
  get: async (path: string) => answer(await helper.request().get(path)),
  post: async (path: string, body?: object | string) => {
    const req = helper.request().post(path);
    if (typeof body === 'string') return answer(await req.set('Content-Type', 'application/json').send(body));
    return answer(await (body === undefined ? req : req.send(body)));
  },
  put: async (path: string, body: object) => answer(await helper.request().put(path).send(body)),
  delete: async (path: string) => answer(await helper.request().delete(path)),
  upload: async (path: string, bytes: Buffer) =>
    answer(await helper.request().post(path).set('Content-Type', 'application/octet-stream').send(bytes)),
};

function digests(bytes: Buffer) {
  return {
    size: bytes.length,
    md5: createHash('md5').update(bytes).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

describe('admin API', function () {
  const suite = fleetSuite('admin');
  let d: Deployed;
  let base: string;

  async function deployFleet(fleetProps: Record<string, unknown> = {}): Promise<void> {
    d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false, ...fleetProps } }));
    base = `/ota/fleets/${d.platform.fleet.id}`;
  }

  async function uploaded(
    version = '2.0.0',
    bytes = PACKAGE,
  ): Promise<Record<string, unknown> & { id: string; sha256: string }> {
    const res = await api.upload(`${base}/firmware?productKey=pk1&version=${version}`, bytes);
    should(res.status).equal(201);
    return res.body as Record<string, unknown> & { id: string; sha256: string };
  }

  /** dev1..devN at 1.0.0, 2.0.0 uploaded, and a static batch to all of them created through the API. */
  async function batchOf(names: string[], strategy: Record<string, unknown> = {}) {
    await reportVersions(d, 'pk1', names, '1.0.0');
    const firmware = await uploaded();
    const res = await api.post(`${base}/batches`, {
      firmwareId: firmware.id,
      type: 'static',
      targets: { selection: 'ALL' },
      strategy,
    });
    should(res.status).equal(201);
    return { firmware, batch: res.body as { id: number } & Record<string, unknown> };
  }

  describe('fleets', function () {
    it('GET /ota/fleets lists the deployed fleets', async function () {
      await deployFleet({ name: 'lab' });
      const res = await api.get('/ota/fleets');
      should(res).match({
        status: 200,
        body: [{ id: d.platform.fleet.id, name: 'lab', publicKey: null, requireVerification: false }],
      });
      should(res.body).have.length(1);
    });

    it('an unknown fleet is a 404 that says where to look', async function () {
      await deployFleet();
      for (const path of [
        '/ota/fleets/nope/devices',
        '/ota/fleets/nope/versions',
        '/ota/fleets/nope/firmware',
        '/ota/fleets/nope/batches',
      ]) {
        const res = await api.get(path);
        should({ status: res.status, body: res.body }).eql({
          status: 404,
          body: { error: 'no deployed ota-fleet has id "nope" (GET …/ota/fleets lists them)' },
        });
      }
    });
  });

  describe('devices and versions', function () {
    beforeEach(async function () {
      await deployFleet();
      await reportVersions(d, 'pk1', ['dev1', 'dev2'], '1.0.0');
      await reportVersions(d, 'pk1', ['dev3'], '1.1.0');
      await reportVersions(d, 'pk2', ['sensor1'], '1.0.0');
      feed(d.platform.inform, t1('pk1', 'dev1', '9', 'MCU'));
      await d.informed.next();
    });

    const names = (res: Answer) =>
      (res.body as { productKey: string; deviceName: string; module: string }[]).map(
        (x) => `${x.productKey}/${x.deviceName}/${x.module}`,
      );

    it('GET devices lists every device module with its version and times', async function () {
      const res = await api.get(`${base}/devices`);
      should(res.status).equal(200);
      should(names(res)).eql([
        'pk1/dev1/MCU',
        'pk1/dev1/default',
        'pk1/dev2/default',
        'pk1/dev3/default',
        'pk2/sensor1/default',
      ]);
      should((res.body as object[])[0]).have.keys(
        'productKey',
        'deviceName',
        'module',
        'version',
        'firstSeen',
        'lastSeen',
      );
    });

    it('GET devices filters by productKey, module, version and name, and pages', async function () {
      should(names(await api.get(`${base}/devices?productKey=pk2`))).eql(['pk2/sensor1/default']);
      should(names(await api.get(`${base}/devices?module=MCU`))).eql(['pk1/dev1/MCU']);
      should(names(await api.get(`${base}/devices?productKey=pk1&version=1.0.0`))).eql([
        'pk1/dev1/default',
        'pk1/dev2/default',
      ]);
      should(names(await api.get(`${base}/devices?search=sens`))).eql(['pk2/sensor1/default']);
      should(names(await api.get(`${base}/devices?limit=2&offset=1`))).eql(['pk1/dev1/default', 'pk1/dev2/default']);
    });

    it('GET devices pages by cursor: each full page gives the next one in X-Next-After, the last none', async function () {
      const { pages } = await pagesOf(`${base}/devices?productKey=pk1`, 2);
      should(pages.map((p) => names({ status: 200, body: p, text: '' }))).eql([
        ['pk1/dev1/MCU', 'pk1/dev1/default'],
        ['pk1/dev2/default', 'pk1/dev3/default'],
        [],
      ]);
      const all = await pagesOf(`${base}/devices?search=dev`, 10);
      should(all.pages.length).equal(1);
    });

    it('GET devices refuses an after that is not a cursor it gave, saying what it must be', async function () {
      for (const bad of ['pk1/dev1', Buffer.from('["pk1","dev1"]').toString('base64url'), 'not%20a%20cursor']) {
        const res = await api.get(`${base}/devices?after=${bad}`);
        should({ status: res.status, body: res.body }).eql({
          status: 400,
          body: {
            error: `after must be a device cursor (the X-Next-After of the previous page), got "${decodeURIComponent(bad)}"`,
          },
        });
      }
    });

    it('GET devices refuses a limit that is not an integer', async function () {
      const res = await api.get(`${base}/devices?limit=many`);
      should({ status: res.status, body: res.body }).eql({
        status: 400,
        body: { error: 'limit must be an integer from 0 to 100000, got "many"' },
      });
    });

    it('GET one device gives its modules, tags and tasks', async function () {
      const res = await api.get(`${base}/devices/pk1/dev1`);
      should(res.status).equal(200);
      const body = res.body as { modules: { module: string; version: string }[] };
      should({ ...body, modules: body.modules.map((m) => [m.module, m.version]) }).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        modules: [
          ['MCU', '9'],
          ['default', '1.0.0'],
        ],
        tags: [],
        tasks: [],
      });
    });

    it('GET a device that never reported is a 404', async function () {
      const res = await api.get(`${base}/devices/pk1/ghost`);
      should({ status: res.status, body: res.body }).eql({
        status: 404,
        body: { error: 'pk1/ghost has never reported and has no task' },
      });
    });

    it('PUT tags replaces the tags of a device', async function () {
      should(await api.put(`${base}/devices/pk1/dev2/tags`, { tags: ['beta', 'lab'] })).match({
        status: 200,
        body: { productKey: 'pk1', deviceName: 'dev2', tags: ['beta', 'lab'] },
      });
      should(await api.put(`${base}/devices/pk1/dev2/tags`, { tags: ['lab'] })).match({ status: 200 });
      should(((await api.get(`${base}/devices/pk1/dev2`)).body as { tags: string[] }).tags).eql(['lab']);
    });

    it('PUT tags refuses anything but an array of names', async function () {
      const res = await api.put(`${base}/devices/pk1/dev2/tags`, { tags: 'beta' });
      should({ status: res.status, body: res.body }).eql({
        status: 400,
        body: { error: 'tags must be an array of tag names (1 to 64 characters each), got "beta"' },
      });
    });

    it('GET versions gives the version distribution, per product when asked', async function () {
      should((await api.get(`${base}/versions`)).body).eql([
        { productKey: 'pk1', module: 'MCU', version: '9', count: 1 },
        { productKey: 'pk1', module: 'default', version: '1.0.0', count: 2 },
        { productKey: 'pk1', module: 'default', version: '1.1.0', count: 1 },
        { productKey: 'pk2', module: 'default', version: '1.0.0', count: 1 },
      ]);
      should((await api.get(`${base}/versions?productKey=pk2`)).body).eql([
        { productKey: 'pk2', module: 'default', version: '1.0.0', count: 1 },
      ]);
    });
  });

  describe('firmware', function () {
    it('POST firmware with raw bytes answers 201 and the record with the digests node:crypto computes', async function () {
      await deployFleet({ requireVerification: true });
      const before = Date.now();
      const res = await api.upload(`${base}/firmware?productKey=pk1&module=MCU&version=2.0.0`, PACKAGE);
      should(res.status).equal(201);
      const record = res.body as Record<string, unknown>;
      should(record.createdAt).be.within(before, Date.now());
      should(record).eql({
        id: record.id,
        productKey: 'pk1',
        module: 'MCU',
        version: '2.0.0',
        ...digests(PACKAGE),
        signMethod: 'Md5',
        hosted: true,
        isDiff: false,
        streamId: record.streamId,
        verification: 'unverified',
        sequence: 1,
        createdAt: record.createdAt,
      });
      should(record.id).match(/^[0-9a-f]{12}$/);
      should(record.streamId).be.a.Number().and.above(0);
      should((await api.get(`${base}/firmware`)).body).eql([record]);
      should((await api.get(`${base}/firmware/${record.id}`)).body).eql(record);
      should(
        existsSync(join(suite.userDir, 'ota', d.platform.fleet.id, 'firmware', digests(PACKAGE).sha256)),
      ).be.true();
    });

    it('POST firmware with signMethod SHA256 records it', async function () {
      await deployFleet();
      const res = await api.upload(`${base}/firmware?productKey=pk1&version=2.0.0&signMethod=sha256`, PACKAGE);
      should(res).match({
        status: 201,
        body: { signMethod: 'SHA256', verification: 'not-required', ...digests(PACKAGE) },
      });
    });

    it('POST the same version with the same bytes again gives the same record', async function () {
      await deployFleet();
      const first = await uploaded();
      const again = await api.upload(`${base}/firmware?productKey=pk1&version=2.0.0`, PACKAGE);
      should(again.body).eql(first);
      should((await api.get(`${base}/firmware`)).body).have.length(1);
    });

    it('POST the same version with other bytes is a 409 that says what to do, and keeps no file', async function () {
      await deployFleet();
      const first = await uploaded();
      const res = await api.upload(`${base}/firmware?productKey=pk1&version=2.0.0`, Buffer.from('other bytes'));
      should({ status: res.status, body: res.body }).eql({
        status: 409,
        body: {
          error: `version 2.0.0 of pk1/default already exists (firmware ${first.id}) with different bytes; give the new package a new version, or delete the old firmware first`,
        },
      });
      should(readdirSync(join(suite.userDir, 'ota', d.platform.fleet.id, 'firmware'))).eql([first.sha256]);
    });

    it('POST an empty package is refused', async function () {
      await deployFleet();
      const res = await api.upload(`${base}/firmware?productKey=pk1&version=2.0.0`, Buffer.alloc(0));
      should({ status: res.status, body: res.body }).eql({ status: 422, body: { error: 'the package is empty' } });
      should((await api.get(`${base}/firmware`)).body).eql([]);
    });

    it("POST a package over the fleet's maxPackageMB is refused with the limit", async function () {
      await deployFleet({ maxPackageMB: 1 });
      const res = await httpRequest(`${suite.adminUrl}${base}/firmware?productKey=pk1&version=2.0.0`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': 2 * 1048576 },
        body: Buffer.alloc(2 * 1048576, 7),
      });
      assertNoStackTrace(res.body.toString());
      should({ status: res.status, body: JSON.parse(res.body.toString()) }).eql({
        status: 422,
        body: { error: "the package is 2097152 bytes, over the fleet's limit of 1048576" },
      });
      should((await api.get(`${base}/firmware`)).body).eql([]);
    });

    it('POST a package streamed without a length is refused once it passes maxPackageMB, and leaves no file', async function () {
      await deployFleet({ maxPackageMB: 1 });
      async function* chunks() {
        for (let i = 0; i < 32; i++) yield Buffer.alloc(64 * 1024, i);
      }
      const res = await httpRequest(`${suite.adminUrl}${base}/firmware?productKey=pk1&version=2.0.0`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: chunks(),
      });
      should({ status: res.status, body: JSON.parse(res.body.toString()) }).eql({
        status: 422,
        body: { error: 'the package is larger than the limit of 1048576 bytes (1 MB)' },
      });
      should(readdirSync(join(suite.userDir, 'ota', d.platform.fleet.id, 'firmware'))).eql([]);
    });

    it('POST firmware sent as a form (curl --data-binary) is refused with how to send it', async function () {
      await deployFleet();
      const res = answer(
        await helper
          .request()
          .post(`${base}/firmware?productKey=pk1&version=2.0.0`)
          .set('Content-Type', 'application/x-www-form-urlencoded')
          .send(Buffer.from('FW-2.0.0-binary')),
      );
      should([400, 415]).containEql(res.status);
      should((res.body as { error: string }).error).match(/application\/octet-stream/);
    });

    it('POST firmware refuses a bad signMethod or a missing version, naming the field', async function () {
      await deployFleet();
      const bad = await api.upload(`${base}/firmware?productKey=pk1&version=2.0.0&signMethod=SHA1`, PACKAGE);
      should({ status: bad.status, body: bad.body }).eql({
        status: 400,
        body: { error: 'signMethod must be "Md5" or "SHA256", got "SHA1"' },
      });
      const missing = await api.upload(`${base}/firmware?productKey=pk1`, PACKAGE);
      should({ status: missing.status, body: missing.body }).eql({
        status: 400,
        body: { error: 'version is required: a non-empty string of up to 64 printable characters' },
      });
      should((await api.get(`${base}/firmware`)).body).eql([]);
    });

    it('GET an unknown firmware is a 404', async function () {
      await deployFleet();
      const res = await api.get(`${base}/firmware/0123456789ab`);
      should({ status: res.status, body: res.body }).eql({
        status: 404,
        body: { error: 'no firmware "0123456789ab" in fleet "test fleet"' },
      });
    });

    it('DELETE a firmware used by an open batch is a 409', async function () {
      await deployFleet();
      const { firmware } = await batchOf(['dev1']);
      const res = await api.delete(`${base}/firmware/${firmware.id}`);
      should({ status: res.status, body: res.body }).eql({
        status: 409,
        body: { error: `firmware ${firmware.id} is used by 1 running batch(es); cancel them first` },
      });
    });

    it('DELETE a firmware a finished batch used is a 409 too: the history needs it', async function () {
      await deployFleet();
      const { firmware, batch } = await batchOf(['dev1']);
      should((await api.post(`${base}/batches/${batch.id}/cancel`)).status).equal(200);
      const res = await api.delete(`${base}/firmware/${firmware.id}`);
      should({ status: res.status, body: res.body }).eql({
        status: 409,
        body: { error: `firmware ${firmware.id} is referenced by finished batches, whose history needs it` },
      });
    });

    it('DELETE an unused firmware answers its record and removes its file', async function () {
      await deployFleet();
      const firmware = await uploaded();
      const file = join(suite.userDir, 'ota', d.platform.fleet.id, 'firmware', firmware.sha256);
      should(existsSync(file)).be.true();
      const res = await api.delete(`${base}/firmware/${firmware.id}`);
      should({ status: res.status, body: res.body }).eql({ status: 200, body: firmware });
      should(existsSync(file)).be.false();
      should((await api.get(`${base}/firmware`)).body).eql([]);
      should((await api.delete(`${base}/firmware/${firmware.id}`)).status).equal(404);
    });
  });

  describe('batches', function () {
    it('POST batches answers 201 and the batch with its settings and counts', async function () {
      await deployFleet();
      const { firmware, batch } = await batchOf(['dev1', 'dev2'], { retryCount: 2 });
      should(batch).eql({
        id: batch.id,
        firmwareId: firmware.id,
        type: 'static',
        state: 'IN_PROGRESS',
        targets: { selection: 'ALL', productKey: 'pk1' },
        strategy: {
          retryInterval: 0,
          retryCount: 2,
          overwrite: 'keep',
          needConfirm: false,
          downloadProtocol: 'https',
          waveSuccessPercent: 100,
        },
        wave: 0,
        direct: false,
        allowUnverified: false,
        createdAt: batch.createdAt,
        updatedAt: batch.createdAt,
        counts: { ...EMPTY_COUNTS, QUEUED: 2 },
      });
    });

    it('GET batches lists them and GET one gives it with live counts', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1', 'dev2']);
      await d.sent.next();
      await d.sent.next();
      const list = (await api.get(`${base}/batches`)).body as Record<string, unknown>[];
      should(list.map((b) => [b.id, b.state, b.counts])).eql([
        [batch.id, 'IN_PROGRESS', { ...EMPTY_COUNTS, NOTIFIED: 2 }],
      ]);
      const one = await api.get(`${base}/batches/${batch.id}`);
      should(one.status).equal(200);
      should(one.body).eql(list[0]);
    });

    it('GET tasks lists a batch’s tasks, filtered by state', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1', 'dev2']);
      await d.sent.next();
      await d.sent.next();
      feed(d.platform.progress, t3('pk1', 'dev2', 20));
      await d.progressed.next();
      const all = (await api.get(`${base}/batches/${batch.id}/tasks`)).body as Record<string, unknown>[];
      should(all.map((t) => [t.deviceName, t.state, t.step, t.attempts])).eql([
        ['dev1', 'NOTIFIED', null, 1],
        ['dev2', 'IN_PROGRESS', 20, 1],
      ]);
      const running = (await api.get(`${base}/batches/${batch.id}/tasks?state=IN_PROGRESS`)).body as Record<
        string,
        unknown
      >[];
      should(running.map((t) => t.deviceName)).eql(['dev2']);
      const transitions = (await api.get(`${base}/batches/${batch.id}/transitions`)).body as Record<string, unknown>[];
      should(transitions.map((t) => [t.deviceName, t.from, t.to]).sort()).eql([
        ['dev1', 'QUEUED', 'NOTIFIED'],
        ['dev2', 'NOTIFIED', 'IN_PROGRESS'],
        ['dev2', 'QUEUED', 'NOTIFIED'],
      ]);
    });

    it('GET tasks pages by cursor, all of them or those of one state, each task once', async function () {
      await deployFleet();
      const names = ['dev1', 'dev2', 'dev3', 'dev4', 'dev5'];
      const { batch } = await batchOf(names, { maximumPerMinute: 1 });
      const path = `${base}/batches/${batch.id}/tasks`;
      const { pages } = await pagesOf(`${path}?`, 2);
      should(pages.map((p) => p.length)).eql([2, 2, 1]);
      const tasks = pages.flat() as { id: number; deviceName: string; state: string }[];
      should(tasks.map((t) => t.deviceName)).eql(names);
      should(tasks.map((t) => t.id)).eql([...tasks.map((t) => t.id)].sort((a, b) => a - b));
      const queued = (await pagesOf(`${path}?state=QUEUED`, 1)).pages.flat() as { deviceName: string }[];
      should(queued.map((t) => t.deviceName)).eql(tasks.filter((t) => t.state === 'QUEUED').map((t) => t.deviceName));
      const after = (await api.get(`${path}?after=${tasks[2].id}`)).body as { deviceName: string }[];
      should(after.map((t) => t.deviceName)).eql(['dev4', 'dev5']);
    });

    it('GET tasks of a rare state reads a bounded part of the batch: a short page, even empty, gives the next one in X-Next-After', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1'], { maximumPerMinute: 1 });
      // 60,000 more tasks written into the fleet's file (an operator's sqlite3): one failed, deep in the batch.
      const db = new Database(join(suite.userDir, 'ota', d.platform.fleet.id, 'fleet.sqlite'));
      try {
        const insert = db.prepare(
          `INSERT INTO tasks (batch_id, product_key, device_name, module, src_version, state, reason, step, attempts,
             retries, wave, due_at, started_at, created_at, updated_at) VALUES (?, 'pk1', ?, 'default', '1.0.0', ?, NULL, NULL, 1, 0, 0, NULL, NULL, 1, 1)`,
        );
        db.transaction(() => {
          for (let i = 0; i < 60_000; i++) insert.run(batch.id, `x${i}`, i === 55_555 ? 'FAILED' : 'SUCCEEDED');
        })();
      } finally {
        db.close();
      }
      const { pages } = await pagesOf(`${base}/batches/${batch.id}/tasks?state=FAILED`, 10);
      should(pages.map((p) => (p as { deviceName: string }[]).map((t) => t.deviceName))).eql([[], ['x55555']]);
    });

    it('GET tasks refuses an after that is not a task id, saying what it must be', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1']);
      for (const bad of ['abc', '-1', '1.5']) {
        const res = await api.get(`${base}/batches/${batch.id}/tasks?after=${bad}`);
        should({ status: res.status, body: res.body }).eql({
          status: 400,
          body: { error: `after must be a task id (the X-Next-After of the previous page), got "${bad}"` },
        });
      }
    });

    it('GET tasks refuses an unknown state, naming the states', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1']);
      const res = await api.get(`${base}/batches/${batch.id}/tasks?state=DONE`);
      should({ status: res.status, body: res.body }).eql({
        status: 400,
        body: {
          error: 'state must be one of CONFIRM, QUEUED, NOTIFIED, IN_PROGRESS, SUCCEEDED, FAILED, CANCELED, got "DONE"',
        },
      });
    });

    it('POST batches is refused by the verification gate with 422 and what to do', async function () {
      await deployFleet({ requireVerification: true });
      await reportVersions(d, 'pk1', ['dev1'], '1.0.0');
      const firmware = await uploaded();
      const res = await api.post(`${base}/batches`, {
        firmwareId: firmware.id,
        type: 'static',
        targets: { selection: 'ALL' },
      });
      should(res.status).equal(422);
      should((res.body as { error: string }).error).match(/is unverified: verify it on up to 10 test devices first/);
    });

    it('POST batches refuses a bad request naming the field', async function () {
      await deployFleet();
      const firmware = await uploaded();
      const res = await api.post(`${base}/batches`, {
        firmwareId: firmware.id,
        type: 'rolling',
        targets: { selection: 'ALL' },
      });
      should({ status: res.status, body: res.body }).eql({
        status: 400,
        body: { error: 'type must be one of "verify", "static", "dynamic", got "rolling"' },
      });
    });

    it('POST batches with an unknown firmware is a 404', async function () {
      await deployFleet();
      const res = await api.post(`${base}/batches`, {
        firmwareId: 'feedfeedfeed',
        type: 'static',
        targets: { selection: 'ALL', productKey: 'pk1' },
      });
      should({ status: res.status, body: res.body }).eql({
        status: 404,
        body: { error: 'no firmware "feedfeedfeed" in fleet "test fleet"' },
      });
    });

    it('POST batches with malformed JSON is a 400 {error}, with no stack trace', async function () {
      await deployFleet();
      const res = await api.post(`${base}/batches`, '{"firmwareId": ');
      should({ status: res.status, body: res.body }).eql({
        status: 400,
        body: { error: 'the request body is not valid JSON' },
      });
    });

    it('an unknown batch is a 404, a batch id that is not a number a 400', async function () {
      await deployFleet();
      const missing = await api.get(`${base}/batches/999`);
      should({ status: missing.status, body: missing.body }).eql({
        status: 404,
        body: { error: 'no batch 999 in fleet "test fleet"' },
      });
      const tasks = await api.get(`${base}/batches/999/tasks`);
      should({ status: tasks.status, body: tasks.body }).eql({
        status: 404,
        body: { error: 'no batch 999 in fleet "test fleet"' },
      });
      const bad = await api.get(`${base}/batches/abc`);
      should({ status: bad.status, body: bad.body }).eql({
        status: 400,
        body: { error: 'batch id must be a positive integer, got "abc"' },
      });
      const control = await api.post(`${base}/batches/999/pause`);
      should({ status: control.status, body: control.body }).eql({
        status: 404,
        body: { error: 'no batch 999 in fleet "test fleet"' },
      });
    });

    it('POST pause and resume change the batch state and answer the batch', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1']);
      should(await api.post(`${base}/batches/${batch.id}/pause`)).match({
        status: 200,
        body: { id: batch.id, state: 'PAUSED', reason: 'paused by a user' },
      });
      const again = await api.post(`${base}/batches/${batch.id}/pause`);
      should({ status: again.status, body: again.body }).eql({
        status: 422,
        body: { error: `batch ${batch.id}: a PAUSED batch cannot pause (it can: resume, complete, cancel, abort)` },
      });
      should(await api.post(`${base}/batches/${batch.id}/resume`)).match({
        status: 200,
        body: { id: batch.id, state: 'IN_PROGRESS' },
      });
    });

    it('POST cancel ends the batch; with states only those tasks are canceled', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1', 'dev2']);
      await d.sent.next();
      await d.sent.next();
      feed(d.platform.progress, t3('pk1', 'dev2', 10));
      await d.progressed.next();
      const partial = await api.post(`${base}/batches/${batch.id}/cancel`, { states: ['NOTIFIED'] });
      should(partial).match({
        status: 200,
        body: { state: 'IN_PROGRESS', counts: { ...EMPTY_COUNTS, IN_PROGRESS: 1, CANCELED: 1 } },
      });
      const whole = await api.post(`${base}/batches/${batch.id}/cancel`);
      should(whole).match({
        status: 200,
        body: { state: 'CANCELED', reason: 'canceled by a user', counts: { ...EMPTY_COUNTS, CANCELED: 2 } },
      });
    });

    it('POST confirm releases CONFIRM tasks, for the whole batch or the listed devices', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1', 'dev2', 'dev3'], { needConfirm: true });
      should(batch.counts).eql({ ...EMPTY_COUNTS, CONFIRM: 3 });
      should(await api.post(`${base}/batches/${batch.id}/confirm`, { devices: ['dev1'] })).match({ status: 200 });
      should((await d.sent.next()).deviceName).equal('dev1');
      should(await api.post(`${base}/batches/${batch.id}/tasks/pk1/dev3/confirm`)).match({ status: 200 });
      should((await d.sent.next()).deviceName).equal('dev3');
      should((await api.get(`${base}/batches/${batch.id}`)).body).match({
        counts: { ...EMPTY_COUNTS, CONFIRM: 1, NOTIFIED: 2 },
      });
      should(await api.post(`${base}/batches/${batch.id}/confirm`)).match({ status: 200 });
      should((await d.sent.next()).deviceName).equal('dev2');
    });

    it('POST an unknown action is a 404 that lists the actions', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1']);
      const res = await api.post(`${base}/batches/${batch.id}/restart`);
      should({ status: res.status, body: res.body }).eql({
        status: 404,
        body: { error: 'unknown action "restart": use cancel, pause, resume, confirm or reupgrade' },
      });
    });

    it('POST task reupgrade queues a failed task again and pushes it', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1', 'dev2']);
      await d.sent.next();
      await d.sent.next();
      feed(d.platform.progress, t3('pk1', 'dev1', -4, 'flash full'));
      await d.progressed.next();
      const failed = (await api.get(`${base}/batches/${batch.id}/tasks?state=FAILED`)).body as Record<
        string,
        unknown
      >[];
      should(failed.map((t) => [t.deviceName, t.reason])).eql([
        ['dev1', 'step -4 (flash write (burn) failed): flash full'],
      ]);
      const res = await api.post(`${base}/batches/${batch.id}/tasks/pk1/dev1/reupgrade`);
      should(res.status).equal(200);
      const again = await d.sent.next();
      should([again.topic, again.batchId]).eql(['/ota/device/upgrade/pk1/dev1', batch.id]);
      should((await api.get(`${base}/batches/${batch.id}`)).body).match({ counts: { ...EMPTY_COUNTS, NOTIFIED: 2 } });
    });

    it('POST task reupgrade of a device not in the batch is a 404', async function () {
      await deployFleet();
      const { batch } = await batchOf(['dev1']);
      const res = await api.post(`${base}/batches/${batch.id}/tasks/pk1/stranger/reupgrade`);
      should({ status: res.status, body: res.body }).eql({
        status: 404,
        body: { error: `pk1/stranger is not in batch ${batch.id}` },
      });
    });
  });

  describe('keys', function () {
    it('POST /ota/keys answers an Ed25519 key pair that signs and verifies package digests', async function () {
      await deployFleet();
      const res = await api.post('/ota/keys');
      should(res.status).equal(200);
      const { publicKey, privateKey } = res.body as { publicKey: string; privateKey: string };
      should(Object.keys(res.body as object).sort()).eql(['privateKey', 'publicKey']);
      const sha256 = digests(PACKAGE).sha256;
      const signature = signPackageDigest(readPrivateKey('privateKey', privateKey), sha256);
      should(checkPackageSignature(readPublicKey('publicKey', publicKey), sha256, signature)).eql({ ok: true });
      should(
        checkPackageSignature(readPublicKey('publicKey', publicKey), digests(Buffer.from('other')).sha256, signature)
          .ok,
      ).be.false();
    });

    it('two calls give two different key pairs', async function () {
      await deployFleet();
      const a = (await api.post('/ota/keys')).body as { privateKey: string };
      const b = (await api.post('/ota/keys')).body as { privateKey: string };
      should(a.privateKey).not.equal(b.privateKey);
    });
  });
});
