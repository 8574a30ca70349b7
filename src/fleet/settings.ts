/**
 * Batch requests as users write them (admin API body, `msg.payload` of ota-push), checked and
 * turned into typed settings with defaults. Every refusal names the field and the rule.
 */
import { checkInteger, checkLabel, checkTopicLevel, isPlainObject, JsonObject, ProtocolError } from '../protocol';

export const BATCH_TYPES = ['verify', 'static', 'dynamic'] as const;
export type BatchType = (typeof BATCH_TYPES)[number];

export const SELECTIONS = ['ALL', 'SPECIFIC', 'GRAY', 'GROUP'] as const;
export type Selection = (typeof SELECTIONS)[number];

export const MAX_VERIFY_DEVICES = 10;
export const MAX_SRC_VERSIONS = 10;
export const MAX_SPECIFIC_DEVICES = 100_000;

export interface Targets {
  selection: Selection;
  productKey: string;
  devices?: string[];
  percent?: number;
  tag?: string;
  srcVersions?: string[];
}

export interface Strategy {
  maximumPerMinute?: number;
  /** At most this many devices notified and not done at a time (a download window). */
  maximumInFlight?: number;
  scheduleStart?: number;
  scheduleFinish?: number;
  /** Minutes between a failure (or an unanswered notice) and the retry. */
  retryInterval: number;
  retryCount: number;
  timeoutInMinutes?: number;
  overwrite: 'keep' | 'replace';
  needConfirm: boolean;
  downloadProtocol: 'https' | 'mqtt';
  abort?: { failurePercent: number; minDevices: number };
  /** Cumulative percentages of the targets, e.g. [5, 25, 100]. */
  waves?: number[];
  waveSuccessPercent: number;
  /** Tags merged into the notice's extData. */
  extData?: Record<string, string>;
}

/**
 * The download window of a batch whose devices download a package hosted here over HTTP, when its
 * strategy sets no `maximumInFlight`: the devices all open a connection to Node-RED at once, and
 * beyond Node's listen backlog (511) the kernel drops their SYNs and they retry after 1, 3, 7, 15 s.
 * 400 keeps the herd under the backlog with room for the editor's own requests.
 */
export const HOSTED_IN_FLIGHT = 400;

/**
 * The download window a batch keeps: its own `maximumInFlight`, else HOSTED_IN_FLIGHT for a package
 * hosted here and downloaded over HTTP, else none (an external URL or download over MQTT).
 */
export function inFlightWindow(strategy: Strategy, firmware: { hosted: boolean }): number | undefined {
  if (strategy.maximumInFlight) return strategy.maximumInFlight;
  return firmware.hosted && strategy.downloadProtocol !== 'mqtt' ? HOSTED_IN_FLIGHT : undefined;
}

export interface BatchRequest {
  firmwareId?: string;
  firmware?: JsonObject;
  type: BatchType;
  targets: Targets;
  strategy: Strategy;
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback?: T): T {
  if ((value === undefined || value === null || value === '') && fallback !== undefined) return fallback;
  if (typeof value === 'string') {
    const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
    if (match) return match;
  }
  throw new ProtocolError(field, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
}

function optionalInteger(field: string, value: unknown, min: number, max: number): number | undefined {
  return value === undefined || value === null || value === '' ? undefined : checkInteger(field, value, min, max);
}

function optionalNumber(field: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
    throw new ProtocolError(field, `a number from ${min} to ${max}`, value);
  }
  return n;
}

/** A time as epoch milliseconds or an ISO 8601 string. */
export function readTime(field: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
  if (typeof value === 'string') {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return t;
  }
  throw new ProtocolError(
    field,
    'a time (epoch milliseconds or an ISO 8601 string like "2026-12-01T02:00:00Z")',
    value,
  );
}

function stringList(
  field: string,
  value: unknown,
  max: number,
  check: (f: string, v: unknown) => string,
): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list =
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : value;
  if (!Array.isArray(list) || list.length > max)
    throw new ProtocolError(field, `a list of at most ${max} entries`, value);
  return [...new Set(list.map((v, i) => check(`${field}[${i}]`, v)))];
}

function readBoolean(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 1) return true;
  if (value === 'false' || value === 0) return false;
  throw new ProtocolError(field, 'true or false', value);
}

export function parseTargets(input: unknown, type: BatchType, defaultProductKey?: string): Targets {
  const t = input === undefined ? {} : input;
  if (!isPlainObject(t))
    throw new ProtocolError('targets', 'an object {selection, productKey, devices, percent, tag, srcVersions}', input);
  const selection = oneOf('targets.selection', t.selection, SELECTIONS, type === 'verify' ? 'SPECIFIC' : undefined);
  const targets: Targets = {
    selection,
    productKey: checkTopicLevel('targets.productKey', t.productKey ?? defaultProductKey),
  };
  const srcVersions = stringList('targets.srcVersions', t.srcVersions, MAX_SRC_VERSIONS, checkLabel);
  if (srcVersions && srcVersions.length) targets.srcVersions = srcVersions;
  if (selection === 'SPECIFIC') {
    const max = type === 'verify' ? MAX_VERIFY_DEVICES : MAX_SPECIFIC_DEVICES;
    const devices = stringList('targets.devices', t.devices, max, checkTopicLevel);
    if (!devices || devices.length === 0) {
      throw new ProtocolError(
        'targets.devices',
        `a list of 1 to ${max} device names for selection SPECIFIC`,
        t.devices,
      );
    }
    targets.devices = devices;
  } else if (type === 'verify') {
    throw new ProtocolError(
      'targets.selection',
      `"SPECIFIC" for a verify batch (up to ${MAX_VERIFY_DEVICES} test devices)`,
      t.selection,
    );
  }
  if (selection === 'GRAY') {
    const percent = optionalNumber('targets.percent', t.percent, 0.001, 100);
    if (percent === undefined)
      throw new ProtocolError(
        'targets.percent',
        'a percentage above 0 and up to 100 for selection GRAY',
        undefined,
        true,
      );
    if (type === 'dynamic')
      throw new ProtocolError(
        'targets.selection',
        'ALL, SPECIFIC or GROUP for a dynamic batch (GRAY picks a sample once)',
        t.selection,
      );
    targets.percent = percent;
  }
  if (selection === 'GROUP') targets.tag = checkLabel('targets.tag', t.tag);
  return targets;
}

export function parseStrategy(input: unknown): Strategy {
  const s = input === undefined || input === null ? {} : input;
  if (!isPlainObject(s)) throw new ProtocolError('strategy', 'an object', input);
  const strategy: Strategy = {
    maximumPerMinute: optionalInteger('strategy.maximumPerMinute', s.maximumPerMinute, 1, 1_000_000),
    maximumInFlight: optionalInteger('strategy.maximumInFlight', s.maximumInFlight, 1, 1_000_000),
    scheduleStart: readTime('strategy.scheduleStart', s.scheduleStart),
    scheduleFinish: readTime('strategy.scheduleFinish', s.scheduleFinish),
    retryInterval: optionalNumber('strategy.retryInterval', s.retryInterval, 0, 1440) ?? 0,
    retryCount: optionalInteger('strategy.retryCount', s.retryCount, 0, 10) ?? 0,
    // Minutes as in the console (1–1440); fractions down to 0.01 are allowed for tests and labs.
    timeoutInMinutes: optionalNumber('strategy.timeoutInMinutes', s.timeoutInMinutes, 0.01, 1440),
    overwrite: oneOf('strategy.overwrite', s.overwrite, ['keep', 'replace'] as const, 'keep'),
    needConfirm: readBoolean('strategy.needConfirm', s.needConfirm, false),
    downloadProtocol: oneOf('strategy.downloadProtocol', s.downloadProtocol, ['https', 'mqtt'] as const, 'https'),
    waveSuccessPercent: optionalNumber('strategy.waveSuccessPercent', s.waveSuccessPercent, 0, 100) ?? 100,
  };
  for (const key of Object.keys(strategy) as (keyof Strategy)[]) if (strategy[key] === undefined) delete strategy[key];
  if (
    strategy.scheduleStart !== undefined &&
    strategy.scheduleFinish !== undefined &&
    strategy.scheduleFinish <= strategy.scheduleStart
  ) {
    throw new ProtocolError(
      'strategy.scheduleFinish',
      `later than scheduleStart (${new Date(strategy.scheduleStart).toISOString()})`,
      s.scheduleFinish,
    );
  }
  if (s.abort !== undefined && s.abort !== null) {
    if (!isPlainObject(s.abort))
      throw new ProtocolError('strategy.abort', 'an object {failurePercent, minDevices}', s.abort);
    strategy.abort = {
      failurePercent: optionalNumber('strategy.abort.failurePercent', s.abort.failurePercent, 0.001, 100) ?? 100,
      minDevices: optionalInteger('strategy.abort.minDevices', s.abort.minDevices, 1, 1_000_000) ?? 1,
    };
  }
  if (s.waves !== undefined && s.waves !== null) strategy.waves = parseWaves(s.waves);
  if (s.extData !== undefined && s.extData !== null) {
    if (!isPlainObject(s.extData)) throw new ProtocolError('strategy.extData', 'an object of string tags', s.extData);
    const extData: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.extData)) {
      if (typeof v !== 'string') throw new ProtocolError(`strategy.extData.${k}`, 'a string', v);
      extData[k] = v;
    }
    strategy.extData = extData;
  }
  return strategy;
}

function parseWaves(value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 20) {
    throw new ProtocolError('strategy.waves', 'a list of 1 to 20 increasing percentages, e.g. [5, 25, 100]', value);
  }
  const waves = value.map((v, i) => optionalNumber(`strategy.waves[${i}]`, v, 0.001, 100) as number);
  waves.forEach((w, i) => {
    if (w === undefined || (i > 0 && w <= waves[i - 1])) {
      throw new ProtocolError('strategy.waves', 'increasing percentages, e.g. [5, 25, 100]', value);
    }
  });
  if (waves[waves.length - 1] < 100) waves.push(100);
  return waves;
}

export function parseBatchRequest(input: unknown, defaultProductKey?: string): BatchRequest {
  if (!isPlainObject(input)) throw new ProtocolError('batch', 'an object {firmwareId, type, targets, strategy}', input);
  const type = oneOf('type', input.type, BATCH_TYPES, 'static');
  const request: BatchRequest = {
    type,
    targets: undefined as unknown as Targets,
    strategy: parseStrategy(input.strategy),
  };
  if (input.firmwareId !== undefined) {
    if (typeof input.firmwareId !== 'string' || input.firmwareId.length === 0 || input.firmwareId.length > 64) {
      throw new ProtocolError('firmwareId', 'the id of a firmware in the catalog', input.firmwareId);
    }
    request.firmwareId = input.firmwareId;
  } else if (isPlainObject(input.firmware)) {
    request.firmware = input.firmware;
  } else {
    throw new ProtocolError(
      'firmwareId',
      'the id of a firmware in the catalog (or a firmware descriptor in "firmware")',
      undefined,
      true,
    );
  }
  request.targets = parseTargets(input.targets, type, defaultProductKey);
  if (type === 'dynamic' && request.strategy.waves) {
    throw new ProtocolError(
      'strategy.waves',
      'absent for a dynamic batch (its targets grow as devices report)',
      request.strategy.waves,
    );
  }
  return request;
}
