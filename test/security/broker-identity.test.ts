/**
 * Security: device identity at the broker (src/broker, docs/broker-acl.md). A real Aedes with the
 * hooks of `createAedesHooks`, real clients logging in as Alibaba's SDKs do (mqtt.js with
 * `signLogin`, and the npm aliyun-iot-mqtt client), against both authorities: secrets known to
 * the broker's process (`localAuthority`) and secrets registered with a fleet in Node-RED, asked
 * over its EMQX-shaped endpoint (`httpAuthority`). A device gets in only with its own secret,
 * publishes only its own reports and reads only its own notices; the platform does everything.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import mqtt, { MqttClient } from 'mqtt';
import should from 'should';
import { createAedesHooks, httpAuthority, localAuthority } from '../../src/broker';
import type { AedesHooks } from '../../src/broker';
import { signLogin } from '../../src/identity';
import { deviceTopics } from '../helpers/acl';
import { startAedes, TestBroker } from '../helpers/broker';
import {
  deploy,
  Deployed,
  eventually,
  feed,
  fleetConfig,
  fleetSuite,
  httpRequest,
  platformFlow,
} from '../helpers/fleet-red';
import type { FlowNode } from '../helpers/flow';
import { printFigures } from '../helpers/fuzz-run';
import { freePort } from '../helpers/http';
import { delay } from '../helpers/red';

const PK = 'a1B2c3D4e5F';
const OTHER_PK = 'b9Z8y7X6w5V';
const PLATFORM = { username: 'ota-platform', password: randomBytes(18).toString('base64url') };
const SECRETS: Record<string, string> = {
  [`${PK}/dev-1`]: randomBytes(16).toString('hex'),
  [`${PK}/dev-2`]: randomBytes(16).toString('hex'),
  [`${OTHER_PK}/dev-1`]: randomBytes(16).toString('hex'),
};
const secretOf = (productKey: string, deviceName: string) => SECRETS[`${productKey}/${deviceName}`];
/** Every signature a test client sent: none may show up in a log line. */
const SENT_PASSWORDS = new Set<string>();

interface Figures {
  loginsRefused: number;
  loginsAccepted: number;
  publishesRefused: number;
  subscriptionsRefused: number;
  noticesWithheld: number;
  logLines: number;
}

const newFigures = (): Figures => ({
  loginsRefused: 0,
  loginsAccepted: 0,
  publishesRefused: 0,
  subscriptionsRefused: 0,
  noticesWithheld: 0,
  logLines: 0,
});

/** A client that records what it receives and whether it was cut off. */
interface Peer {
  client: MqttClient;
  received: { topic: string; payload: string }[];
  closed: boolean;
}

function watch(client: MqttClient): Peer {
  const peer: Peer = { client, received: [], closed: false };
  client.on('message', (topic, payload) => peer.received.push({ topic, payload: payload.toString() }));
  client.on('close', () => (peer.closed = true));
  return peer;
}

async function connect(url: string, options: mqtt.IClientOptions): Promise<Peer> {
  return watch(await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options }));
}

/** The CONNACK return code of a refused login, or 0 when it was accepted. */
async function connackCode(url: string, options: mqtt.IClientOptions): Promise<number> {
  try {
    const peer = await connect(url, options);
    await peer.client.endAsync(true);
    return 0;
  } catch (err) {
    return Number((err as { code?: number }).code);
  }
}

/** The SUBACK codes of a subscription (mqtt.js rejects one with a failure in it, with the packet). */
async function subackCodes(client: MqttClient, filter: string): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filter, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw err;
    return granted;
  }
}

/** A device's login signed as the C SDKs sign it (HMAC-SHA256, `pk.dn` client id, a timestamp). */
function deviceLogin(deviceName: string, options: { productKey?: string; secret?: string } = {}): mqtt.IClientOptions {
  const productKey = options.productKey ?? PK;
  const deviceSecret = options.secret ?? secretOf(productKey, deviceName) ?? randomBytes(16).toString('hex');
  const login = signLogin({ productKey, deviceName, deviceSecret, timestamp: String(Date.now()) });
  SENT_PASSWORDS.add(login.password);
  return login;
}

/** Topics a device must not publish on: the other device's, its own notices, another product's, and elsewhere. */
function forbiddenPublishes(self: string, other: string): string[] {
  const theirs = deviceTopics(PK, other);
  const mine = deviceTopics(PK, self);
  return [
    ...theirs.publish,
    ...theirs.subscribe.filter((t) => !theirs.publish.includes(t)),
    ...mine.subscribe.filter((t) => !mine.publish.includes(t)),
    ...deviceTopics(OTHER_PK, self).publish,
    'test/events',
    `/sys/${PK}/${other}/thing/event/property/post`,
  ];
}

/** Filters that would let a device read another device's notices. */
function forbiddenSubscriptions(other: string): string[] {
  return [
    '#',
    '/ota/#',
    '/ota/device/upgrade/+/+',
    `/ota/device/upgrade/${PK}/+`,
    '/sys/+/+/thing/ota/firmware/get_reply',
    `/sys/${PK}/+/thing/#`,
    '+/+/+/+/+',
    ...deviceTopics(PK, other).subscribe,
    `/sys/${PK}/${other}/#`,
    `$share/g/ota/device/upgrade/${PK}/${other}`,
  ];
}

interface Context {
  url: string;
  /** Log lines the hooks wrote so far. */
  lines: string[];
  hooks: AedesHooks;
}

/** What both authorities must hold to. */
function identityBehaviour(ctx: () => Context, figures: Figures) {
  let platform: Peer;
  const peers: Peer[] = [];

  beforeEach(async function () {
    platform = await connect(ctx().url, { clientId: `platform-${randomBytes(4).toString('hex')}`, ...PLATFORM });
    await platform.client.subscribeAsync(['/ota/device/#', '/sys/+/+/thing/#', 'test/#'], { qos: 1 });
    peers.push(platform);
  });

  afterEach(async function () {
    for (const p of peers.splice(0)) await p.client.endAsync(true);
  });

  async function device(name: string, productKey = PK): Promise<Peer> {
    const peer = await connect(ctx().url, deviceLogin(name, { productKey }));
    peers.push(peer);
    figures.loginsAccepted++;
    return peer;
  }

  it('logins are refused for an unknown device, a wrong secret, a malformed login and no login at all', async function () {
    const { url } = ctx();
    const refusals: [string, mqtt.IClientOptions, number][] = [
      ['an unknown device', deviceLogin('dev-9', { secret: SECRETS[`${PK}/dev-1`] }), 5],
      ['an unknown product', deviceLogin('dev-1', { productKey: 'c0000000000', secret: SECRETS[`${PK}/dev-1`] }), 5],
      ['a wrong secret', deviceLogin('dev-1', { secret: randomBytes(16).toString('hex') }), 5],
      [
        "the other product's dev-1 with its own secret as this product's",
        deviceLogin('dev-1', { secret: SECRETS[`${OTHER_PK}/dev-1`] }),
        5,
      ],
      // The `pk.dn` client id then names another device than the user name: not a login at all.
      ["dev-1's login with dev-2's user name", { ...deviceLogin('dev-1'), username: `dev-2&${PK}` }, 4],
      [
        "dev-1's login with a client id naming dev-2",
        { ...deviceLogin('dev-1'), clientId: deviceLogin('dev-1').clientId?.replace(`${PK}.dev-1`, `${PK}.dev-2`) },
        4,
      ],
      [
        "dev-1's login for dev-2, client id and user name, signed with dev-1's secret",
        deviceLogin('dev-2', { secret: SECRETS[`${PK}/dev-1`] }),
        5,
      ],
      ['a plain user name and password', { clientId: 'dev-1', username: PK, password: SECRETS[`${PK}/dev-1`] }, 4],
      ['a signed login without its client id parameters', { ...deviceLogin('dev-1'), clientId: `${PK}.dev-1` }, 4],
      ['a signed login without a password', { ...deviceLogin('dev-1'), password: undefined }, 4],
      ['the platform user with a wrong password', { clientId: 'p', username: PLATFORM.username, password: 'guess' }, 5],
      ['anonymous', { clientId: 'anonymous' }, 5],
    ];
    for (const [what, options, code] of refusals) {
      should(await connackCode(url, options)).equal(code, `${what}: CONNACK ${code} expected`);
      figures.loginsRefused++;
    }
  });

  it("a device's own reports reach the platform, and its own notices reach it", async function () {
    const dev1 = await device('dev-1');
    const mine = deviceTopics(PK, 'dev-1');
    const granted = await dev1.client.subscribeAsync(mine.subscribe, { qos: 1 });
    should(granted.map((g) => g.qos)).eql(mine.subscribe.map(() => 1));
    for (const topic of mine.publish) await dev1.client.publishAsync(topic, '{"id":"1","params":{}}', { qos: 1 });
    await eventually('the reports', () => platform.received.length >= mine.publish.length);
    should(platform.received.map((m) => m.topic).sort()).eql([...mine.publish].sort());
    for (const topic of mine.subscribe) await platform.client.publishAsync(topic, '{"code":"1000"}', { qos: 1 });
    // T8 goes both ways: dev-1 also got its own request back.
    const expected = [`/ota/device/request/${PK}/dev-1`, ...mine.subscribe].sort();
    await eventually('the notices', () => dev1.received.length >= expected.length);
    should(dev1.received.map((m) => m.topic).sort()).eql(expected);
    should(dev1.closed).be.false();
  });

  it("a device that publishes on another device's topics, or its own notices, reaches no one and is cut off", async function () {
    for (const topic of forbiddenPublishes('dev-1', 'dev-2')) {
      const dev1 = await device('dev-1');
      const dev2 = await device('dev-2');
      await dev2.client.subscribeAsync(deviceTopics(PK, 'dev-2').subscribe, { qos: 1 });
      const before = platform.received.length;
      dev1.client.publish(topic, '{"id":"1","params":{"version":"6.6.6","step":"-1"}}', { qos: 0 });
      await eventually(`dev-1 cut off after publishing on ${topic}`, () => dev1.closed);
      await delay(50);
      should(platform.received.slice(before)).eql([], `${topic} reached the platform`);
      should(dev2.received).eql([], `${topic} reached dev-2`);
      figures.publishesRefused++;
    }
  });

  it("a device's subscriptions to other devices' notices fail in the SUBACK, it stays connected and never receives them", async function () {
    const dev1 = await device('dev-1');
    const dev2 = await device('dev-2');
    await dev2.client.subscribeAsync(deviceTopics(PK, 'dev-2').subscribe, { qos: 1 });
    for (const filter of forbiddenSubscriptions('dev-2')) {
      should(await subackCodes(dev1.client, filter)).eql([128], `${filter} was granted`);
      figures.subscriptionsRefused++;
    }
    await dev1.client.subscribeAsync(deviceTopics(PK, 'dev-1').subscribe, { qos: 1 });
    for (const name of ['dev-1', 'dev-2']) {
      for (const topic of deviceTopics(PK, name).subscribe)
        await platform.client.publishAsync(topic, `{"code":"1000","for":"${name}"}`, { qos: 1 });
    }
    await platform.client.publishAsync('test/other', 'x', { qos: 1 });
    await eventually("dev-2's notices", () => dev2.received.length >= deviceTopics(PK, 'dev-2').subscribe.length);
    await delay(100);
    should(dev1.closed).be.false();
    should(dev1.received.map((m) => m.topic).sort()).eql(deviceTopics(PK, 'dev-1').subscribe.sort());
    should(dev1.received.every((m) => m.payload.includes('"dev-1"'))).be.true();
    figures.noticesWithheld += deviceTopics(PK, 'dev-2').subscribe.length + 1;
  });

  it("a will left on another device's topic is not delivered; one on the device's own report is", async function () {
    const wills = [`/ota/device/progress/${PK}/dev-2`, `/ota/device/progress/${PK}/dev-1`];
    for (const topic of wills) {
      const dev1 = await connect(ctx().url, {
        ...deviceLogin('dev-1'),
        will: { topic, payload: Buffer.from('{"id":"1","params":{"step":"-1"}}'), qos: 1, retain: false },
      });
      dev1.client.stream.destroy(); // gone without a DISCONNECT: the broker publishes the will
      await eventually('dev-1 gone', () => dev1.closed);
    }
    await eventually("dev-1's own will", () => platform.received.length >= 1);
    await delay(100);
    should(platform.received.map((m) => m.topic)).eql([`/ota/device/progress/${PK}/dev-1`]);
    figures.publishesRefused++;
  });

  it('the platform login subscribes to everything and publishes everywhere', async function () {
    const other = await connect(ctx().url, { clientId: `platform-2-${randomBytes(4).toString('hex')}`, ...PLATFORM });
    peers.push(other);
    should((await other.client.subscribeAsync('#', { qos: 1 })).map((g) => g.qos)).eql([1]);
    const topics = [
      ...deviceTopics(PK, 'dev-1').subscribe,
      ...deviceTopics(OTHER_PK, 'dev-2').publish,
      'test/events',
      'anything/at/all',
    ];
    for (const topic of topics) await platform.client.publishAsync(topic, 'x', { qos: 1 });
    await eventually('every message', () => other.received.length >= topics.length);
    should(other.received.map((m) => m.topic)).eql(topics);
    should(platform.closed || other.closed).be.false();
    should(ctx().hooks.identityOf).be.a.Function();
  });

  it('no log line carries a secret, a password or a signature, and each refusal is told', function () {
    const { lines } = ctx();
    should(lines.length).be.above(0);
    const secrets = [...Object.values(SECRETS), PLATFORM.password];
    for (const line of lines) {
      for (const secret of secrets)
        should(line.includes(secret)).be.false(`a log line carries a secret: ${line.replace(secret, '***')}`);
      for (const signature of SENT_PASSWORDS)
        should(line.includes(signature.slice(0, 16))).be.false(`a log line carries a signature: ${line}`);
    }
    should(
      lines.some((l) => /^login refused, .*dev-9.*unknown device|^login refused, .*dev-9.*: refused/.test(l)),
    ).be.true();
    should(
      lines.some((l) =>
        /^publish refused, .*dev-1.* may not publish on "\/ota\/device\/inform\/a1B2c3D4e5F\/dev-2": disconnected$/.test(
          l,
        ),
      ),
    ).be.true();
    should(lines.some((l) => /^subscription refused, .* may not subscribe to "#"$/.test(l))).be.true();
    figures.logLines = lines.length;
  });
}

describe('security: device identity at the broker', function () {
  this.timeout(60_000);

  describe('Aedes with createAedesHooks and a local authority (secrets in the broker process)', function () {
    const figures = newFigures();
    const lines: string[] = [];
    let broker: TestBroker;
    let hooks: AedesHooks;

    before(async function () {
      hooks = createAedesHooks({
        authority: localAuthority({ secretOf: ({ productKey, deviceName }) => secretOf(productKey, deviceName) }),
        platform: PLATFORM,
        log: (line) => lines.push(line),
      });
      broker = await startAedes(hooks);
    });

    after(async function () {
      await broker?.close();
      printFigures('broker identity (local authority)', figures);
    });

    identityBehaviour(() => ({ url: broker.url, lines, hooks }), figures);

    it('the npm aliyun-iot-mqtt client logs in with its own signature, publishes its report and reads its notice', async function () {
      const options = { productKey: PK, deviceName: 'dev-1', deviceSecret: SECRETS[`${PK}/dev-1`] };
      const received = await withAliyunClient(broker.port, options, async (client, notices) => {
        const [granted] = await client.subscribeAsync(`/ota/device/upgrade/${PK}/dev-1`, { qos: 1 });
        should(granted.qos).equal(1);
        const platform = await connect(broker.url, { clientId: 'platform-aliyun', ...PLATFORM });
        await platform.client.subscribeAsync(`/ota/device/inform/${PK}/+`, { qos: 1 });
        await client.publishAsync(`/ota/device/inform/${PK}/dev-1`, '{"id":"1","params":{"version":"1.0.0"}}', {
          qos: 1,
        });
        await platform.client.publishAsync(`/ota/device/upgrade/${PK}/dev-1`, '{"code":"1000"}', { qos: 1 });
        await eventually('the report and the notice', () => platform.received.length === 1 && notices.length === 1);
        await platform.client.endAsync(true);
        return { reports: platform.received.map((m) => m.topic), notices };
      });
      should(received).eql({
        reports: [`/ota/device/inform/${PK}/dev-1`],
        notices: [`/ota/device/upgrade/${PK}/dev-1`],
      });
      figures.loginsAccepted++;
    });

    it('the npm aliyun-iot-mqtt client with a wrong secret is refused (CONNACK 5)', async function () {
      const code = await aliyunConnack(broker.port, {
        productKey: PK,
        deviceName: 'dev-1',
        deviceSecret: randomBytes(16).toString('hex'),
      });
      should(code).equal(5);
      figures.loginsRefused++;
    });

    it('an authority that fails answers the login "server unavailable" (CONNACK 3), and the device may try again', async function () {
      const failing = createAedesHooks({
        authority: localAuthority({
          secretOf: () => {
            throw new Error('the database is down');
          },
        }),
      });
      const down = await startAedes(failing);
      try {
        should(await connackCode(down.url, deviceLogin('dev-1'))).equal(3);
      } finally {
        await down.close();
      }
      figures.loginsRefused++;
    });
  });

  describe("Aedes with an http authority: secrets registered with a fleet in Node-RED, checked by the fleet's endpoint", function () {
    const suite = fleetSuite('broker-identity');
    const figures = newFigures();
    const lines: string[] = [];
    let broker: TestBroker;
    let hooks: AedesHooks;
    let fleet: FlowNode;
    let d: Deployed;

    before(async function () {
      fleet = fleetConfig(suite);
      hooks = createAedesHooks({
        authority: httpAuthority({ url: `${suite.adminUrl}/ota/fleets/${fleet.id}` }),
        platform: PLATFORM,
        log: (line) => lines.push(line),
      });
      broker = await startAedes(hooks);
    });

    beforeEach(async function () {
      d = await deploy(platformFlow(suite, { fleet }));
      const body = Buffer.from(
        [
          'ProductKey,DeviceName,DeviceSecret',
          ...Object.entries(SECRETS).map(([key, secret]) => `${key.replace('/', ',')},${secret}`),
        ].join('\r\n'),
      );
      const answer = await httpRequest(`${suite.adminUrl}/ota/fleets/${fleet.id}/credentials`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/csv' },
        body,
      });
      should(answer.status).equal(201, answer.body.toString());
      should(JSON.parse(answer.body.toString())).eql({ registered: 3 });
    });

    after(async function () {
      await broker?.close();
      printFigures('broker identity (http authority)', figures);
    });

    identityBehaviour(() => ({ url: broker.url, lines, hooks }), figures);

    it("a device publishing a version on another device's topic leaves that device's version in the fleet unchanged", async function () {
      // The platform's client feeds every T1 into the fleet's ota-inform, as an `mqtt in` node would.
      const platform = await connect(broker.url, { clientId: 'platform-fleet', ...PLATFORM });
      platform.client.on('message', (topic, payload) =>
        feed(d.platform.inform, { _msgid: 'm', topic, payload: payload.toString() }),
      );
      await platform.client.subscribeAsync('/ota/device/inform/+/+', { qos: 1 });
      const report = (version: string) => JSON.stringify({ id: '1', params: { version } });
      const dev2 = await connect(broker.url, deviceLogin('dev-2'));
      await dev2.client.publishAsync(`/ota/device/inform/${PK}/dev-2`, report('1.0.0'), { qos: 1 });
      await eventually('dev-2 in the inventory', async () => (await versionOf('dev-2')) === '1.0.0');

      const dev1 = await connect(broker.url, deviceLogin('dev-1'));
      dev1.client.publish(`/ota/device/inform/${PK}/dev-2`, report('6.6.6'), { qos: 0 });
      await eventually('dev-1 cut off', () => dev1.closed);
      // dev-1 again, on its own topic: once this arrives, the forged report would have too.
      const again = await connect(broker.url, deviceLogin('dev-1'));
      await again.client.publishAsync(`/ota/device/inform/${PK}/dev-1`, report('1.0.0'), { qos: 1 });
      await eventually('dev-1 in the inventory', async () => (await versionOf('dev-1')) === '1.0.0');
      should(await versionOf('dev-2')).equal('1.0.0');
      should(platform.received.map((m) => m.topic)).eql([
        `/ota/device/inform/${PK}/dev-2`,
        `/ota/device/inform/${PK}/dev-1`,
      ]);
      for (const p of [platform, dev2, again]) await p.client.endAsync(true);
      figures.publishesRefused++;
    });

    it('a device removed from the registry can no longer log in', async function () {
      should(await connackCode(broker.url, deviceLogin('dev-2'))).equal(0);
      const removed = await httpRequest(`${suite.adminUrl}/ota/fleets/${fleet.id}/credentials/${PK}/dev-2`, {
        method: 'DELETE',
      });
      should(removed.status).equal(200);
      should(await connackCode(broker.url, deviceLogin('dev-2'))).equal(5);
      figures.loginsRefused++;
    });

    it('a fleet that cannot be reached answers logins "server unavailable" (CONNACK 3)', async function () {
      const port = await freePort();
      const away = await startAedes(
        createAedesHooks({
          authority: httpAuthority({ url: `http://127.0.0.1:${port}/ota/fleets/${fleet.id}`, timeoutMs: 1000 }),
        }),
      );
      try {
        should(await connackCode(away.url, deviceLogin('dev-1'))).equal(3);
      } finally {
        await away.close();
      }
      figures.loginsRefused++;
    });

    function versionOf(deviceName: string): Promise<string | undefined> {
      return d.handle.ask(
        (fleet) => fleet.devices({ productKey: PK }).find((m) => m.deviceName === deviceName)?.version,
      );
    }
  });
});

// ---- the npm aliyun-iot-mqtt client --------------------------------------------------------------

interface AliyunOptions {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
}

const aliyun = require('aliyun-iot-mqtt') as { getAliyunIotMqttClient(options: AliyunOptions): MqttClient };

/**
 * aliyun-iot-mqtt 0.0.1 always connects to `<productKey>.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883`
 * (and prints its options, secret included): for the test its TCP connection goes to the broker
 * under test instead (mqtt.js opens it before the client is returned), and its printing is dropped.
 */
function aliyunClient(port: number, options: AliyunOptions): MqttClient {
  const createConnection = net.createConnection;
  const log = console.log;
  net.createConnection = ((...args: Parameters<typeof net.createConnection>) => {
    const [first] = args as unknown as [{ host?: string }];
    if (typeof first === 'object' && first.host?.endsWith('.iot-as-mqtt.cn-shanghai.aliyuncs.com'))
      return createConnection({ host: '127.0.0.1', port });
    return createConnection(...args);
  }) as typeof net.createConnection;
  console.log = () => undefined;
  try {
    const client = aliyun.getAliyunIotMqttClient({ ...options });
    client.options.reconnectPeriod = 0;
    return client;
  } finally {
    console.log = log;
    net.createConnection = createConnection;
  }
}

/** Runs `use` with a connected aliyun-iot-mqtt client and the topics it received. */
async function withAliyunClient<T>(
  port: number,
  options: AliyunOptions,
  use: (client: MqttClient, received: string[]) => Promise<T>,
): Promise<T> {
  const client = aliyunClient(port, options);
  const received: string[] = [];
  client.on('message', (topic) => received.push(topic));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  try {
    return await use(client, received);
  } finally {
    await client.endAsync(true);
  }
}

/** The CONNACK return code an aliyun-iot-mqtt client gets, 0 when accepted. */
function aliyunConnack(port: number, options: AliyunOptions): Promise<number> {
  const client = aliyunClient(port, options);
  return new Promise((resolve) => {
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (err) => {
      client.end(true);
      resolve(Number((err as { code?: number }).code));
    });
  });
}
