/**
 * Platform → device notices: T2 upgrade notice and T5 reply to a firmware query, built exactly
 * as the SDKs expect them (ota-protocol.md, T2 and T4/T5), plus the firmware descriptor they carry
 * and a parser for the device role.
 */
import { ProtocolError, required } from './errors';
import { checkInteger, checkLabel, checkModule, DEFAULT_MODULE, readId } from './fields';
import { decodeJsonObject, isPlainObject, JsonObject } from './json';
import { MessageId } from './reports';

export type SignMethod = 'Md5' | 'SHA256';

export interface PackageFile {
  fileName: string;
  fileSize: number;
  fileUrl: string;
  fileSign: string;
}

/** What a notice announces: one package (by URL or over MQTT) or several files. */
export interface FirmwareDescriptor {
  version: string;
  size: number;
  signMethod: SignMethod;
  sign: string;
  /** The package MD5 when known: sent even with SHA256, because iotkit-embedded 3.x requires it. */
  md5?: string;
  module: string;
  url?: string;
  extData?: Record<string, string>;
  isDiff?: boolean;
  /**
   * The version a differential package applies to. Not a wire field: a fleet restricts the
   * package's batches to devices at this version, and needs it for every external diff package.
   */
  srcVersion?: string;
  digestsign?: string;
  /** Download over MQTT (T6/T7) instead of a URL. */
  streamId?: number;
  streamFileId?: number;
  files?: PackageFile[];
}

export const MAX_MQTT_DOWNLOAD_SIZE = 16 * 1024 * 1024;
export const MAX_FILES = 20;
const MAX_EXTDATA_KEYS = 64;
// Link SDK 4 takes the first `"key":` anywhere in the notice, so a tag with one of these names would
// stand in for the field whenever the notice leaves it out (`module` for default, `url` over MQTT).
const FIELDS_LINK_SDK_READS = [
  'version',
  'size',
  'url',
  'signMethod',
  'sign',
  'module',
  'dProtocol',
  'streamId',
  'streamFileId',
  'files',
  'extData',
];

/** Accepts the spellings users and SDKs use and returns the one every SDK accepts. */
export function normalizeSignMethod(value: unknown, field = 'signMethod'): SignMethod {
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'md5') return 'Md5';
    if (lower === 'sha256' || lower === 'sha-256') return 'SHA256';
  }
  throw new ProtocolError(field, '"Md5" or "SHA256"', value);
}

export function checkDigest(field: string, method: SignMethod, value: unknown): string {
  const length = method === 'Md5' ? 32 : 64;
  if (typeof value !== 'string' || !new RegExp(`^[0-9a-fA-F]{${length}}$`).test(value)) {
    throw new ProtocolError(
      field,
      `the ${length}-character hex ${method === 'Md5' ? 'MD5' : 'SHA-256'} digest of the package`,
      value,
    );
  }
  return value.toLowerCase();
}

function checkUrl(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^https?:\/\/[^\s]+$/i.test(value) || value.length > 4096) {
    throw new ProtocolError(field, 'an http:// or https:// URL', value);
  }
  return value;
}

function checkExtData(field: string, value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw new ProtocolError(field, 'an object of string tags', value);
  const entries = Object.entries(value);
  if (entries.length > MAX_EXTDATA_KEYS) throw new ProtocolError(field, `at most ${MAX_EXTDATA_KEYS} tags`, value);
  const out: Record<string, string> = {};
  for (const [key, tag] of entries) {
    if (FIELDS_LINK_SDK_READS.includes(key)) {
      throw new ProtocolError(field, `tags not named like a notice field (${FIELDS_LINK_SDK_READS.join(', ')})`, key);
    }
    if (typeof tag !== 'string') throw new ProtocolError(`${field}.${key}`, 'a string', tag);
    out[key] = tag;
  }
  return out;
}

function checkSize(field: string, value: unknown): number {
  return checkInteger(field, value, 1, Number.MAX_SAFE_INTEGER);
}

/**
 * Validates a firmware descriptor given by a user (`msg.payload` of ota-push, a catalog record).
 * `sign` may be left out when `md5` or `sha256` is given; `signMethod` then defaults to Md5 when an
 * md5 is known (every SDK supports it), else SHA256.
 */
export function parseFirmwareDescriptor(input: unknown, field = 'msg.payload'): FirmwareDescriptor {
  if (!isPlainObject(input))
    throw new ProtocolError(field, 'a firmware descriptor object {version, url, size, signMethod, sign}', input);
  const f = (name: string) => `${field}.${name}`;
  const md5 = input.md5 === undefined ? undefined : checkDigest(f('md5'), 'Md5', input.md5);
  const sha256 = input.sha256 === undefined ? undefined : checkDigest(f('sha256'), 'SHA256', input.sha256);
  const signMethod =
    input.signMethod !== undefined
      ? normalizeSignMethod(input.signMethod, f('signMethod'))
      : md5 || !sha256
        ? 'Md5'
        : 'SHA256';
  const known = signMethod === 'Md5' ? md5 : sha256;
  if (input.sign === undefined && known === undefined && input.files === undefined) {
    required(
      f('sign'),
      `the package digest by signMethod ${signMethod} (or give ${signMethod === 'Md5' ? 'md5' : 'sha256'})`,
    );
  }
  const sign = input.sign === undefined ? (known ?? '') : checkDigest(f('sign'), signMethod, input.sign);
  if (known !== undefined && known !== sign) {
    throw new ProtocolError(f('sign'), `equal to ${f(signMethod === 'Md5' ? 'md5' : 'sha256')} (${known})`, input.sign);
  }
  const descriptor: FirmwareDescriptor = {
    version: checkLabel(f('version'), input.version),
    size:
      input.files !== undefined && input.size === undefined ? sumSizes(input.files) : checkSize(f('size'), input.size),
    signMethod,
    sign,
    module: checkModule(f('module'), input.module),
  };
  if (md5 !== undefined) descriptor.md5 = md5;
  else if (signMethod === 'Md5') descriptor.md5 = sign;
  const extData = checkExtData(f('extData'), input.extData);
  if (extData) descriptor.extData = extData;
  if (input.isDiff === true || input.isDiff === 1 || input.isDiff === '1') descriptor.isDiff = true;
  else if (input.isDiff !== undefined && input.isDiff !== false && input.isDiff !== 0 && input.isDiff !== null) {
    throw new ProtocolError(f('isDiff'), 'true or false', input.isDiff);
  }
  if (input.srcVersion !== undefined && input.srcVersion !== null && input.srcVersion !== '') {
    if (!descriptor.isDiff)
      throw new ProtocolError(
        f('srcVersion'),
        'given only with isDiff: true (the source version of a differential package)',
        input.srcVersion,
      );
    descriptor.srcVersion = checkLabel(f('srcVersion'), input.srcVersion);
  }
  if (input.digestsign !== undefined && input.digestsign !== null) {
    if (typeof input.digestsign !== 'string' || !/^[A-Za-z0-9+/=]{1,1024}$/.test(input.digestsign)) {
      throw new ProtocolError(f('digestsign'), 'a base64 signature', input.digestsign);
    }
    descriptor.digestsign = input.digestsign;
  }
  if (input.files !== undefined) {
    const files = checkFiles(f('files'), input.files, signMethod);
    if (files.length > 1) descriptor.files = files;
    else {
      // Link SDK 4 drops a `files` array of one entry: send a single file the single-file way.
      descriptor.url = files[0].fileUrl;
      descriptor.size = files[0].fileSize;
      descriptor.sign = files[0].fileSign;
      if (signMethod === 'Md5') descriptor.md5 = files[0].fileSign;
      else if (md5 === undefined) delete descriptor.md5;
    }
  } else if (input.dProtocol !== undefined && input.dProtocol !== null) {
    // dProtocol decides (Link SDK 4 reads streamId only with it): a catalog record's streamId alone does not.
    if (String(input.dProtocol).toLowerCase() !== 'mqtt') {
      throw new ProtocolError(f('dProtocol'), '"mqtt" (or leave it out and give a url)', input.dProtocol);
    }
    descriptor.streamId = checkInteger(f('streamId'), input.streamId, 0, 2 ** 31 - 1);
    descriptor.streamFileId =
      input.streamFileId === undefined ? 1 : checkInteger(f('streamFileId'), input.streamFileId, 0, 2 ** 31 - 1);
    if (descriptor.size > MAX_MQTT_DOWNLOAD_SIZE) {
      throw new ProtocolError(
        f('size'),
        `at most ${MAX_MQTT_DOWNLOAD_SIZE} bytes for a download over MQTT`,
        descriptor.size,
      );
    }
  } else {
    descriptor.url = checkUrl(f('url'), input.url);
  }
  return descriptor;
}

function sumSizes(files: unknown): number {
  return Array.isArray(files)
    ? files.reduce((n: number, file) => n + (Number((file as JsonObject)?.fileSize) || 0), 0) || 1
    : 1;
}

function checkFiles(field: string, value: unknown, method: SignMethod): PackageFile[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_FILES) {
    throw new ProtocolError(field, `an array of 1 to ${MAX_FILES} files`, value);
  }
  return value.map((file, i) => {
    const at = `${field}[${i}]`;
    if (!isPlainObject(file)) throw new ProtocolError(at, 'an object {fileName, fileSize, fileUrl, fileSign}', file);
    return {
      fileName: checkLabel(`${at}.fileName`, file.fileName),
      fileSize: checkSize(`${at}.fileSize`, file.fileSize),
      fileUrl: checkUrl(`${at}.fileUrl`, file.fileUrl),
      fileSign: checkDigest(`${at}.fileSign`, method, file.fileSign),
    };
  });
}

/**
 * The `data` object shared by T2 and T5, compact and in the order the platform sends it.
 * `extData` goes last: Link SDK 4 takes the first matching key anywhere in the text, so tags
 * placed earlier could shadow `size` or `url`. The one exception is `files`, which goes after it.
 */
export function noticeData(d: FirmwareDescriptor): JsonObject {
  const data: JsonObject = { size: d.size, version: d.version };
  if (d.files) {
    // Added last, below.
  } else if (d.streamId !== undefined) {
    data.dProtocol = 'mqtt';
    data.streamId = d.streamId;
    data.streamFileId = d.streamFileId ?? 1;
  } else {
    data.url = d.url;
  }
  data.signMethod = d.signMethod;
  if (!d.files) data.sign = d.sign;
  if (!d.files && d.md5) data.md5 = d.md5;
  if (d.module !== DEFAULT_MODULE) data.module = d.module;
  if (d.isDiff) data.isDiff = 1;
  if (d.digestsign) data.digestsign = d.digestsign;
  if (d.extData && Object.keys(d.extData).length > 0) data.extData = d.extData;
  // Link SDK 4 reads the files array up to the end of `data` and takes every `{…}` it meets for one
  // more file, so nothing may follow the array: an `extData` after it would count as a third file.
  if (d.files) {
    data.files = d.files.map((f) => ({
      fileName: f.fileName,
      fileSize: f.fileSize,
      fileUrl: f.fileUrl,
      fileSign: f.fileSign,
    }));
  }
  return data;
}

/** T2: code "1000" and message "success" (iotkit 3.x drops anything else), numeric id. */
export function buildUpgradeNotice(descriptor: FirmwareDescriptor, id: number): string {
  checkNoticeId(id);
  return upgradeNoticeTemplate(descriptor)(id);
}

/**
 * T2 payloads of one firmware for many devices: the data object is serialised once, and each
 * notice only adds its id. The one place the T2 payload is written.
 */
export function upgradeNoticeTemplate(descriptor: FirmwareDescriptor): (id: number) => string {
  const data = JSON.stringify(noticeData(descriptor));
  return (id) => `{"code":"1000","data":${data},"id":${checkNoticeId(id)},"message":"success"}`;
}

function checkNoticeId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 0) throw new ProtocolError('id', 'a non-negative integer', id);
  return id;
}

/** T5: integer code 200, the query's own id, `data:{}` when nothing is pending. */
export function buildFirmwareReply(id: MessageId | undefined, descriptor: FirmwareDescriptor | undefined): string {
  return JSON.stringify({ id: id ?? Date.now(), code: 200, data: descriptor ? noticeData(descriptor) : {} });
}

export interface ParsedNotice {
  id?: MessageId;
  /** Absent for a T5 with `data:{}` (nothing pending). */
  firmware?: FirmwareDescriptor;
}

/** Device role: reads a T2 notice or a T5 reply the way the SDKs do, refusing what they would drop. */
export function parseUpgradeNotice(payload: unknown, field = 'msg.notice'): ParsedNotice {
  const body = decodeJsonObject(payload, field);
  const id = readId(body, `${field}.id`);
  const isReply = body.code === 200 || body.code === '200';
  if (!isReply) {
    if (body.code !== '1000' && body.code !== 1000)
      throw new ProtocolError(`${field}.code`, '"1000" (T2) or 200 (T5)', body.code);
    if (body.message !== undefined && body.message !== 'success') {
      throw new ProtocolError(`${field}.message`, '"success"', body.message);
    }
  }
  const data = body.data;
  if (!isPlainObject(data)) throw new ProtocolError(`${field}.data`, 'an object', data);
  if (isReply && Object.keys(data).length === 0) return { id };
  const input: JsonObject = { ...data };
  return { id, firmware: parseFirmwareDescriptor(input, `${field}.data`) };
}
