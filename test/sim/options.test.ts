/** The command line of ota-sim: what it reads, the defaults it fills in, and how it refuses. */
import should from 'should';
import { generateSigningKeyPair } from '../../src/protocol';
import { DEFAULT_TIMING, deviceName, HELP, parseArgs, SimOptions, simOptions } from '../../src/sim';

const REQUIRED = ['--broker', 'mqtt://localhost:1883', '--product', 'pk1', '--version', '1.0.0'];

function parse(...argv: string[]): SimOptions {
  const parsed = parseArgs([...REQUIRED, ...argv]);
  if (parsed.help) throw new Error('expected options, got --help');
  return parsed.options;
}

/** What a refusal looks like to should(fn).throw(…): an OptionError naming the flag. */
function refusal(option: string, message: string | RegExp): { name: string; option: string; message: string | RegExp } {
  return { name: 'OptionError', option, message };
}

describe('ota-sim options', function () {
  it('fills in every default around the three required flags', function () {
    should(parse()).eql({
      broker: 'mqtt://localhost:1883',
      insecure: false,
      devices: 1,
      productKey: 'pk1',
      version: '1.0.0',
      modules: ['default'],
      moduleVersions: { default: '1.0.0' },
      namePrefix: 'sim-',
      pull: false,
      share: 1,
      seed: 1,
      timing: { ...DEFAULT_TIMING },
      faults: {
        failDownload: { count: 0 },
        failVerify: { count: 0 },
        failBurn: { count: 0 },
        offline: { count: 0 },
        wrongVersion: { count: 0 },
        silent: { count: 0 },
        slow: { count: 0 },
      },
      json: false,
    });
  });

  it('reads a command line with a device count, a product, a version and modules', function () {
    const options = parseArgs([
      '--broker',
      'mqtt://host:1883',
      '--devices',
      '100',
      '--product',
      'pk1',
      '--version',
      '1.0.0',
      '--modules',
      'default,MCU',
    ]);
    should(options).containDeep({
      help: false,
      options: {
        broker: 'mqtt://host:1883',
        devices: 100,
        modules: ['default', 'MCU'],
        moduleVersions: { default: '1.0.0', MCU: '1.0.0' },
      },
    });
  });

  it('takes --flag=value as well as --flag value', function () {
    should(parse('--devices=7', '--seed', '42')).containDeep({ devices: 7, seed: 42 });
  });

  it('reads a fault with a dot or a percent sign as a probability and an integer as a count', function () {
    const options = parse(
      '--devices',
      '10',
      '--fail-download',
      '0.05',
      '--fail-verify',
      '5%',
      '--fail-burn',
      '3',
      '--offline',
      '1.0',
      '--silent',
      '0',
    );
    should(options.faults).containDeep({
      failDownload: { probability: 0.05 },
      failVerify: { probability: 0.05 },
      failBurn: { count: 3 },
      offline: { probability: 1 },
      silent: { count: 0 },
    });
  });

  it('reads durations with units, a bare number in the unit of the flag', function () {
    const options = parse(
      '--boot-ms',
      '250',
      '--reboot-ms',
      '2s',
      '--burn-ms',
      '1.5s',
      '--offline-ms',
      '1m',
      '--duration',
      '30',
      '--exit-when-idle',
      '500ms',
    );
    should(options.timing).containDeep({ bootMs: 250, rebootMs: 2000, burnMs: 1500, offlineMs: 60_000 });
    should(options).containDeep({ durationLimit: 30_000, exitWhenIdle: 500 });
  });

  it('reads the slow rate with a binary multiple', function () {
    should(parse('--slow-rate', '64k').timing.slowBytesPerSecond).equal(65_536);
    should(parse('--slow-rate', '1m').timing.slowBytesPerSecond).equal(1_048_576);
  });

  it('takes switches, credentials and module versions', function () {
    const options = parse(
      '--pull',
      '--json',
      '--insecure',
      '--username',
      'u',
      '--password',
      'p',
      '--modules',
      'default,MCU=2.0.1',
      '--share',
      '100',
    );
    should(options).containDeep({
      pull: true,
      json: true,
      insecure: true,
      username: 'u',
      password: 'p',
      share: 100,
      moduleVersions: { default: '1.0.0', MCU: '2.0.1' },
    });
  });

  it('accepts an Ed25519 public key', function () {
    const { publicKey } = generateSigningKeyPair();
    should(parse('--public-key', publicKey).publicKey).equal(publicKey);
  });

  it('answers --help with the help text', function () {
    should(parseArgs(['--devices', 'x', '--help'])).eql({ help: true });
    should(HELP).startWith('Usage: ota-sim --broker <url> --product <pk> --version <v> [options]');
    should(HELP).match(/--fail-download <p\|n> +devices whose download breaks off: step -2/);
  });

  describe('refuses', function () {
    it('a missing required flag, naming it', function () {
      should(() => parseArgs(['--product', 'pk1', '--version', '1'])).throw(
        refusal('--broker', '--broker is required: MQTT broker, e.g. mqtt://localhost:1883'),
      );
      should(() => parseArgs(['--broker', 'mqtt://h', '--version', '1'])).throw(
        refusal('--product', '--product is required: product key of every device'),
      );
    });

    it('an unknown flag', function () {
      should(() => parse('--devcies', '3')).throw(refusal('--devcies', 'unknown option --devcies'));
    });

    it('a flag without its value', function () {
      should(() => parse('--devices')).throw(
        refusal('--devices', '--devices needs a value <n>: how many devices to simulate (default 1)'),
      );
      should(() => parse('--devices', '--pull')).throw(
        refusal('--devices', '--devices needs a value <n>: how many devices to simulate (default 1)'),
      );
    });

    it('a value given to a switch', function () {
      should(() => parse('--pull=yes')).throw(refusal('--pull', '--pull expects no value (it is a switch), got "yes"'));
    });

    it('a stray argument', function () {
      should(() => parse('100')).throw(
        refusal('the command line', 'the command line expects options only (see --help), got "100"'),
      );
    });

    it('a number of devices that is not a positive integer', function () {
      should(() => parse('--devices', 'ten')).throw(
        refusal('--devices', '--devices expects a number of devices (an integer such as 100), got "ten"'),
      );
      should(() => parse('--devices', '0')).throw(
        refusal('--devices', '--devices expects a number of devices (an integer from 1 to 100000), got 0'),
      );
    });

    it('a broker that is not an MQTT URL', function () {
      should(() => parseArgs(['--broker', 'http://h', '--product', 'p', '--version', '1'])).throw(
        refusal(
          '--broker',
          '--broker expects a broker URL such as mqtt://localhost:1883 (mqtt, mqtts, ws or wss), got "http://h"',
        ),
      );
    });

    it('a product key that would not be one topic level', function () {
      should(() => parseArgs(['--broker', 'mqtt://h', '--product', 'a/b', '--version', '1'])).throw(
        refusal('--product', /^--product expects a product key \(one MQTT topic level\): one MQTT topic level/),
      );
    });

    it('a fault value that is neither a probability nor a count', function () {
      should(() => parse('--offline', 'some')).throw(
        refusal(
          '--offline',
          '--offline expects a probability (0.05 or 5%) or a count of devices (an integer such as 3), got "some"',
        ),
      );
      should(() => parse('--offline', '1.5')).throw(
        refusal('--offline', /^--offline expects a probability from 0 to 1 \(write 2 without a dot/),
      );
      should(() => parse('--offline', '150%')).throw(
        refusal('--offline', '--offline expects a percentage from 0% to 100%, got "150%"'),
      );
    });

    it('a fault count larger than the fleet', function () {
      should(() => parse('--devices', '10', '--silent', '11')).throw(
        refusal('--silent', /^--silent expects a count of devices no larger than the 10 simulated/),
      );
    });

    it('a duration it cannot read', function () {
      should(() => parse('--burn-ms', 'soon')).throw(
        refusal('--burn-ms', /^--burn-ms expects a duration such as 500 \(ms\), 2s or 1m/),
      );
    });

    it('a progress step outside 1 to 100', function () {
      should(() => parse('--progress-every', '0')).throw(
        refusal('--progress-every', '--progress-every expects a percentage (an integer from 1 to 100), got 0'),
      );
    });

    it('a module listed twice, or a module version that is not a label', function () {
      should(() => parse('--modules', 'MCU,MCU')).throw(
        refusal('--modules', '--modules expects each module once, got "MCU"'),
      );
      should(() => parse('--modules', 'MCU=')).throw(
        refusal('--modules', /^--modules is required: a version after "MCU="/),
      );
    });

    it('a public key that is not an Ed25519 key', function () {
      should(() => parse('--public-key', 'bm90IGEga2V5')).throw(
        refusal('--public-key', /^--public-key expects an Ed25519 public key/),
      );
    });
  });

  describe('given by code', function () {
    it('names the field, not the flag, in a refusal', function () {
      should(() => simOptions({ broker: 'mqtt://h', productKey: 'pk', version: '1', timing: { burnMs: -1 } })).throw(
        refusal('timing.burnMs', 'timing.burnMs expects milliseconds (an integer from 0 to 2147483647), got -1'),
      );
      should(() =>
        simOptions({ broker: 'mqtt://h', productKey: 'pk', version: '1', faults: { slow: { probability: 2 } } }),
      ).throw(refusal('faults.slow', 'faults.slow expects a probability from 0 to 1, got 2'));
    });

    it('takes fault specs as objects or as the command-line text', function () {
      const options = simOptions({
        broker: 'mqtt://h',
        productKey: 'pk',
        version: '1',
        devices: 5,
        faults: { slow: { count: 2 }, silent: '10%' },
      });
      should(options.faults).containDeep({ slow: { count: 2 }, silent: { probability: 0.1 } });
    });
  });

  it('names devices with the prefix and a number padded to the width of the fleet', function () {
    should(deviceName({ namePrefix: 'sim-', devices: 100 }, 0)).equal('sim-001');
    should(deviceName({ namePrefix: 'sim-', devices: 100 }, 99)).equal('sim-100');
    should(deviceName({ namePrefix: 'd', devices: 10_000 }, 41)).equal('d00042');
  });
});
