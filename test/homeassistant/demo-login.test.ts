/**
 * `OTA_HOMEASSISTANT=on` with the broker checking logins (OTA_BROKER_AUTH=on here; forced when
 * MQTT_HOST reaches beyond this machine): the demo gives Home Assistant a login of its own, with
 * a fresh password written to a file only the user may read. A client logging in with it, as
 * Home Assistant would, finds every device of demo-product, announces its birth and installs a
 * firmware; the banner and the logs say where the password is, never the password.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import should from 'should';
import { DEMO_PRODUCT, demoFlow } from '../../src/demo/demo-flow';
import { HomeAssistantLoginFile, storeHomeAssistantLogin } from '../../src/demo/logins';
import { PACKAGE_ROOT } from '../../src/demo/node-red';
import { addressForClients } from '../../src/demo/start';
import { ChildRun } from '../helpers/child';
import { freePort, getJson, waitFor } from '../helpers/http';
import { FakeHomeAssistant } from './ha-client';
import { discoveryProblems } from './ha-schema';

function press(base: string, injectId: string): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request(`${base}/inject/${injectId}`, { method: 'POST' }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

/** The CONNACK return code of a refused login, or 0 when it was accepted. */
async function connackCode(url: string, options: mqtt.IClientOptions): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    await client.endAsync(true);
    return 0;
  } catch (err) {
    return Number((err as { code?: number }).code);
  }
}

type Interfaces = ReturnType<typeof networkInterfaces>;

/** A machine's network interfaces, as os.networkInterfaces() lists them. */
function machine(addresses: { address: string; internal?: boolean }[]): Interfaces {
  return {
    eth0: addresses.map(({ address, internal = false }) => ({
      address,
      internal,
      netmask: '',
      mac: '00:00:00:00:00:00',
      cidr: null,
      ...(address.includes(':') ? { family: 'IPv6' as const, scopeid: 0 } : { family: 'IPv4' as const }),
    })),
  };
}

describe("Home Assistant's login in the demo, its parts", function () {
  it("the broker address Home Assistant is told is this machine's on the network when the broker listens on all", function () {
    const lan = machine([
      { address: '127.0.0.1', internal: true },
      { address: 'fe80::1' },
      { address: '192.168.1.20' },
      { address: '2001:db8::5' },
    ]);
    should(addressForClients('0.0.0.0', lan)).equal('192.168.1.20');
    should(addressForClients('::', machine([{ address: 'fe80::1' }, { address: '2001:db8::5' }]))).equal(
      '[2001:db8::5]',
    );
    should(addressForClients('192.168.1.20', lan)).equal('192.168.1.20');
    should(addressForClients('127.0.0.1', lan)).equal('127.0.0.1');
    should(addressForClients('0.0.0.0', machine([{ address: '127.0.0.1', internal: true }]))).be.undefined();
  });

  it('the login file is written readable by the user only, even over an older readable one, and removed without a login', function () {
    const dir = mkdtempSync(join(tmpdir(), 'ota-ha-login-file-'));
    try {
      const file = join(dir, 'homeassistant-login.json');
      writeFileSync(file, '{}');
      chmodSync(file, 0o644);
      const login = {
        broker: '127.0.0.1',
        port: 1883,
        username: 'homeassistant',
        password: 'p',
        discoveryPrefix: 'homeassistant',
      };
      should(storeHomeAssistantLogin(dir, login)).equal(file);
      should(statSync(file).mode & 0o777).equal(0o600);
      should(JSON.parse(readFileSync(file, 'utf8'))).eql(login);
      storeHomeAssistantLogin(dir);
      should(existsSync(file)).be.false();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the demo with OTA_HOMEASSISTANT=on and logins checked', function () {
  this.timeout(180_000);
  let demo: ChildRun | undefined;
  let ha: FakeHomeAssistant | undefined;
  let dir: string;
  let port: number;
  let mqttPort: number;
  let login: HomeAssistantLoginFile;
  const file = () => join(dir, 'homeassistant-login.json');

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-demo-ha-login-'));
    port = await freePort();
    mqttPort = await freePort();
    demo = ChildRun.node(join(PACKAGE_ROOT, 'build', 'src', 'demo', 'start.js'), [], {
      env: {
        PORT: String(port),
        MQTT_PORT: String(mqttPort),
        OTA_DEMO_DIR: dir,
        SIM_DEVICES: '8',
        OTA_HOMEASSISTANT: 'on',
        OTA_BROKER_AUTH: 'on',
      },
    });
    await demo.waitForOutput('Settings → Updates', 120_000);
    login = JSON.parse(readFileSync(file(), 'utf8')) as HomeAssistantLoginFile;
  });

  after(async function () {
    await ha?.close();
    await demo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the login to homeassistant-login.json, readable by the user only', function () {
    should(statSync(file()).mode & 0o777).equal(0o600);
    should(login).match({
      broker: '127.0.0.1',
      port: mqttPort,
      username: 'homeassistant',
      discoveryPrefix: 'homeassistant',
    });
    should(login.password).match(/^[A-Za-z0-9_-]{24}$/);
  });

  it('the banner says the user name, the broker address and where the password is', function () {
    should(demo?.stdout).containEql(`point its MQTT integration at broker 127.0.0.1, port ${mqttPort} (`);
    should(demo?.stdout).containEql(`username "homeassistant", password in ${file()} (new on every start)`);
    should(demo?.stdout).containEql('Home Assistant as "homeassistant"');
  });

  it('refuses Home Assistant without its password', async function () {
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    should(await connackCode(url, { clientId: 'ha-guess', username: 'homeassistant', password: 'guess' })).equal(5);
    should(await connackCode(url, { clientId: 'ha-none', username: 'homeassistant' })).equal(5);
  });

  it('with the password, Home Assistant finds a valid config for every device of demo-product, and its birth is answered', async function () {
    const url = `mqtt://${login.username}:${login.password}@${login.broker}:${login.port}`;
    ha = await FakeHomeAssistant.connect(url, login.discoveryPrefix);
    const base = `http://127.0.0.1:${port}`;
    const [fleet] = await getJson<{ id: string }[]>(`${base}/ota/fleets`);
    const names = await waitFor(
      '8 devices of demo-product',
      async () => {
        const devices = await getJson<{ productKey: string; deviceName: string }[]>(
          `${base}/ota/fleets/${fleet.id}/devices`,
        );
        const ours = devices.filter((d) => d.productKey === DEMO_PRODUCT).map((d) => d.deviceName);
        return ours.length === 8 ? ours.sort() : undefined;
      },
      60_000,
    );
    const seen = () => [...(ha?.configs.values() ?? [])].map((c) => (c.device as { name: string }).name).sort();
    await ha.until('a config for every device of demo-product', () => seen().join() === names.join(), 60_000);
    for (const config of ha.configs.values()) {
      should(discoveryProblems(config)).eql([]);
      should(config).match({ device: { model: DEMO_PRODUCT } });
    }
    should(ha.problems).eql([]);

    // Home Assistant (re)starting: its birth on <prefix>/status has every config sent again.
    const before = ha.allConfigs.length;
    await ha.birth();
    await ha.until('every config again', () => (ha?.allConfigs.length ?? 0) >= before + names.length, 60_000);
  });

  it('Install pressed in Home Assistant upgrades the device', async function () {
    if (!ha) throw new Error('Home Assistant is not connected');
    const base = `http://127.0.0.1:${port}`;
    const upload = demoFlow(new URL('mqtt://127.0.0.1'), base).flows.find(
      (n) => n.type === 'inject' && n.name === 'upload firmware',
    );
    should(await press(base, String(upload?.id))).equal(200);
    const client = ha;
    const objectId = [...client.configs.keys()].find((id) => id.startsWith(`ota_${DEMO_PRODUCT}_device-`));
    if (!objectId) throw new Error('no entity of a device- device');
    await client.until('1.1.0 offered', () => client.lastState(objectId)?.latest_version === '1.1.0', 90_000);
    await client.install(objectId);
    await client.until(
      'the install started',
      () => client.attributes(objectId).some((a) => a.result === 'started'),
      30_000,
    );
    await client.until('1.1.0 installed', () => client.lastState(objectId)?.installed_version === '1.1.0', 90_000);
    should(client.problems).eql([]);
  });

  it('neither the output nor the Node-RED log carries the password', function () {
    should(demo?.output.includes(login.password)).be.false();
    should(readFileSync(join(dir, 'node-red.log'), 'utf8').includes(login.password)).be.false();
  });
});
