/**
 * Simulated devices that log in signed (--device-secret, --secrets) against a real Aedes whose
 * authenticate hook checks Alibaba's login with parseLogin/checkLogin and whose authorization
 * hooks enforce each device's topic rights: signed devices connect and upgrade, a wrong secret is
 * refused, and no error shows a secret.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AedesOptions, Client } from 'aedes';
import should from 'should';
import { checkLogin, LoginClaim, mayPublish, maySubscribe, parseLogin } from '../../src/identity';
import { HELP, parseArgs, readSecrets, secretKey, Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import {
  dev,
  firmwareOf,
  makePackage,
  PackageServer,
  startPackageServer,
  testOptions,
  waitForState,
  waitUntil,
  Watcher,
} from './support';

const PACKAGE = makePackage(20_000);
const SECRET = 'sim-secret-4f1c9a';

interface Logins {
  accepted: LoginClaim[];
  refused: string[];
}

/** Devices must log in signed with their secret; the watcher (the platform) logs in without a user name. */
function signedOnly(
  secretOf: (productKey: string, deviceName: string) => string | undefined,
  logins: Logins,
): AedesOptions {
  const devices = new WeakMap<Client, LoginClaim>();
  return {
    authenticate(client, username, password, callback) {
      if (username === undefined && client.id.startsWith('watcher-')) return callback(null, true);
      const parsed = parseLogin({ clientId: client.id, username, password });
      const secret = parsed.ok ? secretOf(parsed.claim.productKey, parsed.claim.deviceName) : undefined;
      if (!parsed.ok || secret === undefined || !checkLogin(parsed.claim, secret)) {
        logins.refused.push(
          parsed.ok ? `${parsed.claim.productKey}/${parsed.claim.deviceName}: wrong secret` : parsed.reason,
        );
        return callback(Object.assign(new Error('bad user name or password'), { returnCode: 4 as const }), false);
      }
      logins.accepted.push(parsed.claim);
      devices.set(client, parsed.claim);
      callback(null, true);
    },
    authorizePublish(client, packet, callback) {
      const device = client && devices.get(client);
      if (!device || mayPublish(device, packet.topic)) return callback(null);
      callback(new Error(`${device.deviceName} may not publish on ${packet.topic}`));
    },
    authorizeSubscribe(client, sub, callback) {
      const device = devices.get(client);
      callback(null, !device || maySubscribe(device, sub.topic) ? sub : null);
    },
  };
}

describe('ota-sim: signed logins', function () {
  let broker: TestBroker;
  let server: PackageServer;
  let watcher: Watcher;
  let sim: Simulation | undefined;
  let logins: Logins;

  async function start(secretOf: (productKey: string, deviceName: string) => string | undefined): Promise<void> {
    logins = { accepted: [], refused: [] };
    broker = await startAedes(signedOnly(secretOf, logins));
    watcher = await Watcher.start(broker.url);
    server = await startPackageServer(PACKAGE.bytes);
  }

  afterEach(async function () {
    await sim?.stop();
    sim = undefined;
    await watcher.close();
    await server.close();
    await broker.close();
  });

  it('devices with one --device-secret log in as iotkit 3.x does and upgrade', async function () {
    await start(() => SECRET);
    sim = new Simulation(testOptions(broker.url, { devices: 2, deviceSecret: SECRET }));
    await sim.start();
    for (const name of ['sim-001', 'sim-002'])
      await watcher.notify(dev(name), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'upgraded');
    await waitForState(sim, 'sim-002', 'upgraded');
    should(sim.summary()).containDeep({ total: 2, upgraded: 2, failed: 0 });
    const first = logins.accepted.find((claim) => claim.clientIdBase === 'pk1.sim-001');
    should(first).eql({
      productKey: 'pk1',
      deviceName: 'sim-001',
      signmethod: 'hmacsha256',
      clientIdBase: 'pk1.sim-001',
      params: {
        timestamp: '2524608000000',
        securemode: '3',
        signmethod: 'hmacsha256',
        _v: 'ota-sim',
        lan: 'C',
        _ss: '1',
        gw: '0',
        ext: '0',
      },
      password: (first as LoginClaim).password,
    });
    // The probe logs in as the first device under a client id of its own; then each device, twice (boot and reboot).
    should(
      logins.accepted
        .map((claim) => claim.clientIdBase)
        .filter((base) => base.startsWith('pk1.'))
        .sort(),
    ).eql(['pk1.sim-001', 'pk1.sim-001', 'pk1.sim-002', 'pk1.sim-002']);
    should(logins.refused).eql([]);
  });

  it('devices with their own secrets (a map keyed pk/dn) log in and upgrade', async function () {
    const secrets = new Map([
      [secretKey('pk1', 'sim-001'), 'first-secret'],
      [secretKey('pk1', 'sim-002'), 'second-secret'],
    ]);
    await start((pk, dn) => secrets.get(secretKey(pk, dn)));
    sim = new Simulation(testOptions(broker.url, { devices: 2, secrets }));
    await sim.start();
    await watcher.notify(dev('sim-002'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-002', 'upgraded');
    should(logins.refused).eql([]);
  });

  it('a wrong secret is refused: the simulation does not start, and the error shows no secret', async function () {
    await start(() => SECRET);
    sim = new Simulation(testOptions(broker.url, { devices: 1, deviceSecret: 'not-the-secret' }));
    const err = await sim.start().then(
      () => undefined,
      (e: Error) => e,
    );
    should(err?.message).match(
      /^ota-sim cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: Connection refused: Bad username or password$/,
    );
    should(logins.refused).eql(['pk1/sim-001: wrong secret']);
  });

  it('a device whose secret is wrong stays away, reported as a warning, while the others upgrade', async function () {
    await start((_pk, dn) => (dn === 'sim-002' ? 'the-real-secret' : SECRET));
    const warnings: string[] = [];
    sim = new Simulation(testOptions(broker.url, { devices: 2, deviceSecret: SECRET }));
    sim.on('warning', (message) => warnings.push(message));
    // start() resolves once every device has booted, which sim-002 never does.
    void sim.start().catch(() => undefined);
    await waitForState(sim, 'sim-001', 'idle');
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(sim, 'sim-001', 'upgraded');
    await waitUntil(() => warnings.some((w) => w.startsWith('pk1.sim-002 @')), 'a warning about sim-002');
    should(warnings.find((w) => w.startsWith('pk1.sim-002 @'))).match(
      /^pk1\.sim-002 @ mqtt:\/\/127\.0\.0\.1:\d+: Connection refused: Bad username or password$/,
    );
    should(warnings.join('\n')).not.containEql(SECRET);
    should(sim.devices.find((d) => d.name === 'sim-002')?.state).equal('booting');
  });

  describe('options', function () {
    let dir: string;
    before(async function () {
      dir = await mkdtemp(join(tmpdir(), 'ota-sim-secrets-'));
    });
    after(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    const BASE = ['--broker', 'mqtt://localhost:1883', '--product', 'pk1', '--version', '1.0.0', '--devices', '2'];

    async function file(name: string, text: string): Promise<string> {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    }

    function refusal(argv: string[]): string {
      try {
        parseArgs(argv);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected the command line to be refused');
    }

    it('--secrets reads the CSV Alibaba exports, with its header', async function () {
      const path = await file(
        'devices.csv',
        '\uFEFFProductKey,DeviceName,DeviceSecret\r\npk1,sim-001,s1\r\npk1,sim-002,s2\r\n',
      );
      const parsed = parseArgs([...BASE, '--secrets', path]);
      should(parsed.help || parsed.options.secrets).eql(
        new Map([
          ['pk1/sim-001', 's1'],
          ['pk1/sim-002', 's2'],
        ]),
      );
    });

    it('--secrets reads a CSV without a header, and a JSON array', function () {
      should(readSecrets('pk1,sim-001,s1\npk1,sim-002,s2\n', 'f')).eql(
        new Map([
          ['pk1/sim-001', 's1'],
          ['pk1/sim-002', 's2'],
        ]),
      );
      should(readSecrets('[{"productKey":"pk1","deviceName":"sim-001","deviceSecret":"s1"}]', 'f')).eql(
        new Map([['pk1/sim-001', 's1']]),
      );
    });

    it('a secrets file that lacks a simulated device is refused, naming the device', async function () {
      const path = await file('one.csv', 'pk1,sim-001,s1\n');
      should(refusal([...BASE, '--secrets', path])).equal(
        '--secrets has no secret for pk1/sim-002: give one for every simulated device, or a --device-secret for the rest',
      );
    });

    it('a malformed secrets file is refused by its line, without showing a secret', async function () {
      const path = await file('bad.csv', 'pk1,sim-001,very-secret-1\npk1,very-secret-2\n');
      const message = refusal([...BASE, '--secrets', path]);
      should(message).equal(`--secrets: ${path} line 2 has 2 columns; expected productKey,deviceName,deviceSecret`);
      should(message).not.containEql('very-secret');
    });

    it('a device secret cannot be combined with --share or --password', function () {
      should(refusal([...BASE, '--device-secret', 'xyz-secret', '--share', '2'])).equal(
        "--share expects 1 with --device-secret or --secrets: a signed login is one device's own connection, got 2",
      );
      const message = refusal([...BASE, '--device-secret', 'xyz-secret', '--password', 'pw']);
      should(message).equal(
        '--password cannot be combined with --device-secret or --secrets: a signed login sets the user name and password itself',
      );
    });

    it('an empty device secret is refused without being shown', function () {
      should(refusal([...BASE, '--device-secret', ''])).equal(
        '--device-secret expects a device secret (a non-empty string); the value given is not one (not shown)',
      );
    });

    it('both are listed by --help', function () {
      should(HELP).match(/--device-secret <secret\|@file>/);
      should(HELP).match(/--secrets <file>/);
    });
  });
});
