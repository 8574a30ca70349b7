/**
 * Security: per-device access control at the broker (docs/broker-acl.md). With the Aedes hook of
 * test/helpers/acl.ts a device logs in with its own password and can only publish its own
 * reports and read its own notices; the platform's login can do everything. The Mosquitto
 * `acl_file` of the same document is checked the same way when Mosquitto is installed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { MqttClient } from 'mqtt';
import should from 'should';
import { deviceTopics, mosquittoAclFile, startAedesWithAcl } from '../helpers/acl';
import type { TestBroker } from '../helpers/broker';
import { printFigures } from '../helpers/fuzz-run';
import { Mosquitto, needMosquitto, passwordLine } from '../helpers/mosquitto';
import { needPart } from '../helpers/parts';

const PLATFORM = { username: 'ota-platform', password: randomBytes(12).toString('hex') };
const PASSWORDS: Record<string, string> = {
  'dev-1': randomBytes(12).toString('hex'),
  'dev-2': randomBytes(12).toString('hex'),
};
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client that records what it receives and whether it was cut off. */
interface Peer {
  client: MqttClient;
  received: string[];
  closed: boolean;
}

async function connect(url: string, options: mqtt.IClientOptions): Promise<Peer> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options });
  const peer: Peer = { client, received: [], closed: false };
  client.on('message', (topic) => peer.received.push(topic));
  client.on('close', () => (peer.closed = true));
  return peer;
}

/** Whether a login is refused. */
async function refused(url: string, options: mqtt.IClientOptions): Promise<boolean> {
  try {
    const peer = await connect(url, options);
    await peer.client.endAsync(true);
    return false;
  } catch {
    return true;
  }
}

/** The other device's topics, and the platform's own, that a device must not publish on. */
function forbiddenPublishes(self: string, other: string): string[] {
  const theirs = deviceTopics('pk1', other);
  const mine = deviceTopics('pk1', self);
  return [
    ...theirs.publish,
    ...theirs.subscribe,
    ...mine.subscribe.filter((t) => !mine.publish.includes(t)),
    '/ota/device/inform/pk2/' + self,
    'test/events',
    '/sys/pk1/' + other + '/thing/event/property/post',
  ];
}

function forbiddenSubscriptions(other: string): string[] {
  return [
    '#',
    '/ota/#',
    '/ota/device/upgrade/pk1/+',
    '/ota/device/upgrade/+/+',
    '/sys/pk1/+/thing/#',
    '/ota/device/inform/#',
    ...deviceTopics('pk1', other).subscribe,
    ...deviceTopics('pk1', other).publish,
  ];
}

/**
 * The checks both brokers must pass. `login` gives a device's connection options; `cutOff` says
 * whether the broker disconnects a device that publishes where it may not (Aedes) or drops the
 * message silently (Mosquitto).
 */
function aclBehaviour(
  ctx: () => { url: string; login: (device: string, password?: string) => mqtt.IClientOptions; cutOff: boolean },
  figures: Record<string, number>,
) {
  let platform: Peer;
  const peers: Peer[] = [];

  beforeEach(async function () {
    const { url } = ctx();
    platform = await connect(url, {
      clientId: `platform-${randomBytes(4).toString('hex')}`,
      username: PLATFORM.username,
      password: PLATFORM.password,
    });
    await platform.client.subscribeAsync(['/ota/device/#', '/sys/+/+/thing/#'], { qos: 1 });
    peers.push(platform);
  });

  afterEach(async function () {
    for (const p of peers.splice(0)) await p.client.endAsync(true);
  });

  async function device(name: string): Promise<Peer> {
    const peer = await connect(ctx().url, ctx().login(name));
    peers.push(peer);
    return peer;
  }

  it('a device with a wrong password, a missing one, or as a device that does not exist cannot log in', async function () {
    const { url, login } = ctx();
    should(await refused(url, login('dev-1', 'wrong'))).be.true();
    should(await refused(url, { ...login('dev-1'), password: undefined })).be.true();
    should(await refused(url, login('dev-9', PASSWORDS['dev-1']))).be.true();
    should(await refused(url, { clientId: 'anonymous' })).be.true();
    figures.loginsRefused += 4;
  });

  it("a device's own reports reach the platform", async function () {
    const dev1 = await device('dev-1');
    for (const topic of deviceTopics('pk1', 'dev-1').publish)
      await dev1.client.publishAsync(topic, '{"id":1,"params":{}}', { qos: 1 });
    await delay(200);
    should(platform.received.sort()).eql([...deviceTopics('pk1', 'dev-1').publish].sort());
  });

  it("a device cannot publish another device's reports, nor notices, nor anything else", async function () {
    for (const topic of forbiddenPublishes('dev-1', 'dev-2')) {
      const dev1 = await device('dev-1');
      const dev2 = await device('dev-2');
      await dev2.client.subscribeAsync(deviceTopics('pk1', 'dev-2').subscribe, { qos: 1 });
      dev1.client.publish(topic, '{"id":1,"params":{"version":"6.6.6","step":"-1"}}', { qos: 0 });
      await delay(150);
      should(platform.received).eql([], `${topic} reached the platform`);
      should(dev2.received).eql([], `${topic} reached dev-2`);
      if (ctx().cutOff) should(dev1.closed).be.true(`dev-1 was not cut off after publishing on ${topic}`);
      figures.publishesRefused++;
    }
  });

  it('a device reads only its own notices, however it subscribes', async function () {
    const dev1 = await device('dev-1');
    const dev2 = await device('dev-2');
    await dev1.client.subscribeAsync(deviceTopics('pk1', 'dev-1').subscribe, { qos: 1 });
    await dev2.client.subscribeAsync(deviceTopics('pk1', 'dev-2').subscribe, { qos: 1 });
    for (const filter of forbiddenSubscriptions('dev-2')) {
      await dev1.client.subscribeAsync(filter, { qos: 1 }).catch(() => undefined);
      figures.subscriptionsTried++;
    }
    for (const name of ['dev-1', 'dev-2']) {
      for (const topic of deviceTopics('pk1', name).subscribe)
        await platform.client.publishAsync(topic, '{"code":"1000"}', { qos: 1 });
    }
    for (const topic of deviceTopics('pk1', 'dev-2').publish)
      await dev2.client.publishAsync(topic, '{"id":1,"params":{}}', { qos: 1 });
    await delay(300);
    should(dev1.received.sort()).eql([...deviceTopics('pk1', 'dev-1').subscribe].sort());
    should(dev2.received.filter((t) => !t.startsWith('/ota/device/request/')).sort()).eql(
      deviceTopics('pk1', 'dev-2')
        .subscribe.filter((t) => !t.startsWith('/ota/device/request/'))
        .sort(),
    );
  });
}

describe('security: per-device ACLs at the broker', function () {
  this.timeout(60_000);

  describe('the embedded broker (Aedes) with the hook of test/helpers/acl.ts', function () {
    let broker: TestBroker;
    const figures = { loginsRefused: 0, publishesRefused: 0, subscriptionsTried: 0 };
    before(async function () {
      broker = await startAedesWithAcl({
        platform: [PLATFORM],
        devicePassword: (pk, dn) => (pk === 'pk1' ? PASSWORDS[dn] : undefined),
      });
    });
    after(async function () {
      await broker?.close();
      printFigures('broker ACL (Aedes)', figures);
    });
    aclBehaviour(
      () => ({
        url: broker.url,
        login: (dn, password = PASSWORDS[dn] ?? 'x') => ({ clientId: dn, username: 'pk1', password }),
        cutOff: true,
      }),
      figures,
    );

    it("a device cannot log in as another device of its product with its own password, nor with the simulator's client id", async function () {
      should(await refused(broker.url, { clientId: 'dev-2', username: 'pk1', password: PASSWORDS['dev-1'] })).be.true();
      should(
        await refused(broker.url, { clientId: 'pk1.dev-2', username: 'pk1', password: PASSWORDS['dev-1'] }),
      ).be.true();
      const sim = await connect(broker.url, { clientId: 'pk1.dev-1', username: 'pk1', password: PASSWORDS['dev-1'] });
      await sim.client.endAsync(true);
    });
  });

  describe('Mosquitto with the acl_file of docs/broker-acl.md', function () {
    let broker: Mosquitto | undefined;
    const figures = { loginsRefused: 0, publishesRefused: 0, subscriptionsTried: 0 };
    const productPassword = randomBytes(12).toString('hex');
    before(async function () {
      const product = passwordLine('/tmp', 'pk1', productPassword);
      const platform = passwordLine('/tmp', PLATFORM.username, PLATFORM.password);
      needPart(this, product && platform, 'mosquitto_passwd');
      broker = await needMosquitto(this, {
        files: { passwords: `${product}\n${platform}\n`, acl: mosquittoAclFile() },
        config: ['allow_anonymous false', 'password_file {dir}/passwords', 'acl_file {dir}/acl'],
      });
    });
    after(async function () {
      await broker?.close();
      if (broker) printFigures('broker ACL (Mosquitto)', figures);
    });

    it('the ACL in docs/broker-acl.md is the one tested here', function () {
      const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'broker-acl.md'), 'utf8');
      should(doc.includes(mosquittoAclFile())).be.true();
    });

    aclBehaviour(
      () => ({
        url: (broker as Mosquitto).url,
        login: (dn, password = dn === 'dev-9' ? 'x' : productPassword) => ({
          clientId: dn,
          username: dn === 'dev-9' ? 'pk9' : 'pk1',
          password,
        }),
        cutOff: false,
      }),
      figures,
    );
  });
});
