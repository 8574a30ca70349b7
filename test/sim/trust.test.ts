/**
 * Simulated devices with --trust-key, against a real broker and a real HTTP server: they install
 * only releases whose signed manifest passes, keep the highest sequence per module, and refuse
 * unsigned, foreign-signed, mismatched, expired and older releases with T3 -3 and the reason.
 * The notices are built here with the identity layer's signManifest, as the platform will.
 */
import { KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { ReleaseManifest, signManifest } from '../../src/identity';
import { FirmwareDescriptor, generateSigningKeyPair, readPrivateKey, signPackageDigest } from '../../src/protocol';
import { HELP, parseArgs, SimState, Simulation, systemTimers } from '../../src/sim';
import { formatTable } from '../../src/sim/report';
import { startAedes, TestBroker } from '../helpers/broker';
import {
  dev,
  firmwareOf,
  makePackage,
  PackageServer,
  PRODUCT,
  startPackageServer,
  t1,
  t3,
  testOptions,
  waitForState,
  waitUntil,
  Watcher,
} from './support';

const PACKAGE = makePackage(40_000);
const FLEET = generateSigningKeyPair();
const FLEET_KEY = readPrivateKey('fleet', FLEET.privateKey);
const ATTACKER_KEY = readPrivateKey('attacker', generateSigningKeyPair().privateKey);
/** 2030-01-01T00:00:00Z: later than the real clock, which the simulation uses unless a test gives it another. */
const EXPIRES = 1_893_456_000;

/** The release `version` of the whole firmware of pk1, `sequence` in its history. */
function release(version: string, sequence: number, change: Partial<ReleaseManifest> = {}): ReleaseManifest {
  return {
    productKey: PRODUCT,
    module: 'default',
    version,
    size: PACKAGE.bytes.length,
    sha256: PACKAGE.sha256,
    sequence,
    expires: EXPIRES,
    ...change,
  };
}

describe('ota-sim: devices with --trust-key', function () {
  let broker: TestBroker;
  let server: PackageServer;
  let watcher: Watcher;
  let sim: Simulation | undefined;

  before(async function () {
    broker = await startAedes();
    server = await startPackageServer(PACKAGE.bytes);
  });

  after(async function () {
    await server.close();
    await broker.close();
  });

  beforeEach(async function () {
    watcher = await Watcher.start(broker.url);
  });

  afterEach(async function () {
    await sim?.stop();
    sim = undefined;
    await watcher.close();
  });

  /** The notice of `manifest` (by default its own version, the fleet's signature) for the package at the server. */
  function notice(
    manifest: ReleaseManifest,
    key: KeyObject = FLEET_KEY,
    fields: Record<string, unknown> = {},
  ): FirmwareDescriptor {
    return firmwareOf(PACKAGE, {
      version: manifest.version,
      url: server.url,
      extData: signManifest(key, manifest),
      ...fields,
    });
  }

  async function startTrusting(devices = 1, now?: () => number): Promise<Simulation> {
    const started = new Simulation(
      testOptions(broker.url, { devices, trustKey: FLEET.publicKey }),
      now ? { timers: { ...systemTimers, now } } : {},
    );
    sim = started;
    await started.start();
    await waitUntil(() => watcher.reports.length >= devices, 'the boot T1s');
    return started;
  }

  /** The device's last report, once it has reported a failure. */
  async function lastFailure(name = 'sim-001'): Promise<string> {
    const reports = await watcher.untilFailure(name);
    return reports[reports.length - 1].text;
  }

  function device(s: Simulation, name = 'sim-001') {
    return s.devices.find((d) => d.name === name) as (typeof s.devices)[number];
  }

  /** Resolves at the device's `count`-th entry into `state`. */
  function entries(s: Simulation, state: SimState, name = 'sim-001'): () => number {
    let n = 0;
    s.on('state', (d, _from, to) => {
      if (d.name === name && to === state) n++;
    });
    return () => n;
  }

  it('accepts a notice whose manifest the fleet signed, upgrades, and records the sequence', async function () {
    const s = await startTrusting();
    await watcher.notify(dev('sim-001'), notice(release('1.0.1', 7)));
    await waitForState(s, 'sim-001', 'upgraded');
    await waitUntil(() => watcher.of('sim-001').some((m) => m.text === t1(1, '1.0.1')), 'the T1 after the reboot');
    should(device(s).versions).eql({ default: '1.0.1' });
    should(device(s).installedSequences).eql({ default: 7 });
  });

  it('refuses an unsigned notice with step -3 and stays on its version', async function () {
    const s = await startTrusting();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitForState(s, 'sim-001', 'failed');
    should(await lastFailure()).equal(
      t3(
        23,
        -3,
        'unsigned release: the notice carries no release manifest (extData.otaManifest), and this device accepts only releases signed by its fleet',
      ),
    );
    should(device(s).versions).eql({ default: '1.0.0' });
    should(s.summary().failuresByCause).eql({ 'refused: unsigned release': 1 });
  });

  it('refuses a manifest signed by another key', async function () {
    const s = await startTrusting();
    await watcher.notify(dev('sim-001'), notice(release('1.0.1', 7), ATTACKER_KEY));
    await waitForState(s, 'sim-001', 'failed');
    should(await lastFailure()).equal(
      t3(
        23,
        -3,
        "release manifest signature does not verify with this device's trusted key: the manifest was tampered with or signed by another key",
      ),
    );
    should(s.summary().failuresByCause).eql({ 'refused: bad manifest signature': 1 });
  });

  it('refuses a genuine manifest of another version than the notice', async function () {
    const s = await startTrusting();
    await watcher.notify(dev('sim-001'), notice(release('0.9.0', 7), FLEET_KEY, { version: '1.0.1' }));
    await waitForState(s, 'sim-001', 'failed');
    should(await lastFailure()).equal(
      t3(23, -3, 'release manifest does not match the notice: its version is "0.9.0", the notice\'s is "1.0.1"'),
    );
    should(s.summary().failuresByCause).eql({ 'refused: manifest not for this notice': 1 });
  });

  it('refuses a genuine manifest of another package than the one downloaded', async function () {
    const s = await startTrusting();
    const other = 'cd'.repeat(32);
    await watcher.notify(dev('sim-001'), notice(release('1.0.1', 7, { sha256: other })));
    await waitForState(s, 'sim-001', 'failed');
    should(await lastFailure()).equal(
      t3(
        23,
        -3,
        `release manifest does not match the downloaded package: its sha256 is ${other}, the package's is ${PACKAGE.sha256}`,
      ),
    );
  });

  it('refuses a manifest that expired by the simulation clock', async function () {
    const s = await startTrusting(1, () => (EXPIRES + 60) * 1000);
    await watcher.notify(dev('sim-001'), notice(release('1.0.1', 7)));
    await waitForState(s, 'sim-001', 'failed');
    should(await lastFailure()).equal(
      t3(
        23,
        -3,
        "expired release manifest: it was valid until 2030-01-01T00:00:00Z (expires=1893456000) and this device's clock says 2030-01-01T00:01:00Z; ask the platform for a fresh notice, or set the device's clock",
      ),
    );
    should(s.summary().failuresByCause).eql({ 'refused: expired manifest': 1 });
  });

  it('after upgrading to a higher sequence, refuses a replayed lower one and stays on its version', async function () {
    const s = await startTrusting();
    const older = notice(release('1.0.1', 3));
    await watcher.notify(dev('sim-001'), notice(release('2.0.0', 5)));
    await waitForState(s, 'sim-001', 'upgraded');
    await waitUntil(() => watcher.of('sim-001').some((m) => m.text === t1(1, '2.0.0')), 'the T1 of 2.0.0');
    await watcher.notify(dev('sim-001'), older);
    await waitForState(s, 'sim-001', 'failed');
    should(await lastFailure()).equal(
      t3(
        23,
        -3,
        'a downgrade replay: the release manifest has sequence 3, lower than 5, the highest this device installed for module "default"',
      ),
    );
    should(device(s).versions).eql({ default: '2.0.0' });
    should(device(s).installedSequences).eql({ default: 5 });
    should(s.summary()).containDeep({
      failed: 1,
      byVersion: { '2.0.0': 1 },
      failuresByCause: { 'refused: downgrade replay': 1 },
    });
  });

  it('accepts the same sequence again (a retry) and upgrades once more', async function () {
    const s = await startTrusting();
    const upgraded = entries(s, 'upgraded');
    const same = notice(release('2.0.0', 5));
    await watcher.notify(dev('sim-001'), same);
    await waitUntil(() => upgraded() === 1, 'the first upgrade');
    await watcher.notify(dev('sim-001'), same, 1700000000001);
    await waitUntil(() => upgraded() === 2, 'the upgrade of the retry');
    should(device(s).installedSequences).eql({ default: 5 });
    // The device counts the upgrade when it reboots; its T1 reaches the watcher through the broker a moment later.
    const reports = () => watcher.of('sim-001').filter((m) => m.text === t1(1, '2.0.0'));
    await waitUntil(() => reports().length >= 2, 'the T1 after each upgrade');
    should(reports()).have.length(2);
  });

  it('checks a digestsign beside the manifest with the trusted key', async function () {
    const s = await startTrusting();
    const forged = signPackageDigest(ATTACKER_KEY, PACKAGE.sha256);
    await watcher.notify(dev('sim-001'), notice(release('1.0.1', 7), FLEET_KEY, { digestsign: forged }));
    await waitForState(s, 'sim-001', 'failed');
    should(await lastFailure()).equal(
      t3(
        23,
        -3,
        'the package signature (digestsign) does not match the package: it was tampered with or signed by another key',
      ),
    );
  });

  it('counts the refusals of a fleet by check in the summary and the final table', async function () {
    const s = await startTrusting(4);
    await watcher.notify(dev('sim-001'), notice(release('1.0.1', 7)));
    await watcher.notify(dev('sim-002'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await watcher.notify(dev('sim-003'), notice(release('1.0.1', 7), ATTACKER_KEY));
    await watcher.notify(dev('sim-004'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
    await waitUntil(() => s.summary().upgraded === 1 && s.summary().failed === 3, '1 upgraded and 3 refused');
    should(s.summary()).containDeep({
      upgraded: 1,
      failed: 3,
      failuresByCause: { 'refused: unsigned release': 2, 'refused: bad manifest signature': 1 },
    });
    const table = formatTable(s.summary(), { productKey: PRODUCT, seed: 1, elapsedMs: 1000 }).split('\n');
    should(table.slice(2, 7)).eql([
      'state                                devices',
      '  upgraded                                 1',
      '  failed                                   3',
      '    refused: unsigned release              2',
      '    refused: bad manifest signature        1',
    ]);
  });

  describe('the --trust-key flag', function () {
    let dir: string;
    const base = ['--broker', 'mqtt://localhost:1883', '--product', 'pk1', '--version', '1.0.0'];

    beforeEach(async function () {
      dir = await mkdtemp(join(tmpdir(), 'ota-sim-trust-'));
    });

    afterEach(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    function parsed(...argv: string[]) {
      const result = parseArgs([...base, ...argv]);
      if (result.help) throw new Error('expected options');
      return result.options;
    }

    it('takes the key inline', function () {
      should(parsed('--trust-key', FLEET.publicKey).trustKey).equal(FLEET.publicKey);
    });

    it('takes @path of a file holding the key', async function () {
      const file = join(dir, 'fleet.pub');
      await writeFile(file, `${FLEET.publicKey}\n`);
      should(parsed('--trust-key', `@${file}`).trustKey).equal(FLEET.publicKey);
    });

    it('refuses a file it cannot read, naming the flag', function () {
      const missing = join(dir, 'missing.pub');
      should(() => parsed('--trust-key', `@${missing}`)).throw({
        name: 'OptionError',
        option: '--trust-key',
        message: `--trust-key expects a base64 key, or @ and the path of a readable file holding one (ENOENT), got "@${missing}"`,
      });
    });

    it('refuses a private key given by mistake without showing it', async function () {
      const file = join(dir, 'fleet.key');
      await writeFile(file, FLEET.privateKey);
      const message =
        '--trust-key expects an Ed25519 public key (base64 SPKI DER, as the fleet shows it: 60 characters starting MCowBQYDK2VwAyEA); the value given is not one (not shown, in case it is a private key)';
      should(() => parsed('--trust-key', `@${file}`)).throw({ name: 'OptionError', option: '--trust-key', message });
      should(() => parsed('--trust-key', FLEET.privateKey)).throw({
        name: 'OptionError',
        option: '--trust-key',
        message,
      });
    });

    it('is listed by --help', function () {
      should(HELP).match(
        /\n {2}--trust-key <key\|@file> +fleet's Ed25519 public key \(base64 SPKI, or @file\): devices require a signed release manifest and refuse older releases\n/,
      );
    });
  });
});
