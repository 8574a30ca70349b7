/**
 * Alibaba IoT's MQTT login, as the real clients send it, so a broker can tell which device is
 * connecting without a cloud account:
 *
 *   client id  `<clientId>|securemode=3,signmethod=hmacsha256,timestamp=2524608000000,…|`
 *   user name  `<deviceName>&<productKey>`
 *   password   hex HMAC, keyed with the device secret, of the `key` + `value` pairs sorted by key
 *
 * Which pairs are signed (read in the clients' sources):
 * - iotkit-embedded 3.x (`IOT_Sign_MQTT`, src/dev_sign/dev_sign_mqtt.c) and Link SDK C 4.x
 *   (`core_auth_mqtt_password`, core/utils/core_auth.c) sign exactly clientId, deviceName,
 *   productKey and timestamp, with HMAC-SHA256, and send the hex in UPPER case. Everything else in
 *   their client id (`_v`, `_ss`, `lan`, `gw`, `ext`, `_conn`, …) is unsigned metadata.
 * - the npm package aliyun-iot-mqtt 0.0.1 (`getAliyunIotMqttClient`) signs, with HMAC-SHA1 in
 *   lower case, every option it was given besides the secret: clientId, deviceName, productKey,
 *   timestamp, and any extra such as `regionId`, which never appears in the login itself.
 *
 * So the verifier accepts the hex in either case and tries two sets: the base set (clientId,
 * deviceName, productKey, and timestamp when the client id has one), then the base set plus every
 * client-id parameter that is not SDK metadata (`LOGIN_META_KEYS`): a client that signs what it
 * submits. Extras that the login does not carry (aliyun-iot-mqtt's `regionId`) can only be checked
 * when the broker is told them (`checkLogin`'s `extraSigned`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { checkTopicLevel, ProtocolError } from '../protocol';

export type LoginSignMethod = 'hmacsha1' | 'hmacsha256' | 'hmacmd5';

/** The three fields of an MQTT CONNECT that carry an Alibaba login. */
export interface MqttLogin {
  clientId: string;
  username?: string;
  password?: string | Buffer;
}

/** Who a login claims to be: read, not yet checked against a secret. */
export interface LoginClaim {
  productKey: string;
  deviceName: string;
  signmethod: LoginSignMethod;
  /** The client id before the first `|` (`pk.dn` for the C SDKs; any text, even empty, for others). */
  clientIdBase: string;
  /** Every `key=value` between the two `|`, signmethod, securemode and timestamp included. */
  params: Record<string, string>;
  /** The HMAC the client sent, as lowercase hex (the C SDKs send it upper case). */
  password: string;
}

export interface LoginCheckOptions {
  /**
   * Values the client signed without sending them (aliyun-iot-mqtt signs every option it was
   * given, e.g. `{ regionId: 'cn-shanghai' }`): tried in addition to the two sets read from the login.
   */
  extraSigned?: Readonly<Record<string, string>>;
}

/**
 * Client-id parameters the SDKs send as unsigned metadata: the login's own settings, iotkit 3.x's
 * `_v` (SDK version), `lan`, `_ss`, `gw`, `ext`, `v`, `a`, and Link SDK 4's `_conn` (network stats).
 */
export const LOGIN_META_KEYS: ReadonlySet<string> = new Set([
  'securemode',
  'signmethod',
  'timestamp',
  '_v',
  'v',
  'a',
  'lan',
  '_ss',
  'gw',
  'ext',
  '_conn',
  'authtype',
]);

const HASHES: Record<LoginSignMethod, { algorithm: string; bytes: number; name: string }> = {
  hmacsha1: { algorithm: 'sha1', bytes: 20, name: 'HMAC-SHA1' },
  hmacsha256: { algorithm: 'sha256', bytes: 32, name: 'HMAC-SHA256' },
  hmacmd5: { algorithm: 'md5', bytes: 16, name: 'HMAC-MD5' },
};

const CLIENT_ID_SHAPE = '"<clientId>|securemode=…,signmethod=…,timestamp=…|"';
const HEX = /^[0-9a-fA-F]*$/;

function isSignMethod(value: string): value is LoginSignMethod {
  return Object.hasOwn(HASHES, value);
}

function show(text: string): string {
  return JSON.stringify(text.length <= 80 ? text : `${text.slice(0, 80)}…`);
}

// ---- reading a login -----------------------------------------------------------------------------

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Reads who a login claims to be; refusals say what is malformed and never echo the password. */
export function parseLogin(login: MqttLogin): { ok: true; claim: LoginClaim } | { ok: false; reason: string } {
  const clientId = readClientId(login.clientId);
  if (!clientId.ok) return clientId;
  const user = readUsername(login.username);
  if (!user.ok) return user;
  const { base, params } = clientId.value;
  const { productKey, deviceName } = user.value;

  const method = params.signmethod;
  if (method === undefined) {
    return {
      ok: false,
      reason: `the client id names no signmethod: Alibaba's login needs one of ${Object.keys(HASHES).join(', ')} between the two "|"`,
    };
  }
  const signmethod = method.toLowerCase();
  if (!isSignMethod(signmethod)) {
    return {
      ok: false,
      reason: `unknown sign method ${show(method)} in the client id: expected hmacsha1, hmacsha256 or hmacmd5`,
    };
  }
  const claimed = claimedDevice(base, productKey, deviceName);
  if (claimed) {
    return {
      ok: false,
      reason: `the client id ${show(base)} names device ${claimed}, but the user name ${show(login.username ?? '')} is device ${productKey}/${deviceName}`,
    };
  }
  const password = readPassword(login.password, signmethod);
  if (!password.ok) return password;
  return {
    ok: true,
    claim: { productKey, deviceName, signmethod, clientIdBase: base, params, password: password.value },
  };
}

function readClientId(clientId: unknown): Parsed<{ base: string; params: Record<string, string> }> {
  if (typeof clientId !== 'string' || clientId.length === 0) {
    return {
      ok: false,
      reason: `the client id must be ${CLIENT_ID_SHAPE}, got ${typeof clientId === 'string' ? 'an empty string' : 'nothing'}`,
    };
  }
  const first = clientId.indexOf('|');
  const inner = clientId.slice(first + 1, -1);
  if (first < 0 || !clientId.endsWith('|') || clientId.length - first < 2 || inner.includes('|')) {
    return {
      ok: false,
      reason: `the client id must be ${CLIENT_ID_SHAPE}, with its parameters between two "|", got ${show(clientId)}`,
    };
  }
  const params: Record<string, string> = {};
  // Link SDK 4 leaves an empty item before the closing "|" when it has no extended client id.
  for (const item of inner.split(',').filter((part) => part.length > 0)) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq);
    if (eq <= 0)
      return { ok: false, reason: `client id parameter ${show(item)} is not "key=value" (in ${show(clientId)})` };
    if (Object.hasOwn(params, key))
      return { ok: false, reason: `client id parameter "${key}" appears twice (in ${show(clientId)})` };
    params[key] = item.slice(eq + 1);
  }
  return { ok: true, value: { base: clientId.slice(0, first), params } };
}

function readUsername(username: unknown): Parsed<{ productKey: string; deviceName: string }> {
  const shape = 'the user name must be "deviceName&productKey"';
  if (typeof username !== 'string' || username.length === 0) return { ok: false, reason: `${shape}, got nothing` };
  // Product keys are letters and digits, so the last "&" is the separator.
  const amp = username.lastIndexOf('&');
  if (amp < 0) return { ok: false, reason: `${shape}, got ${show(username)}` };
  try {
    const deviceName = checkTopicLevel('the device name in the user name', username.slice(0, amp));
    const productKey = checkTopicLevel('the product key in the user name', username.slice(amp + 1));
    return { ok: true, value: { productKey, deviceName } };
  } catch (err) {
    return { ok: false, reason: `${shape}: ${(err as ProtocolError).message}` };
  }
}

/**
 * The device a `pk.dn` client id names when it is not the user name's device, or undefined.
 * The C SDKs' whole client id is predictable (their timestamp is fixed), so a device that could
 * log in with another device's `pk.dn` would take over that device's MQTT session.
 */
function claimedDevice(base: string, productKey: string, deviceName: string): string | undefined {
  if (!base.includes('.') || base === `${productKey}.${deviceName}` || base === deviceName) return undefined;
  const dot = base.indexOf('.');
  return `${base.slice(0, dot)}/${base.slice(dot + 1)}`;
}

function readPassword(password: unknown, method: LoginSignMethod): Parsed<string> {
  const { bytes, name } = HASHES[method];
  const expected = `the password must be the ${bytes * 2}-character hex ${name} of the login, keyed with the device secret`;
  if (password === undefined || password === null) return { ok: false, reason: `missing password: ${expected}` };
  const text = Buffer.isBuffer(password)
    ? password.toString('latin1')
    : typeof password === 'string'
      ? password
      : undefined;
  if (text === undefined) return { ok: false, reason: `${expected}, got a ${typeof password}` };
  if (text.length === 0) return { ok: false, reason: `missing password: ${expected}` };
  // Only the length is told, never the characters.
  if (text.length !== bytes * 2 || !HEX.test(text))
    return { ok: false, reason: `${expected}, got ${text.length} characters that are not that` };
  return { ok: true, value: text.toLowerCase() };
}

// ---- checking it against a secret ----------------------------------------------------------------

/** The text that is signed: the pairs sorted by key (as JavaScript sorts), each `key` + `value`, no separator. */
export function loginSignContent(pairs: Readonly<Record<string, string>>): string {
  return Object.keys(pairs)
    .sort()
    .map((key) => `${key}${pairs[key]}`)
    .join('');
}

function hmac(method: LoginSignMethod, secret: string, content: string): Buffer {
  return createHmac(HASHES[method].algorithm, secret).update(content, 'utf8').digest();
}

/** The sets of pairs a client may have signed for this claim, most common first. */
function signedSets(
  claim: LoginClaim,
  extraSigned: Readonly<Record<string, string>> | undefined,
): Record<string, string>[] {
  const base: Record<string, string> = {
    clientId: claim.clientIdBase,
    deviceName: claim.deviceName,
    productKey: claim.productKey,
  };
  if (claim.params.timestamp !== undefined) base.timestamp = claim.params.timestamp;
  const extras = Object.entries(claim.params).filter(([key]) => !LOGIN_META_KEYS.has(key) && !Object.hasOwn(base, key));
  const sets = [base];
  if (extras.length > 0) sets.push({ ...Object.fromEntries(extras), ...base });
  if (extraSigned && Object.keys(extraSigned).length > 0) {
    for (const set of [...sets]) sets.push({ ...extraSigned, ...set });
  }
  return sets;
}

/**
 * Does the claim's password match an HMAC with this secret (timing-safe comparison)? Tries the
 * base set, then the base set with the client id's non-metadata parameters, and with
 * `options.extraSigned` when given (see the top of this file).
 */
export function checkLogin(claim: LoginClaim, deviceSecret: string, options: LoginCheckOptions = {}): boolean {
  if (typeof deviceSecret !== 'string' || deviceSecret.length === 0 || !isSignMethod(claim.signmethod)) return false;
  const sent = Buffer.from(claim.password, 'hex');
  if (sent.length !== HASHES[claim.signmethod].bytes) return false;
  let match = false;
  // Every set is computed and compared, so the time taken does not tell which one matched.
  for (const set of signedSets(claim, options.extraSigned)) {
    if (timingSafeEqual(hmac(claim.signmethod, deviceSecret, loginSignContent(set)), sent)) match = true;
  }
  return match;
}

// ---- signing one, as a client ----------------------------------------------------------------------

export interface SignLoginInput {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
  /** Before the first `|`; `productKey.deviceName` by default, as the C SDKs. */
  clientId?: string;
  /** Signed, and sent as the client id's first parameter, when given (the C SDKs send `2524608000000`). */
  timestamp?: string;
  /** `hmacsha256` by default, as the C SDKs. */
  signmethod?: LoginSignMethod;
  /** `3` (plain TCP) by default. */
  securemode?: string;
  /**
   * More client-id parameters, after signmethod, in this order. SDK metadata (`LOGIN_META_KEYS`:
   * `_v`, `lan`, …) is sent unsigned, as the SDKs do; any other key is also signed.
   */
  extra?: Record<string, string>;
}

const CLIENT_ID_CHARS = /^[^|,]*$/;
const PARAM_KEY = /^[^|,=]+$/;
const SIGNED_BASE = new Set(['clientId', 'deviceName', 'productKey']);

/** What a client sends, signed as the SDKs sign (for tests, the simulator and docs). Password in lowercase hex. */
export function signLogin(input: SignLoginInput): { clientId: string; username: string; password: string } {
  const productKey = checkTopicLevel('productKey', input.productKey);
  const deviceName = checkTopicLevel('deviceName', input.deviceName);
  if (typeof input.deviceSecret !== 'string' || input.deviceSecret.length === 0) {
    throw new Error('signLogin needs the device secret: a non-empty string');
  }
  const signmethod = input.signmethod ?? 'hmacsha256';
  if (!isSignMethod(signmethod)) throw new ProtocolError('signmethod', 'hmacsha1, hmacsha256 or hmacmd5', signmethod);
  const base = input.clientId ?? `${productKey}.${deviceName}`;
  if (!CLIENT_ID_CHARS.test(base)) throw new ProtocolError('clientId', 'text without "|" or ","', base);

  const params: [string, string][] = [];
  if (input.timestamp !== undefined) params.push(['timestamp', input.timestamp]);
  params.push(['securemode', input.securemode ?? '3'], ['signmethod', signmethod]);
  for (const [key, value] of Object.entries(input.extra ?? {})) {
    if (!PARAM_KEY.test(key) || params.some(([k]) => k === key) || SIGNED_BASE.has(key)) {
      throw new ProtocolError(
        `extra.${key}`,
        'a key without "|", "," or "=" that is neither a login parameter nor clientId, deviceName or productKey',
        key,
      );
    }
    params.push([key, value]);
  }
  for (const [key, value] of params) {
    if (!CLIENT_ID_CHARS.test(value))
      throw new ProtocolError(
        key === 'timestamp' || key === 'securemode' ? key : `extra.${key}`,
        'text without "|" or ","',
        value,
      );
  }

  const signed: Record<string, string> = { clientId: base, deviceName, productKey };
  for (const [key, value] of params) if (key === 'timestamp' || !LOGIN_META_KEYS.has(key)) signed[key] = value;
  return {
    clientId: `${base}|${params.map(([key, value]) => `${key}=${value}`).join(',')}|`,
    username: `${deviceName}&${productKey}`,
    password: hmac(signmethod, input.deviceSecret, loginSignContent(signed)).toString('hex'),
  };
}
