/**
 * The simulator's settings, given by code (demo, benchmarks) or read from the command line
 * (args.ts): validated once, with errors that name the field or flag and say what it expects, and
 * completed with defaults.
 */
import { checkLabel, checkModule, checkTopicLevel, ProtocolError, readPublicKey } from '../protocol';
import { FAULT_NAMES, FaultName, FaultPlan, FaultSpec } from './faults';
import { DeviceSecrets, secretKey } from './secrets';

export interface SimTiming {
  /** Each device powers on at a random moment within this long after its connection wave starts. */
  bootMs: number;
  /** How long a device stays away between the end of its burn and its reconnection. */
  rebootMs: number;
  /** How long writing the package to flash takes. */
  burnMs: number;
  /** How long an `--offline` device stays away. */
  offlineMs: number;
  /** An `--offline` device vanishes at a random moment within this long after it booted. */
  offlineWithinMs: number;
  /** T3 is reported at every multiple of this percentage (Link SDK 4: 5). */
  progressEveryPercent: number;
  /** A `--slow` device boots, burns and reboots this many times slower... */
  slowFactor: number;
  /** ...and downloads at most this many bytes per second, pausing between chunks. */
  slowBytesPerSecond: number;
  /** Download over MQTT: a block request (T6) unanswered this long is sent again (Link SDK 4: 10 s). */
  blockTimeoutMs: number;
  /** Devices are powered on in waves of this many; a wave starts when the previous one has booted. */
  connectWave: number;
}

export interface SimOptions {
  /** `mqtt://host:1883`, `mqtts://`, `ws://` or `wss://`. */
  broker: string;
  username?: string;
  password?: string;
  /** Accept any TLS certificate, for the broker and for package downloads. */
  insecure: boolean;
  devices: number;
  productKey: string;
  /** The version every module runs at power-on unless `modules` says otherwise. */
  version: string;
  /** The modules of every device, in the order they are reported. */
  modules: string[];
  /** The version of each module at power-on. */
  moduleVersions: Record<string, string>;
  /** Device names are this prefix and a zero-padded number from 1: `sim-001`. */
  namePrefix: string;
  /** Devices ask with T4 at boot and take a T5 with firmware as a notice. */
  pull: boolean;
  /** Base64 SPKI Ed25519 key: devices then require a valid `digestsign` on every package. */
  publicKey?: string;
  /**
   * Base64 SPKI Ed25519 key of the fleet: devices then require a signed release manifest in every
   * notice (docs/release-manifest.md) and refuse older releases than the one they run.
   */
  trustKey?: string;
  /**
   * Signed logins (Alibaba's, as iotkit-embedded 3.x signs them): a device with a secret connects
   * with client id `pk.dn|timestamp=…,securemode=3,signmethod=hmacsha256,…|`, user `dn&pk` and the
   * HMAC as password. `secrets` (keyed `pk/dn`) first, then `deviceSecret` for every other device.
   */
  deviceSecret?: string;
  secrets?: DeviceSecrets;
  /** Devices per MQTT connection: 1 is one client per device, as in the field; more multiplexes. */
  share: number;
  seed: number;
  timing: SimTiming;
  faults: FaultPlan;
  /** Print the final summary as JSON. */
  json: boolean;
  /** Stop after this many milliseconds. */
  durationLimit?: number;
  /** Stop once upgrades have started and none has been under way for this many milliseconds. */
  exitWhenIdle?: number;
}

/** What code passes to `simOptions`: the required fields, and any default to override. */
export interface SimOptionsInput {
  broker: string;
  productKey: string;
  version: string;
  username?: string;
  password?: string;
  insecure?: boolean;
  devices?: number;
  /** Module names, or `name=version` for a module that starts at another version. */
  modules?: string[];
  namePrefix?: string;
  pull?: boolean;
  publicKey?: string;
  trustKey?: string;
  /** One device secret for every device (tests): each device then logs in signed. */
  deviceSecret?: string;
  /** Device secrets keyed `${productKey}/${deviceName}` (see `readSecrets` for a file's text). */
  secrets?: ReadonlyMap<string, string>;
  share?: number;
  seed?: number;
  timing?: Partial<SimTiming>;
  /** A spec, or the command-line text (`"0.1"`, `"5%"`, `"3"`). */
  faults?: Partial<Record<FaultName, FaultSpec | string>>;
  json?: boolean;
  durationLimit?: number;
  exitWhenIdle?: number;
}

export const DEFAULT_TIMING: Readonly<SimTiming> = Object.freeze({
  bootMs: 1000,
  rebootMs: 3000,
  burnMs: 2000,
  offlineMs: 30_000,
  offlineWithinMs: 60_000,
  progressEveryPercent: 5,
  slowFactor: 5,
  slowBytesPerSecond: 64 * 1024,
  blockTimeoutMs: 10_000,
  connectWave: 100,
});

export const MAX_DEVICES = 100_000;

/** A refused option: names the flag (or field) and what it expects. */
export class OptionError extends Error {
  readonly code = 'OTA_SIM_BAD_OPTION';

  constructor(
    readonly option: string,
    readonly expected: string,
    readonly got?: unknown,
    absent = false,
    message?: string,
  ) {
    super(
      message ?? (absent ? `${option} is required: ${expected}` : `${option} expects ${expected}, got ${show(got)}`),
    );
    this.name = 'OptionError';
  }
}

function show(value: unknown): string {
  if (typeof value === 'string') return value === '' ? 'an empty string' : JSON.stringify(value);
  if (value === undefined) return 'nothing';
  if (typeof value === 'object') return JSON.stringify(value) ?? String(value);
  return String(value);
}

/** A device's name: the prefix and its 1-based number, zero-padded to the width of the fleet. */
export function deviceName(options: Pick<SimOptions, 'namePrefix' | 'devices'>, index: number): string {
  const width = Math.max(3, String(options.devices).length);
  return `${options.namePrefix}${String(index + 1).padStart(width, '0')}`;
}

/** Validates settings given by code and fills in the defaults. `label` names a field in errors. */
export function simOptions(input: SimOptionsInput, label: (field: string) => string = (field) => field): SimOptions {
  const broker = checkBroker(label('broker'), input.broker);
  const devices = checkInteger(label('devices'), input.devices ?? 1, 1, MAX_DEVICES, 'a number of devices');
  const productKey = viaProtocol(
    label('productKey'),
    input.productKey,
    (v) => checkTopicLevel('productKey', v),
    'a product key (one MQTT topic level)',
  );
  const version = viaProtocol(
    label('version'),
    input.version,
    (v) => checkLabel('version', v),
    'a version (1 to 64 printable characters)',
  );
  const { modules, moduleVersions } = checkModules(label('modules'), input.modules ?? ['default'], version);
  const namePrefix = checkNamePrefix(label('namePrefix'), input.namePrefix ?? 'sim-', devices);
  const options: SimOptions = {
    broker,
    insecure: checkBoolean(label('insecure'), input.insecure ?? false),
    devices,
    productKey,
    version,
    modules,
    moduleVersions,
    namePrefix,
    pull: checkBoolean(label('pull'), input.pull ?? false),
    share: checkInteger(label('share'), input.share ?? 1, 1, 10_000, 'a number of devices per MQTT connection'),
    seed: checkInteger(label('seed'), input.seed ?? 1, 0, 2 ** 32 - 1, 'a seed'),
    timing: checkTiming(input.timing ?? {}, label),
    faults: checkFaults(input.faults ?? {}, devices, label),
    json: checkBoolean(label('json'), input.json ?? false),
  };
  if (input.username !== undefined) options.username = checkText(label('username'), input.username);
  if (input.password !== undefined) options.password = checkText(label('password'), input.password);
  if (input.publicKey !== undefined) options.publicKey = checkPublicKey(label('publicKey'), input.publicKey);
  if (input.trustKey !== undefined) options.trustKey = checkPublicKey(label('trustKey'), input.trustKey);
  if (input.deviceSecret !== undefined) options.deviceSecret = checkSecret(label('deviceSecret'), input.deviceSecret);
  if (input.secrets !== undefined) options.secrets = checkSecrets(label('secrets'), input.secrets, options);
  if (options.deviceSecret !== undefined || options.secrets !== undefined) checkSignedLogins(options, label);
  if (input.durationLimit !== undefined) {
    options.durationLimit = checkInteger(
      label('durationLimit'),
      input.durationLimit,
      1,
      2 ** 31 - 1,
      'a duration of at least 1 ms',
    );
  }
  if (input.exitWhenIdle !== undefined) {
    options.exitWhenIdle = checkInteger(
      label('exitWhenIdle'),
      input.exitWhenIdle,
      1,
      2 ** 31 - 1,
      'a duration of at least 1 ms',
    );
  }
  return options;
}

/** The value is not echoed in the error: a private key given by mistake must not reach a log. */
function checkPublicKey(option: string, value: unknown): string {
  const key = checkText(option, value);
  try {
    readPublicKey('publicKey', key);
  } catch {
    const expected =
      'an Ed25519 public key (base64 SPKI DER, as the fleet shows it: 60 characters starting MCowBQYDK2VwAyEA)';
    throw new OptionError(
      option,
      expected,
      undefined,
      false,
      `${option} expects ${expected}; the value given is not one (not shown, in case it is a private key)`,
    );
  }
  return key.trim();
}

/** The secret of a device, when it logs in signed. */
export function deviceSecretOf(
  options: Pick<SimOptions, 'secrets' | 'deviceSecret'>,
  productKey: string,
  deviceName: string,
): string | undefined {
  return options.secrets?.get(secretKey(productKey, deviceName)) ?? options.deviceSecret;
}

/** Secrets are never shown in errors. */
function checkSecret(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new OptionError(
      option,
      'a device secret',
      undefined,
      false,
      `${option} expects a device secret (a non-empty string); the value given is not one (not shown)`,
    );
  }
  return value;
}

function checkSecrets(option: string, value: unknown, options: SimOptions): DeviceSecrets {
  if (!(value instanceof Map))
    throw new OptionError(
      option,
      'a Map of device secrets keyed "productKey/deviceName"',
      undefined,
      false,
      `${option} expects a Map of device secrets keyed "productKey/deviceName"`,
    );
  const secrets: DeviceSecrets = new Map();
  for (const [key, secret] of value as Map<unknown, unknown>) {
    if (typeof key !== 'string' || !/^[^/]+\/[^/]+$/.test(key))
      throw new OptionError(option, 'keys "productKey/deviceName"', key);
    secrets.set(key, checkSecret(`${option} (${key})`, secret));
  }
  if (options.deviceSecret === undefined) {
    const missing: string[] = [];
    for (let i = 0; i < options.devices && missing.length <= 3; i++) {
      const name = deviceName(options, i);
      if (!secrets.has(secretKey(options.productKey, name))) missing.push(secretKey(options.productKey, name));
    }
    if (missing.length > 0) {
      const shown = missing.slice(0, 3).join(', ') + (missing.length > 3 ? ', …' : '');
      throw new OptionError(
        option,
        'a secret for every simulated device',
        undefined,
        false,
        `${option} has no secret for ${shown}: give one for every simulated device, or a --device-secret for the rest`,
      );
    }
  }
  return secrets;
}

/** A signed login is one device's: it sets the user name and password, and cannot be shared. */
function checkSignedLogins(options: SimOptions, label: (field: string) => string): void {
  const via = `${label('deviceSecret')} or ${label('secrets')}`;
  if (options.share !== 1)
    throw new OptionError(
      label('share'),
      `1 with ${via}: a signed login is one device's own connection`,
      options.share,
    );
  for (const field of ['username', 'password'] as const) {
    if (options[field] !== undefined) {
      throw new OptionError(
        label(field),
        `nothing with ${via}`,
        undefined,
        false,
        `${label(field)} cannot be combined with ${via}: a signed login sets the user name and password itself`,
      );
    }
  }
}

function checkBroker(option: string, value: unknown): string {
  const expected = 'a broker URL such as mqtt://localhost:1883 (mqtt, mqtts, ws or wss)';
  if (value === undefined || value === '') throw new OptionError(option, expected, undefined, true);
  if (typeof value !== 'string') throw new OptionError(option, expected, value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OptionError(option, expected, value);
  }
  if (!['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'].includes(url.protocol) || !url.hostname) {
    throw new OptionError(option, expected, value);
  }
  return value;
}

function checkInteger(option: string, value: unknown, min: number, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(option, `${what} (an integer from ${min} to ${max})`, value);
  }
  return value;
}

function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new OptionError(option, 'true or false', value);
  return value;
}

function checkText(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new OptionError(option, 'a non-empty string', value);
  return value;
}

function viaProtocol<T>(option: string, value: unknown, check: (value: unknown) => T, expected: string): T {
  if (value === undefined || value === '') throw new OptionError(option, expected, undefined, true);
  try {
    return check(value);
  } catch (err) {
    if (err instanceof ProtocolError) throw new OptionError(option, `${expected}: ${err.expected}`, value);
    throw err;
  }
}

function checkModules(
  option: string,
  value: unknown,
  version: string,
): { modules: string[]; moduleVersions: Record<string, string> } {
  const expected = 'a list of module names, each optionally with its version (default,MCU=2.0.1)';
  if (!Array.isArray(value) || value.length === 0) throw new OptionError(option, expected, value);
  const modules: string[] = [];
  const moduleVersions: Record<string, string> = {};
  for (const entry of value) {
    if (typeof entry !== 'string') throw new OptionError(option, expected, value);
    const at = entry.indexOf('=');
    const name = viaProtocol(
      option,
      at < 0 ? entry : entry.slice(0, at),
      (v) => checkModule('module', v),
      'module names (1 to 64 printable characters)',
    );
    const start =
      at < 0
        ? version
        : viaProtocol(option, entry.slice(at + 1), (v) => checkLabel('version', v), `a version after "${name}="`);
    if (name in moduleVersions) throw new OptionError(option, 'each module once', entry);
    modules.push(name);
    moduleVersions[name] = start;
  }
  return { modules, moduleVersions };
}

function checkNamePrefix(option: string, value: unknown, devices: number): string {
  if (typeof value !== 'string') throw new OptionError(option, 'a prefix for device names', value);
  const width = Math.max(3, String(devices).length);
  return viaProtocol(
    option,
    value,
    (v) => checkTopicLevel('deviceName', `${v as string}${'0'.repeat(width)}`).slice(0, -width),
    'a device name prefix',
  );
}

const TIMING_LIMITS: Record<keyof SimTiming, [min: number, max: number, what: string, integer: boolean]> = {
  bootMs: [0, 2 ** 31 - 1, 'milliseconds', true],
  rebootMs: [0, 2 ** 31 - 1, 'milliseconds', true],
  burnMs: [0, 2 ** 31 - 1, 'milliseconds', true],
  offlineMs: [0, 2 ** 31 - 1, 'milliseconds', true],
  offlineWithinMs: [0, 2 ** 31 - 1, 'milliseconds', true],
  progressEveryPercent: [1, 100, 'a percentage', true],
  slowFactor: [1, 1000, 'a factor', false],
  slowBytesPerSecond: [1, 2 ** 40, 'bytes per second', true],
  blockTimeoutMs: [1, 2 ** 31 - 1, 'milliseconds', true],
  connectWave: [1, MAX_DEVICES, 'a number of devices', true],
};

function checkTiming(input: Partial<SimTiming>, label: (field: string) => string): SimTiming {
  const timing: SimTiming = { ...DEFAULT_TIMING };
  for (const key of Object.keys(input) as (keyof SimTiming)[]) {
    const limits = TIMING_LIMITS[key];
    if (!limits) throw new OptionError(label(`timing.${key}`), `one of ${Object.keys(TIMING_LIMITS).join(', ')}`, key);
    const [min, max, what, integer] = limits;
    const value = input[key];
    if (
      typeof value !== 'number' ||
      Number.isNaN(value) ||
      value < min ||
      value > max ||
      (integer && !Number.isInteger(value))
    ) {
      throw new OptionError(
        label(`timing.${key}`),
        `${what} (${integer ? 'an integer' : 'a number'} from ${min} to ${max})`,
        value,
      );
    }
    timing[key] = value;
  }
  return timing;
}

function checkFaults(
  input: Partial<Record<FaultName, FaultSpec | string>>,
  devices: number,
  label: (field: string) => string,
): FaultPlan {
  const plan = {} as FaultPlan;
  for (const key of Object.keys(input)) {
    if (!(FAULT_NAMES as readonly string[]).includes(key))
      throw new OptionError(label('faults'), `faults among ${FAULT_NAMES.join(', ')}`, key);
  }
  for (const name of FAULT_NAMES) {
    const option = label(`faults.${name}`);
    const given = input[name];
    const spec = typeof given === 'string' ? readFaultSpec(option, given) : (given ?? { count: 0 });
    if ('count' in spec) {
      checkInteger(option, spec.count, 0, devices, `a count of devices no larger than the ${devices} simulated`);
      plan[name] = { count: spec.count };
    } else if ('probability' in spec) {
      const p = spec.probability;
      if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new OptionError(option, 'a probability from 0 to 1', p);
      plan[name] = { probability: p };
    } else {
      throw new OptionError(option, FAULT_EXPECTED, given);
    }
  }
  return plan;
}

const FAULT_EXPECTED = 'a probability (0.05 or 5%) or a count of devices (an integer such as 3)';

/** `5%` and `0.05` are probabilities (anything with a dot or a percent sign); `3` is a count. */
export function readFaultSpec(option: string, text: string): FaultSpec {
  const value = text.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(value);
  if (percent) {
    const p = Number(percent[1]) / 100;
    if (p > 1) throw new OptionError(option, 'a percentage from 0% to 100%', text);
    return { probability: p };
  }
  if (/^(\d+\.\d*|\.\d+)$/.test(value)) {
    const p = Number(value);
    if (p > 1)
      throw new OptionError(
        option,
        `a probability from 0 to 1 (write ${Math.round(p)} without a dot for a count of devices)`,
        text,
      );
    return { probability: p };
  }
  if (/^\d+$/.test(value)) return { count: Number(value) };
  throw new OptionError(option, FAULT_EXPECTED, text);
}
