/**
 * The device registry over real HTTP (README: Admin API): devices registered as JSON or CSV, listed
 * without their secrets, removed; refusals by row with nothing stored; and no secret in any answer
 * or in Node-RED's log.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Response } from 'supertest';
import { assertNoStackTrace, Deployed, deploy, fleetSuite, platformFlow } from '../helpers/fleet-red';

helper.init(require.resolve('node-red'));

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

function answer(res: Response): Answer {
  assertNoStackTrace(res.text ?? '');
  return { status: res.status, body: res.body, text: res.text };
}

const api = {
  get: async (path: string) => answer(await helper.request().get(path)),
  post: async (path: string, body: unknown) =>
    answer(
      await helper
        .request()
        .post(path)
        .send(body as object),
    ),
  text: async (path: string, type: string, text: string | Buffer) =>
    answer(await helper.request().post(path).set('Content-Type', type).send(text)),
  delete: async (path: string) => answer(await helper.request().delete(path)),
};

const SECRETS = ['b4d43f7c9a0e4bd2b8e1f10ba5e5c3d1', 'S3cr3t-0f-dev-2_xyz', 'quoted,secret"3'];
const DEVICES = [
  { productKey: 'pk1', deviceName: 'dev-1', deviceSecret: SECRETS[0] },
  { productKey: 'pk1', deviceName: 'dev-2', deviceSecret: SECRETS[1] },
];

/** Everything Node-RED logged since the flow was loaded, as text. */
function wholeLog(): string {
  const spy = helper.log() as unknown as { args: unknown[][] };
  return spy.args.map((args) => JSON.stringify(args)).join('\n');
}

describe('admin API: the device registry', function () {
  const suite = fleetSuite('credentials');
  let d: Deployed;
  let base: string;

  beforeEach(async function () {
    d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
    base = `/ota/fleets/${d.platform.fleet.id}/credentials`;
  });

  const names = (res: Answer) =>
    (res.body as { productKey: string; deviceName: string }[]).map((x) => `${x.productKey}/${x.deviceName}`);

  it('POST a JSON array registers the devices: 201 {registered}, and GET lists them without secrets', async function () {
    const before = Date.now();
    should(await api.post(base, DEVICES)).match({ status: 201, body: { registered: 2 } });
    const list = await api.get(base);
    should(list.status).equal(200);
    const rows = list.body as { createdAt: number }[];
    should(rows[0].createdAt).be.within(before, Date.now());
    should(list.body).eql([
      { productKey: 'pk1', deviceName: 'dev-1', createdAt: rows[0].createdAt },
      { productKey: 'pk1', deviceName: 'dev-2', createdAt: rows[1].createdAt },
    ]);
    should(await d.handle.ask((fleet) => fleet.store.deviceSecret({ productKey: 'pk1', deviceName: 'dev-1' }))).equal(
      SECRETS[0],
    );
  });

  it('POST CSV as Alibaba exports it (BOM, header, CRLF, quotes) registers its devices', async function () {
    const text = `\uFEFFProductKey,DeviceName,DeviceSecret,IotId\r\npk1,dev-1,${SECRETS[0]},i1\r\npk2,"dev 3","quoted,secret""3",i3\r\n`;
    should(await api.text(base, 'text/csv; charset=utf-8', text)).match({ status: 201, body: { registered: 2 } });
    should(names(await api.get(base))).eql(['pk1/dev-1', 'pk2/dev 3']);
    should(await d.handle.ask((fleet) => fleet.store.deviceSecret({ productKey: 'pk2', deviceName: 'dev 3' }))).equal(
      SECRETS[2],
    );
  });

  it('POST text/plain without a header registers productKey,deviceName,deviceSecret rows', async function () {
    should(await api.text(base, 'text/plain', `pk1,dev-1,${SECRETS[0]}\npk1,dev-2,${SECRETS[1]}\n`)).match({
      status: 201,
      body: { registered: 2 },
    });
    should(names(await api.get(base))).eql(['pk1/dev-1', 'pk1/dev-2']);
  });

  it('registering a device again replaces its secret', async function () {
    await api.post(base, DEVICES);
    should(await api.post(base, [{ ...DEVICES[0], deviceSecret: 'rotated-secret' }])).match({
      status: 201,
      body: { registered: 1 },
    });
    should(await d.handle.ask((fleet) => fleet.store.deviceSecret({ productKey: 'pk1', deviceName: 'dev-1' }))).equal(
      'rotated-secret',
    );
    should(names(await api.get(base))).eql(['pk1/dev-1', 'pk1/dev-2']);
  });

  it('a bad row is a 422 naming the row and the reason, and nothing of the request is stored', async function () {
    const text = `ProductKey,DeviceName,DeviceSecret\r\npk1,dev-1,${SECRETS[0]}\r\npk1,dev-2,${SECRETS[1]}\r\npk1,dev+3,another-secret\r\n`;
    const res = await api.text(base, 'text/csv', text);
    should({ status: res.status, body: res.body }).eql({
      status: 422,
      body: { error: 'row 4: deviceName must be one MQTT topic level (no "/", "+", "#" or NUL; found "+")' },
    });
    const json = await api.post(base, [DEVICES[0], { ...DEVICES[1], deviceSecret: 'two words' }]);
    should({ status: json.status, body: json.body }).eql({
      status: 422,
      body: { error: 'row 2: deviceSecret must be 1 to 128 printable ASCII characters without spaces' },
    });
    should((await api.get(base)).body).eql([]);
  });

  it('a form (curl --data-binary without a type) or a package type is refused with how to send CSV', async function () {
    const form = await api.text(base, 'application/x-www-form-urlencoded', `pk1,dev-1,${SECRETS[0]}`);
    should(form.status).equal(415);
    should((form.body as { error: string }).error).startWith(
      'send the devices as JSON or as CSV with Content-Type: text/csv',
    );
    const bytes = await api.text(base, 'application/octet-stream', Buffer.from(`pk1,dev-1,${SECRETS[0]}`));
    should({ status: bytes.status, body: bytes.body }).eql({
      status: 415,
      body: {
        error:
          'send the devices as a JSON array (Content-Type: application/json) or as CSV text (Content-Type: text/csv), not application/octet-stream',
      },
    });
    should((await api.get(base)).body).eql([]);
  });

  it('GET filters by productKey and pages', async function () {
    await api.post(base, [...DEVICES, { productKey: 'pk2', deviceName: 'sensor', deviceSecret: 'x1' }]);
    should(names(await api.get(`${base}?productKey=pk2`))).eql(['pk2/sensor']);
    should(names(await api.get(`${base}?limit=1&offset=1`))).eql(['pk1/dev-2']);
  });

  it('DELETE removes one device, and is a 404 when it is not registered', async function () {
    await api.post(base, DEVICES);
    should(await api.delete(`${base}/pk1/dev-1`)).match({
      status: 200,
      body: { productKey: 'pk1', deviceName: 'dev-1' },
    });
    should(names(await api.get(base))).eql(['pk1/dev-2']);
    should(
      await d.handle.ask((fleet) => fleet.store.deviceSecret({ productKey: 'pk1', deviceName: 'dev-1' })),
    ).be.undefined();
    const again = await api.delete(`${base}/pk1/dev-1`);
    should({ status: again.status, body: again.body }).eql({
      status: 404,
      body: { error: 'pk1/dev-1 is not registered' },
    });
  });

  it('an unknown fleet is a 404', async function () {
    const res = await api.post('/ota/fleets/nope/credentials', DEVICES);
    should({ status: res.status, body: res.body }).eql({
      status: 404,
      body: { error: 'no deployed ota-fleet has id "nope" (GET …/ota/fleets lists them)' },
    });
  });

  it('no secret is in any answer or in the Node-RED log, whatever was asked', async function () {
    const answers = [
      await api.post(base, DEVICES),
      await api.text(base, 'text/csv', `pk1,dev-3,${SECRETS[2].replace(/[,"]/g, '')}\npk1,bad/name,${SECRETS[0]}`),
      await api.post(base, [{ productKey: SECRETS[1], deviceName: `x/${SECRETS[1]}`, deviceSecret: `${SECRETS[0]} ` }]),
      await api.get(base),
      await api.get(`${base}?productKey=pk1`),
      await api.get(`/ota/fleets/${d.platform.fleet.id}/devices`),
      await api.delete(`${base}/pk1/dev-2`),
    ];
    const log = wholeLog();
    for (const secret of [...SECRETS, SECRETS[2].replace(/[,"]/g, '')]) {
      for (const a of answers) should(a.text.includes(secret)).be.false(`an answer shows ${secret}: ${a.text}`);
      should(log.includes(secret)).be.false(`the log shows ${secret}`);
    }
  });
});
