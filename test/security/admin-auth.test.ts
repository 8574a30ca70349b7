/**
 * Security: the admin API behind Node-RED's `adminAuth` (a real Node-RED in a child process).
 * Anonymous users get nothing from any /ota route; a read-only user reads everything and changes
 * nothing; an admin may change things; no answer to a reader carries the fleet's secrets.
 * (The editor's comms socket is another test's business.)
 */
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import mqtt from 'mqtt';
import should from 'should';
import { signLogin } from '../../src/identity';
import { buildVersionReport, generateSigningKeyPair } from '../../src/protocol';
import { startAedes, TestBroker } from '../helpers/broker';
import { HttpAnswer, httpRequest } from '../helpers/fleet-red';
import { printFigures } from '../helpers/fuzz-run';
import { waitFor } from '../helpers/http';
import { NodeRedChild } from '../helpers/node-red-child';
import { platformFlow } from '../helpers/platform-flow';

const bcrypt = require(require.resolve('bcryptjs', { paths: [dirname(require.resolve('node-red'))] })) as {
  hashSync(text: string, rounds: number): string;
};

const PASSWORDS = {
  admin: `admin-${randomBytes(6).toString('hex')}`,
  viewer: `viewer-${randomBytes(6).toString('hex')}`,
};
/** The static token a broker (EMQX) is configured with: its user may only call the broker's checks. */
const BROKER_TOKEN = `broker-${randomBytes(24).toString('hex')}`;
const DEVICE = {
  productKey: 'pk1',
  deviceName: 'dev-0',
  deviceSecret: `device-secret-${randomBytes(8).toString('hex')}`,
};

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  raw?: Buffer;
}

describe('security: the admin API with adminAuth', function () {
  this.timeout(120_000);
  let broker: TestBroker;
  let red: NodeRedChild;
  let fleetId: string;
  let api: string;
  const urlSecret = `url-secret-${randomBytes(16).toString('hex')}`;
  const keys = generateSigningKeyPair();
  const tokens: Record<'admin' | 'viewer', string> = { admin: '', viewer: '' };
  let batchId: number;
  let firmwareId: string;
  let viewerAskingStar = '';

  async function call(route: Route, token?: string): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...route.headers };
    if (token) headers.Authorization = `Bearer ${token}`;
    let body = route.raw;
    if (route.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = Buffer.from(JSON.stringify(route.body));
    }
    return httpRequest(`${red.baseUrl}${route.path}`, { method: route.method, headers, body });
  }

  async function token(user: 'admin' | 'viewer', scope: string): Promise<HttpAnswer> {
    const form = new URLSearchParams({
      client_id: 'node-red-editor',
      grant_type: 'password',
      scope,
      username: user,
      password: PASSWORDS[user],
    });
    return httpRequest(`${red.baseUrl}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString()),
    });
  }

  /** Every read route, on things that exist. */
  function reads(): Route[] {
    return [
      { method: 'GET', path: '/ota/fleets' },
      { method: 'GET', path: `${api}/devices` },
      { method: 'GET', path: `${api}/devices/pk1/dev-0` },
      { method: 'GET', path: `${api}/versions` },
      { method: 'GET', path: `${api}/firmware` },
      { method: 'GET', path: `${api}/firmware/${firmwareId}` },
      { method: 'GET', path: `${api}/batches` },
      { method: 'GET', path: `${api}/batches/${batchId}` },
      { method: 'GET', path: `${api}/batches/${batchId}/tasks` },
      { method: 'GET', path: `${api}/batches/${batchId}/transitions` },
      { method: 'GET', path: `${api}/credentials` },
    ];
  }

  /** Every write route, each of which would change something (or hand out a key pair). */
  function writes(): Route[] {
    return [
      { method: 'PUT', path: `${api}/devices/pk1/dev-0/tags`, body: { tags: ['stolen'] } },
      {
        method: 'POST',
        path: `${api}/firmware?productKey=pk1&version=6.6.6`,
        headers: { 'Content-Type': 'application/octet-stream' },
        raw: Buffer.from('evil firmware'),
      },
      { method: 'DELETE', path: `${api}/firmware/${firmwareId}` },
      {
        method: 'POST',
        path: `${api}/batches`,
        body: {
          firmware: { version: '6.6.6', url: 'https://evil.example/x.bin', size: 1, md5: 'e'.repeat(32) },
          targets: { selection: 'ALL', productKey: 'pk1' },
        },
      },
      ...['cancel', 'pause', 'resume', 'confirm'].map((a): Route => ({
        method: 'POST',
        path: `${api}/batches/${batchId}/${a}`,
        body: {},
      })),
      ...['reupgrade', 'confirm', 'cancel'].map((a): Route => ({
        method: 'POST',
        path: `${api}/batches/${batchId}/tasks/pk1/dev-0/${a}`,
        body: {},
      })),
      { method: 'POST', path: '/ota/keys', body: {} },
      {
        method: 'POST',
        path: `${api}/credentials`,
        body: [{ productKey: 'pk1', deviceName: 'dev-0', deviceSecret: 'stolen' }],
      },
      { method: 'DELETE', path: `${api}/credentials/pk1/dev-0` },
    ];
  }

  /** The broker's login and ACL checks (EMQX's HTTP authenticator and authorizer). */
  function brokerChecks(): Route[] {
    const login = signLogin(DEVICE);
    return [
      {
        method: 'POST',
        path: `${api}/mqtt/authenticate`,
        body: { clientid: login.clientId, username: login.username, password: login.password },
      },
      {
        method: 'POST',
        path: `${api}/mqtt/authorize`,
        body: {
          clientid: login.clientId,
          username: login.username,
          topic: '/ota/device/inform/pk1/dev-0',
          action: 'publish',
        },
      },
    ];
  }

  /** What an admin sees of everything, to show that a refused write changed nothing. */
  async function everything(): Promise<string[]> {
    return Promise.all(reads().map(async (r) => (await call(r, tokens.admin)).body.toString('utf8')));
  }

  before(async function () {
    broker = await startAedes();
    const flow = platformFlow({ host: '127.0.0.1', port: broker.port }, { publicKey: keys.publicKey });
    fleetId = flow.fleetId;
    api = `/ota/fleets/${fleetId}`;
    red = await NodeRedChild.prepare({
      flows: flow.flows,
      credentials: { [fleetId]: { urlSecret, signingKey: keys.privateKey } },
      settings: {
        logging: { console: { level: 'warn' } },
        adminAuth: {
          type: 'credentials',
          users: [
            { username: 'admin', password: bcrypt.hashSync(PASSWORDS.admin, 8), permissions: '*' },
            { username: 'viewer', password: bcrypt.hashSync(PASSWORDS.viewer, 8), permissions: 'read' },
            {
              username: 'emqx',
              password: bcrypt.hashSync(randomBytes(16).toString('hex'), 8),
              permissions: 'ota.broker',
            },
          ],
          tokens: [{ token: BROKER_TOKEN, user: 'emqx', scope: ['ota.broker'] }],
        },
      },
    });
    // /ota/fleets is closed to anonymous users: ready when an admin gets a token and sees the fleet.
    await red.start(60_000, async () => {
      const answer = await token('admin', '*');
      if (answer.status !== 200) return false;
      const access = (JSON.parse(answer.body.toString()) as { access_token: string }).access_token;
      return (await call({ method: 'GET', path: '/ota/fleets' }, access)).body.toString().includes(fleetId);
    });
    for (const user of ['admin', 'viewer'] as const) {
      const answer = await token(user, user === 'admin' ? '*' : 'read');
      should(answer.status).equal(200);
      tokens[user] = (JSON.parse(answer.body.toString()) as { access_token: string }).access_token;
    }
    // Something to read: three devices, a hosted firmware, a running batch.
    const device = await mqtt.connectAsync(broker.url);
    for (const name of ['dev-0', 'dev-1', 'dev-2'])
      await device.publishAsync(`/ota/device/inform/pk1/${name}`, buildVersionReport({ version: '1.0.0' }), { qos: 1 });
    await device.endAsync();
    await waitFor(
      'the inventory',
      async () => {
        const a = await call({ method: 'GET', path: `${api}/devices` }, tokens.admin);
        return a.status === 200 && (JSON.parse(a.body.toString()) as unknown[]).length === 3 ? true : undefined;
      },
      20_000,
    );
    const upload = await call(
      {
        method: 'POST',
        path: `${api}/firmware?productKey=pk1&version=0.9.0`,
        headers: { 'Content-Type': 'application/octet-stream' },
        raw: Buffer.from('an old package'),
      },
      tokens.admin,
    );
    should(upload.status).equal(201);
    firmwareId = (JSON.parse(upload.body.toString()) as { id: string }).id;
    const batch = await call(
      {
        method: 'POST',
        path: `${api}/batches`,
        body: {
          firmware: { version: '2.0.0', url: 'https://cdn.example.com/2.bin', size: 10, md5: 'c'.repeat(32) },
          targets: { selection: 'ALL', productKey: 'pk1' },
          strategy: { maximumPerMinute: 1 },
        },
      },
      tokens.admin,
    );
    should(batch.status).equal(201);
    batchId = (JSON.parse(batch.body.toString()) as { id: number }).id;
    should((await call({ method: 'POST', path: `${api}/credentials`, body: [DEVICE] }, tokens.admin)).status).equal(
      201,
    );
  });

  after(async function () {
    await red?.close();
    await broker?.close();
  });

  it('anonymous users get 401 and nothing else from every /ota route, and change nothing', async function () {
    const before = await everything();
    for (const route of [...reads(), ...writes(), ...brokerChecks()]) {
      const answer = await call(route);
      should(answer.status).equal(401, `${route.method} ${route.path}`);
      should(answer.body.toString()).not.match(/dev-0|pk1|privateKey|publicKey|"id"/);
    }
    for (const bad of ['not-a-token', `${tokens.admin}x`, randomBytes(32).toString('base64')]) {
      should((await call({ method: 'GET', path: `${api}/devices` }, bad)).status).equal(401);
      should((await call({ method: 'POST', path: `${api}/batches/${batchId}/cancel`, body: {} }, bad)).status).equal(
        401,
      );
    }
    should(await everything()).eql(before);
  });

  it('a read-only user reads every route, and gets 401 on every write (also with a token asked for scope *)', async function () {
    for (const route of reads())
      should((await call(route, tokens.viewer)).status).equal(200, `${route.method} ${route.path}`);
    const before = await everything();
    // Node-RED gives a reader who asks for scope * a token anyway; its scope is what decides.
    const greedy = await token('viewer', '*');
    const greedyToken =
      greedy.status === 200 ? (JSON.parse(greedy.body.toString()) as { access_token: string }).access_token : undefined;
    viewerAskingStar = greedy.status === 200 ? 'a token that still cannot write' : `refused (${greedy.status})`;
    for (const route of writes()) {
      should((await call(route, tokens.viewer)).status).equal(401, `${route.method} ${route.path}`);
      if (greedyToken)
        should((await call(route, greedyToken)).status).equal(401, `${route.method} ${route.path} with scope *`);
    }
    should(await everything()).eql(before);
  });

  it("no answer to a reader carries the fleet's URL secret or its private signing key", async function () {
    const privateKeyBody = keys.privateKey.slice(20, 60);
    for (const route of reads()) {
      const text = (await call(route, tokens.viewer)).body.toString('utf8');
      should(text.includes(urlSecret)).be.false(`${route.path} shows the URL secret`);
      should(text.includes(privateKeyBody)).be.false(`${route.path} shows the signing key`);
      should(text.includes(DEVICE.deviceSecret)).be.false(`${route.path} shows a device secret`);
    }
    const fleets = JSON.parse((await call({ method: 'GET', path: '/ota/fleets' }, tokens.viewer)).body.toString()) as {
      publicKey: string;
    }[];
    should(fleets[0].publicKey).equal(keys.publicKey);
  });

  it("the broker's token gets its checks answered, and 401 from every other route", async function () {
    const [authenticate, authorize] = brokerChecks();
    should(JSON.parse((await call(authenticate, BROKER_TOKEN)).body.toString())).eql({
      result: 'allow',
      is_superuser: false,
    });
    should(JSON.parse((await call(authorize, BROKER_TOKEN)).body.toString())).eql({ result: 'allow' });
    const before = await everything();
    for (const route of [...reads(), ...writes()])
      should((await call(route, BROKER_TOKEN)).status).equal(401, `${route.method} ${route.path}`);
    should(await everything()).eql(before);
  });

  it("a read-only user gets 401 from the broker's checks (they would be a password oracle); an admin (*) may call them", async function () {
    for (const route of brokerChecks()) {
      should((await call(route, tokens.viewer)).status).equal(401, `${route.method} ${route.path}`);
      should((await call(route, tokens.admin)).status).equal(200, `${route.method} ${route.path}`);
    }
  });

  it('an admin may write: tag, pause, resume, generate keys, start and cancel a batch', async function () {
    should(
      (await call({ method: 'PUT', path: `${api}/devices/pk1/dev-1/tags`, body: { tags: ['lab'] } }, tokens.admin))
        .status,
    ).equal(200);
    should(
      (await call({ method: 'POST', path: `${api}/batches/${batchId}/pause`, body: {} }, tokens.admin)).status,
    ).equal(200);
    should(
      (await call({ method: 'POST', path: `${api}/batches/${batchId}/resume`, body: {} }, tokens.admin)).status,
    ).equal(200);
    const pair = await call({ method: 'POST', path: '/ota/keys', body: {} }, tokens.admin);
    should(pair.status).equal(200);
    should(JSON.parse(pair.body.toString())).have.keys('publicKey', 'privateKey');
    should(
      (await call({ method: 'POST', path: `${api}/batches/${batchId}/cancel`, body: {} }, tokens.admin)).status,
    ).equal(200);
    should((await call({ method: 'DELETE', path: `${api}/firmware/${firmwareId}` }, tokens.admin)).status).equal(200);
    should((await call({ method: 'DELETE', path: `${api}/credentials/pk1/dev-0` }, tokens.admin)).status).equal(200);
  });

  it('a revoked token gets 401', async function () {
    const fresh = JSON.parse((await token('viewer', 'read')).body.toString()) as { access_token: string };
    should((await call({ method: 'GET', path: `${api}/devices` }, fresh.access_token)).status).equal(200);
    const revoke = await httpRequest(`${red.baseUrl}/auth/revoke`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${fresh.access_token}`, 'Content-Type': 'application/json' },
      body: Buffer.from(JSON.stringify({ token: fresh.access_token })),
    });
    should(revoke.status).equal(200);
    should((await call({ method: 'GET', path: `${api}/devices` }, fresh.access_token)).status).equal(401);
    printFigures('adminAuth', {
      readRoutes: reads().length,
      writeRoutes: writes().length,
      brokerRoutes: brokerChecks().length,
      anonymous: '401 on all',
      viewer: 'reads 200, writes 401',
      viewerAskingStar,
      revoked: 401,
    });
  });
});
