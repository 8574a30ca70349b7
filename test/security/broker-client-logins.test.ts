/**
 * Security: a client login at the broker (src/broker, `clients` of createAedesHooks), as the demo
 * gives Home Assistant: a real Aedes with the hooks, real mqtt.js clients. The login gets in with
 * its password only, reads the discovery and the node's topics, publishes its birth and Install
 * presses — and nothing of the devices': no `#`, no OTA topic, no report in a device's place, no
 * discovery config of its own. Wrong passwords and unknown users are refused as a device's are.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { MqttClient } from 'mqtt';
import should from 'should';
import { createAedesHooks, localAuthority } from '../../src/broker';
import { DEMO_HA } from '../../src/demo/demo-flow';
import { homeAssistantLogin } from '../../src/demo/logins';
import { signLogin } from '../../src/identity';
import { deviceTopics } from '../helpers/acl';
import { startAedes, TestBroker } from '../helpers/broker';
import { eventually } from '../helpers/fleet-red';
import { delay } from '../helpers/red';

const PK = 'demo-product';
const SECRET = randomBytes(16).toString('hex');
const PLATFORM = { username: 'ota-platform', password: randomBytes(18).toString('base64url') };
const HA = homeAssistantLogin(DEMO_HA);
const { prefix, base } = DEMO_HA;
const OBJECT_ID = 'ota_demo-product_dev-1_default_0123abcd';

interface Peer {
  client: MqttClient;
  received: { topic: string; payload: string }[];
  closed: boolean;
}

async function connect(url: string, options: mqtt.IClientOptions): Promise<Peer> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options });
  const peer: Peer = { client, received: [], closed: false };
  client.on('message', (topic, payload) => peer.received.push({ topic, payload: payload.toString() }));
  client.on('close', () => (peer.closed = true));
  return peer;
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

/** Generous: other tests share the machine. */
const until = (what: string, check: () => boolean) => eventually(what, check, 15_000);

const haLogin = (password = HA.password): mqtt.IClientOptions => ({
  clientId: `ha-${randomBytes(4).toString('hex')}`,
  username: HA.username,
  password,
});

describe("security: a client login at the broker (Home Assistant's, as the demo gives it)", function () {
  this.timeout(60_000);
  const lines: string[] = [];
  const peers: Peer[] = [];
  let broker: TestBroker;
  let platform: Peer;

  before(async function () {
    const hooks = createAedesHooks({
      authority: localAuthority({
        secretOf: ({ productKey, deviceName }) => (productKey === PK && deviceName === 'dev-1' ? SECRET : undefined),
      }),
      platform: PLATFORM,
      clients: [HA],
      log: (line) => lines.push(line),
    });
    broker = await startAedes(hooks);
  });

  beforeEach(async function () {
    platform = await connect(broker.url, { clientId: `platform-${randomBytes(4).toString('hex')}`, ...PLATFORM });
    await platform.client.subscribeAsync(['#'], { qos: 1 });
    peers.push(platform);
  });

  afterEach(async function () {
    for (const p of peers.splice(0)) await p.client.endAsync(true);
  });

  after(async function () {
    await broker?.close();
  });

  async function homeAssistant(): Promise<Peer> {
    const peer = await connect(broker.url, haLogin());
    peers.push(peer);
    return peer;
  }

  it('gets in with its password, and not with a wrong one, none, or as an unknown user', async function () {
    should(await connackCode(broker.url, haLogin())).equal(0);
    const refusals: [string, mqtt.IClientOptions, number][] = [
      ['a wrong password', haLogin('guess'), 5],
      ['its password with one character more', haLogin(`${HA.password}x`), 5],
      ['no password', { ...haLogin(), password: undefined }, 5],
      // A plain user name the broker does not know is not a device login either, as for devices.
      ['an unknown user with its password', { ...haLogin(), username: 'homeassistant2' }, 4],
      ["a device's user name with its password", { ...haLogin(), username: `dev-1&${PK}` }, 4],
      ['anonymous', { clientId: 'anonymous' }, 5],
    ];
    const codes = [];
    for (const [what, options] of refusals) codes.push([what, await connackCode(broker.url, options)]);
    should(codes).eql(refusals.map(([what, , code]) => [what, code]));
  });

  it("subscribes to the discovery topics and the node's state, attributes and availability, and receives them", async function () {
    const ha = await homeAssistant();
    const filters = [
      `${prefix}/update/+/config`,
      `${prefix}/status`,
      `${prefix}/#`,
      `${base}/+/state`,
      `${base}/${OBJECT_ID}/attributes`,
      `${base}/availability`,
    ];
    for (const filter of filters) should(await subackCodes(ha.client, filter)).eql([1], filter);
    const topics = [
      `${prefix}/update/${OBJECT_ID}/config`,
      `${base}/${OBJECT_ID}/state`,
      `${base}/${OBJECT_ID}/attributes`,
      `${base}/availability`,
    ];
    for (const topic of topics) await platform.client.publishAsync(topic, '{}', { qos: 1 });
    await until('the messages', () => new Set(ha.received.map((m) => m.topic)).size === topics.length);
    should([...new Set(ha.received.map((m) => m.topic))].sort()).eql([...topics].sort());
  });

  it('publishes its birth, its will and Install presses, which reach the platform', async function () {
    const ha = await connect(broker.url, {
      ...haLogin(),
      will: { topic: `${prefix}/status`, payload: Buffer.from('offline'), qos: 1, retain: false },
    });
    await ha.client.publishAsync(`${prefix}/status`, 'online', { qos: 1 });
    await ha.client.publishAsync(`${base}/${OBJECT_ID}/install`, 'install', { qos: 1 });
    ha.client.stream.destroy(); // gone without a DISCONNECT: the broker publishes its will
    const expected = [
      { topic: `${prefix}/status`, payload: 'online' },
      { topic: `${base}/${OBJECT_ID}/install`, payload: 'install' },
      { topic: `${prefix}/status`, payload: 'offline' },
    ];
    await until('the birth, the install and the will', () => platform.received.length >= expected.length);
    should(platform.received).eql(expected);
  });

  it("cannot subscribe to #, the OTA topics or any device's topics: failures in the SUBACK, nothing received", async function () {
    const ha = await homeAssistant();
    const device = deviceTopics(PK, 'dev-1');
    const filters = [
      '#',
      '+/#',
      '/ota/#',
      '/sys/#',
      '/ota/device/upgrade/+/+',
      '+/status',
      `+/update/+/config`,
      '$SYS/#',
      `$share/g/${prefix}/#`,
      ...device.subscribe,
      ...device.publish,
    ];
    for (const filter of filters) should(await subackCodes(ha.client, filter)).eql([128], `${filter} was granted`);
    for (const topic of [...device.subscribe, ...device.publish, 'test/events'])
      await platform.client.publishAsync(topic, '{"code":"1000"}', { qos: 1 });
    await delay(100);
    should(ha.received).eql([]);
    should(ha.closed).be.false();
  });

  it('cannot publish a T1, T3 or T2 in a device’s place, nor a discovery config or a state: cut off, nothing delivered', async function () {
    const forbidden = [
      `/ota/device/inform/${PK}/dev-1`, // T1
      `/ota/device/progress/${PK}/dev-1`, // T3
      `/ota/device/upgrade/${PK}/dev-1`, // T2
      `${prefix}/update/${OBJECT_ID}/config`,
      `${base}/${OBJECT_ID}/state`,
      `${base}/availability`,
      `${base}/${OBJECT_ID}/install/more`,
      'test/events',
    ];
    for (const topic of forbidden) {
      const ha = await homeAssistant();
      const before = platform.received.length;
      ha.client.publish(topic, '{"id":"1","params":{"version":"6.6.6","step":"100"}}', { qos: 0 });
      await until(`cut off after publishing on ${topic}`, () => ha.closed);
      await delay(50);
      should(platform.received.slice(before)).eql([], `${topic} was delivered`);
    }
  });

  it('a device still gets in with its own signed login beside it, and its report reaches the platform', async function () {
    const dev = await connect(broker.url, signLogin({ productKey: PK, deviceName: 'dev-1', deviceSecret: SECRET }));
    peers.push(dev);
    await dev.client.publishAsync(`/ota/device/inform/${PK}/dev-1`, '{"id":"1","params":{"version":"1.0.0"}}', {
      qos: 1,
    });
    await until('the report', () => platform.received.length === 1);
    should(platform.received.map((m) => m.topic)).eql([`/ota/device/inform/${PK}/dev-1`]);
  });

  it('each refusal is told in a log line as a device’s is, and no line carries the password', function () {
    for (const line of lines) should(line.includes(HA.password)).be.false(`a log line carries the password`);
    should(
      lines.some((l) => /^login refused, client "ha-[0-9a-f]+" \(username "homeassistant"\): wrong password$/.test(l)),
    ).be.true();
    should(
      lines.some((l) =>
        /^subscription refused, client "ha-[0-9a-f]+" \(user "homeassistant"\) may not subscribe to "#"$/.test(l),
      ),
    ).be.true();
    should(
      lines.some((l) =>
        /^publish refused, client "ha-[0-9a-f]+" \(user "homeassistant"\) may not publish on "\/ota\/device\/inform\/demo-product\/dev-1": disconnected$/.test(
          l,
        ),
      ),
    ).be.true();
    should(lines.some((l) => /^login refused, .*"homeassistant2".*not a device login/.test(l))).be.true();
  });
});

describe('security: client logins that could stand in for the platform or a device are refused when the hooks are made', function () {
  const authority = localAuthority({ secretOf: () => undefined });
  const login = (username: string) => ({ username, password: 'pw-not-shown', publish: [], subscribe: [] });

  it('a user name of a device login, the platform’s, or one given twice throws, naming it and never its password', function () {
    const cases: [string, ReturnType<typeof login>[], string][] = [
      [
        'a device login',
        [login(`dev-1&${PK}`)],
        'clients[0] (username "dev-1&demo-product"): a user name with & is a device\'s login (<deviceName>&<productKey>)',
      ],
      [
        'the platform',
        [login('ota-platform')],
        'clients[0] (username "ota-platform"): that is the platform\'s user name',
      ],
      ['twice', [login('ha'), login('ha')], 'clients[1] (username "ha"): the user name is given twice'],
      ['empty', [login('')], 'clients[0].username must be a non-empty string'],
    ];
    for (const [what, clients, message] of cases) {
      let error: Error | undefined;
      try {
        createAedesHooks({ authority, platform: PLATFORM, clients });
      } catch (err) {
        error = err as Error;
      }
      should(error?.message).equal(message, what);
      should(error?.message).not.containEql('pw-not-shown');
    }
  });

  it('an empty password or a malformed filter throws, saying which', function () {
    should(() => createAedesHooks({ authority, clients: [{ ...login('ha'), password: '' }] })).throw(
      'clients[0] (username "ha"): password must be a non-empty string',
    );
    should(() => createAedesHooks({ authority, clients: [{ ...login('ha'), subscribe: ['a/#/b'] }] })).throw(
      'clients[0] (username "ha"): subscribe: in the topic filter "a/#/b", # may only be the last level',
    );
  });
});
