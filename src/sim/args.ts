/**
 * The command line of ota-sim: a table of flags (which also writes --help), a small parser with
 * no dependency, and errors that name the flag and say what it expects. Validation and defaults
 * are simOptions' job, so a flag and the field it sets can never disagree.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_TIMING, OptionError, readFaultSpec, SimOptions, SimOptionsInput, simOptions } from './options';
import { readSecrets, SecretsError } from './secrets';

type Reader = (text: string, flag: string) => unknown;

interface Flag {
  flag: string;
  /** The SimOptionsInput field it sets; dotted for `timing.x` and `faults.x`. */
  field: string;
  /** Placeholder of the value in --help; absent for a switch. */
  value?: string;
  read?: Reader;
  help: string;
}

const text: Reader = (value) => value;

function integer(what: string): Reader {
  return (value, flag) => {
    if (!/^\d+$/.test(value.trim())) throw new OptionError(flag, what, value);
    return Number(value.trim());
  };
}

const number: Reader = (value, flag) => {
  if (!/^\d+(\.\d+)?$/.test(value.trim())) throw new OptionError(flag, 'a number such as 2 or 2.5', value);
  return Number(value.trim());
};

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500`, `500ms`, `2s`, `1.5m`, `1h`; a bare number is in `unit`. */
function duration(unit: 'ms' | 's'): Reader {
  return (value, flag) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
    if (!m)
      throw new OptionError(
        flag,
        `a duration such as ${unit === 'ms' ? '500 (ms), 2s or 1m' : '30 (seconds), 500ms, 2m or 1h'}`,
        value,
      );
    return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? unit]);
  };
}

/** `65536`, `64k`, `1m`: bytes, with an optional binary multiple. */
const bytes: Reader = (value, flag) => {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value.trim());
  if (!m) throw new OptionError(flag, 'bytes per second such as 65536, 64k or 1m', value);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * scale);
};

const list: Reader = (value) => value.split(',').map((entry) => entry.trim());

const fault: Reader = (value, flag) => readFaultSpec(flag, value);

/** A key given inline, or `@path` of a file holding it (so it stays out of the process list). */
const keyOrFile: Reader = (value, flag) => {
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new OptionError(
      flag,
      `a base64 key, or @ and the path of a readable file holding one (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      value,
    );
  }
};

/** A secret given inline, or `@path` of a file holding it; errors show the path, never a secret. */
const secretOrFile: Reader = (value, flag) => {
  if (!value.startsWith('@')) return value;
  try {
    return readFileSync(value.slice(1), 'utf8').trim();
  } catch (err) {
    throw new OptionError(
      flag,
      `a secret, or @ and the path of a readable file holding one (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      value,
    );
  }
};

/** The path of a CSV or JSON file of device secrets (secrets.ts); errors name the line, never a secret. */
const secretsFile: Reader = (path, flag) => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OptionError(
      flag,
      `the path of a readable CSV or JSON file of device secrets (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      path,
    );
  }
  try {
    return readSecrets(text, path);
  } catch (err) {
    if (err instanceof SecretsError)
      throw new OptionError(flag, 'a file of device secrets', undefined, false, `${flag}: ${err.message}`);
    throw err;
  }
};

const FLAGS: Flag[] = [
  {
    flag: '--broker',
    field: 'broker',
    value: '<url>',
    read: text,
    help: 'MQTT broker, e.g. mqtt://localhost:1883 (required)',
  },
  { flag: '--username', field: 'username', value: '<name>', read: text, help: 'MQTT user name' },
  { flag: '--password', field: 'password', value: '<secret>', read: text, help: 'MQTT password' },
  { flag: '--insecure', field: 'insecure', help: 'accept any TLS certificate (broker and downloads)' },
  {
    flag: '--devices',
    field: 'devices',
    value: '<n>',
    read: integer('a number of devices (an integer such as 100)'),
    help: 'how many devices to simulate (default 1)',
  },
  { flag: '--product', field: 'productKey', value: '<pk>', read: text, help: 'product key of every device (required)' },
  {
    flag: '--version',
    field: 'version',
    value: '<v>',
    read: text,
    help: 'firmware version every device runs at power-on (required)',
  },
  {
    flag: '--modules',
    field: 'modules',
    value: '<list>',
    read: list,
    help: 'modules of every device, comma-separated; name=version for another start version (default: default)',
  },
  {
    flag: '--name-prefix',
    field: 'namePrefix',
    value: '<text>',
    read: text,
    help: 'device names are this and a number: sim-001, sim-002, … (default sim-)',
  },
  { flag: '--pull', field: 'pull', help: 'devices ask for an upgrade with T4 at boot and take a T5 as a notice' },
  {
    flag: '--public-key',
    field: 'publicKey',
    value: '<base64>',
    read: text,
    help: 'Ed25519 public key (base64 SPKI): devices require a valid digestsign',
  },
  {
    flag: '--trust-key',
    field: 'trustKey',
    value: '<key|@file>',
    read: keyOrFile,
    help: "fleet's Ed25519 public key (base64 SPKI, or @file): devices require a signed release manifest and refuse older releases",
  },
  {
    flag: '--device-secret',
    field: 'deviceSecret',
    value: '<secret|@file>',
    read: secretOrFile,
    help: "one device secret for every device (tests): devices log in signed, as Alibaba's SDKs do",
  },
  {
    flag: '--secrets',
    field: 'secrets',
    value: '<file>',
    read: secretsFile,
    help: 'device secrets, CSV productKey,deviceName,deviceSecret (as Alibaba exports) or JSON [{productKey, deviceName, deviceSecret}]: devices log in signed',
  },
  {
    flag: '--share',
    field: 'share',
    value: '<n>',
    read: integer('a number of devices per MQTT connection (an integer such as 100)'),
    help: 'devices per MQTT connection, for very large fleets (default 1: one client each)',
  },
  {
    flag: '--seed',
    field: 'seed',
    value: '<n>',
    read: integer('a seed (an integer such as 42)'),
    help: 'seed of the fault assignment and the random delays (default 1)',
  },
  {
    flag: '--fail-download',
    field: 'faults.failDownload',
    value: '<p|n>',
    read: fault,
    help: 'devices whose download breaks off: step -2',
  },
  {
    flag: '--fail-verify',
    field: 'faults.failVerify',
    value: '<p|n>',
    read: fault,
    help: 'devices that find the package corrupt: step -3',
  },
  {
    flag: '--fail-burn',
    field: 'faults.failBurn',
    value: '<p|n>',
    read: fault,
    help: 'devices whose flash write fails: step -4',
  },
  {
    flag: '--offline',
    field: 'faults.offline',
    value: '<p|n>',
    read: fault,
    help: 'devices that vanish for a while at a random moment, then boot again',
  },
  {
    flag: '--wrong-version',
    field: 'faults.wrongVersion',
    value: '<p|n>',
    read: fault,
    help: 'devices that reboot into another version than announced',
  },
  { flag: '--silent', field: 'faults.silent', value: '<p|n>', read: fault, help: 'devices that never answer a notice' },
  {
    flag: '--slow',
    field: 'faults.slow',
    value: '<p|n>',
    read: fault,
    help: 'devices that download, burn and reboot slowly',
  },
  {
    flag: '--boot-ms',
    field: 'timing.bootMs',
    value: '<ms>',
    read: duration('ms'),
    help: `devices power on within this long of their wave (default ${DEFAULT_TIMING.bootMs})`,
  },
  {
    flag: '--burn-ms',
    field: 'timing.burnMs',
    value: '<ms>',
    read: duration('ms'),
    help: `time to write the package to flash (default ${DEFAULT_TIMING.burnMs})`,
  },
  {
    flag: '--reboot-ms',
    field: 'timing.rebootMs',
    value: '<ms>',
    read: duration('ms'),
    help: `time away while rebooting (default ${DEFAULT_TIMING.rebootMs})`,
  },
  {
    flag: '--offline-ms',
    field: 'timing.offlineMs',
    value: '<ms>',
    read: duration('ms'),
    help: `how long an --offline device stays away (default ${DEFAULT_TIMING.offlineMs})`,
  },
  {
    flag: '--offline-within-ms',
    field: 'timing.offlineWithinMs',
    value: '<ms>',
    read: duration('ms'),
    help: `an --offline device vanishes within this long after boot (default ${DEFAULT_TIMING.offlineWithinMs})`,
  },
  {
    flag: '--progress-every',
    field: 'timing.progressEveryPercent',
    value: '<percent>',
    read: integer('a percentage (an integer from 1 to 100)'),
    help: `report T3 at every multiple of this percentage (default ${DEFAULT_TIMING.progressEveryPercent})`,
  },
  {
    flag: '--slow-factor',
    field: 'timing.slowFactor',
    value: '<x>',
    read: number,
    help: `--slow devices boot, burn and reboot this many times slower (default ${DEFAULT_TIMING.slowFactor})`,
  },
  {
    flag: '--slow-rate',
    field: 'timing.slowBytesPerSecond',
    value: '<bytes/s>',
    read: bytes,
    help: '--slow devices download at most this fast, e.g. 64k (default 64k)',
  },
  {
    flag: '--block-timeout-ms',
    field: 'timing.blockTimeoutMs',
    value: '<ms>',
    read: duration('ms'),
    help: `download over MQTT: resend an unanswered T6 after this long (default ${DEFAULT_TIMING.blockTimeoutMs})`,
  },
  {
    flag: '--connect-wave',
    field: 'timing.connectWave',
    value: '<n>',
    read: integer('a number of devices (an integer such as 100)'),
    help: `devices powered on together (default ${DEFAULT_TIMING.connectWave})`,
  },
  {
    flag: '--duration',
    field: 'durationLimit',
    value: '<time>',
    read: duration('s'),
    help: 'stop after this long: 30 (seconds), 2m, 1h',
  },
  {
    flag: '--exit-when-idle',
    field: 'exitWhenIdle',
    value: '<time>',
    read: duration('s'),
    help: 'stop once upgrades began and none has been under way for this long',
  },
  { flag: '--json', field: 'json', help: 'print the final summary as JSON' },
];

const FLAG_OF_FIELD: Record<string, string> = Object.fromEntries(FLAGS.map((f) => [f.field, f.flag]));

/** The flag that sets a field, for errors about options read from the command line. */
export function flagOf(field: string): string {
  return FLAG_OF_FIELD[field] ?? field;
}

export const HELP = [
  'Usage: ota-sim --broker <url> --product <pk> --version <v> [options]',
  '',
  'Simulates a fleet of devices that speak the OTA topics like Link SDK 4: each reports its',
  'version (T1) at boot, takes upgrade notices (T2), downloads over HTTP(S) with resume or over',
  'MQTT (T6/T7), reports progress (T3), checks size, digest and signature, burns, reboots and',
  'reports its new version. Ctrl-C stops cleanly and prints the final table. With --trust-key,',
  'devices install only releases their fleet signed, and never an older one than they run.',
  'With --device-secret or --secrets, each device logs in as iotkit-embedded 3.x does: client id',
  'pk.dn|timestamp=…,securemode=3,signmethod=hmacsha256,…|, user dn&pk, password the HMAC.',
  '',
  'Options:',
  ...FLAGS.map((f) => `  ${`${f.flag}${f.value ? ` ${f.value}` : ''}`.padEnd(30)} ${f.help}`),
  `  ${'--help'.padEnd(30)} show this text`,
  '',
  'Fault values: a probability per device (0.05 or 5%), or a count of devices (3).',
  'Example: ota-sim --broker mqtt://localhost:1883 --devices 100 --product pk1 --version 1.0.0 --fail-verify 2 --offline 5%',
].join('\n');

export type ParsedArgs = { help: true } | { help: false; options: SimOptions };

/** Reads `argv` (without node and the script). Throws an OptionError naming the flag at fault. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true };
  const input: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new OptionError('the command line', 'options only (see --help)', arg);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const spec = FLAGS.find((f) => f.flag === name);
    if (!spec) throw new OptionError(name, 'a known option', arg, false, `unknown option ${name}`);
    let value: unknown = true;
    if (spec.read) {
      const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (raw === undefined || (eq < 0 && raw.startsWith('--'))) {
        throw new OptionError(
          spec.flag,
          `a value ${spec.value}`,
          undefined,
          true,
          `${spec.flag} needs a value ${spec.value}: ${spec.help}`,
        );
      }
      value = spec.read(raw, spec.flag);
    } else if (eq >= 0) {
      throw new OptionError(spec.flag, 'no value (it is a switch)', arg.slice(eq + 1));
    }
    setPath(input, spec.field, value);
  }
  for (const field of ['broker', 'productKey', 'version']) {
    if (input[field] === undefined) {
      const spec = FLAGS.find((f) => f.field === field) as Flag;
      throw new OptionError(spec.flag, spec.help.replace(/ \(required\)$/, ''), undefined, true);
    }
  }
  return { help: false, options: simOptions(input as unknown as SimOptionsInput, flagOf) };
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const [head, tail] = path.split('.');
  if (tail === undefined) {
    target[head] = value;
    return;
  }
  const inner = (target[head] ??= {}) as Record<string, unknown>;
  inner[tail] = value;
}
