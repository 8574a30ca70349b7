/**
 * Adding a package to a fleet: streamed once into content-addressed storage (size, md5, sha256
 * on the way), then recorded in the catalog. The same bytes under the same version are a no-op;
 * other bytes under an existing version are refused. Several files can make one firmware (Link
 * SDK 4's `files`): each is stored the same way and the record lists them.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  checkLabel,
  checkModule,
  checkTopicLevel,
  isPlainObject,
  MAX_FILES,
  normalizeSignMethod,
  PackageDigest,
  ProtocolError,
} from '../protocol';
import { FleetError, refused } from './errors';
import type { NewFirmware } from './catalog';
import type { Fleet } from './fleet';
import type { PackageFiles } from './package-files';
import type { Firmware, FirmwareFile } from './types';

type Source = Readable | AsyncIterable<Uint8Array> | Buffer;

/**
 * How a caller reaches a fleet's store: one unit of work, answered with a promise (at once on
 * SQLite; inside a transaction of a server store, perhaps run more than once, so `fn` only calls
 * the fleet). A node's FleetHandle has it as `ask`.
 */
export type AskFleet = <T>(fn: (fleet: Fleet) => T) => Promise<T>;

/** One file of a multi-file upload (a part of a multipart/form-data body). */
export interface UploadPart {
  fileName: string;
  source: Source;
}

export interface UploadMeta {
  productKey: string;
  module: string;
  version: string;
  srcVersion?: string;
  signMethod: 'Md5' | 'SHA256';
  extData?: Record<string, string>;
}

/** Checks upload labels from a node's settings, a message or a query string. */
export function readUploadMeta(input: Record<string, unknown>, prefix = ''): UploadMeta {
  const meta: UploadMeta = {
    productKey: checkTopicLevel(`${prefix}productKey`, input.productKey),
    module: checkModule(`${prefix}module`, input.module),
    version: checkLabel(`${prefix}version`, input.version),
    signMethod:
      input.signMethod === undefined || input.signMethod === ''
        ? 'Md5'
        : normalizeSignMethod(input.signMethod, `${prefix}signMethod`),
  };
  if (input.srcVersion !== undefined && input.srcVersion !== '')
    meta.srcVersion = checkLabel(`${prefix}srcVersion`, input.srcVersion);
  let extData = input.extData;
  if (typeof extData === 'string' && extData.trim() !== '') {
    try {
      extData = JSON.parse(extData);
    } catch {
      throw new ProtocolError(`${prefix}extData`, 'a JSON object of string tags', extData);
    }
  }
  if (extData !== undefined && extData !== null && extData !== '') {
    if (!isPlainObject(extData)) throw new ProtocolError(`${prefix}extData`, 'an object of string tags', extData);
    for (const [k, v] of Object.entries(extData))
      if (typeof v !== 'string') throw new ProtocolError(`${prefix}extData.${k}`, 'a string', v);
    meta.extData = extData as Record<string, string>;
  }
  return meta;
}

export async function uploadFirmware(
  ask: AskFleet,
  files: PackageFiles,
  source: Source,
  meta: UploadMeta,
  maxBytes: number,
): Promise<Firmware> {
  const digest = await files.save(source, maxBytes);
  return recordHosted(ask, files, meta, digest, [digest.sha256]);
}

/**
 * Stores several files as one firmware, in the order given. One file makes a single-package
 * firmware (Link SDK 4 drops a one-entry `files` list). Refuses more than 20 files, two with one
 * name, a name that is not a label, an empty file, and a total over `maxBytes`; what was stored
 * for a refused upload is removed.
 */
export async function uploadFirmwareFiles(
  ask: AskFleet,
  files: PackageFiles,
  parts: AsyncIterable<UploadPart>,
  meta: UploadMeta,
  maxBytes: number,
): Promise<Firmware> {
  const stored: (FirmwareFile & { digest: PackageDigest })[] = [];
  let total = 0;
  try {
    for await (const part of parts) {
      const at = `files[${stored.length}]`;
      if (stored.length === MAX_FILES)
        throw refused(`a firmware holds at most ${MAX_FILES} files; "${part.fileName}" is one more`);
      const fileName = checkLabel(`${at}.fileName`, part.fileName);
      const same = stored.findIndex((f) => f.fileName === fileName);
      if (same >= 0)
        throw refused(
          `two files are named "${fileName}" (files[${same}] and ${at}); each file of a firmware needs its own name`,
        );
      let digest: PackageDigest;
      try {
        digest = await files.save(part.source, maxBytes, total);
      } catch (err) {
        throw err instanceof FleetError ? new FleetError(err.code, `${at} "${fileName}": ${err.message}`) : err;
      }
      total += digest.size;
      const fileSign = meta.signMethod === 'Md5' ? digest.md5 : digest.sha256;
      stored.push({ fileName, fileSize: digest.size, fileSign, md5: digest.md5, sha256: digest.sha256, digest });
    }
  } catch (err) {
    await removeUnused(
      ask,
      files,
      stored.map((f) => f.sha256 as string),
    );
    throw err;
  }
  if (stored.length === 0) throw refused('the upload holds no file: send one part per file, each with a filename');
  if (stored.length === 1) return recordHosted(ask, files, meta, stored[0].digest, [stored[0].digest.sha256]);
  const list = stored.map(({ digest: _digest, ...file }) => file);
  return recordHosted(
    ask,
    files,
    meta,
    { size: total, ...fileListDigests(list) },
    list.map((f) => f.sha256 as string),
    list,
  );
}

/**
 * The digests of a list of files: md5 and sha256 of the lines `<fileName> <sha256>\n`, in the
 * list's order. Two lists are the same bytes exactly when these are equal.
 */
export function fileListDigests(list: readonly Pick<FirmwareFile, 'fileName' | 'sha256'>[]): {
  md5: string;
  sha256: string;
} {
  const text = list.map((f) => `${f.fileName} ${f.sha256}\n`).join('');
  return { md5: createHash('md5').update(text).digest('hex'), sha256: createHash('sha256').update(text).digest('hex') };
}

async function recordHosted(
  ask: AskFleet,
  files: PackageFiles,
  meta: UploadMeta,
  digest: PackageDigest,
  stored: string[],
  list?: FirmwareFile[],
): Promise<Firmware> {
  const record: NewFirmware = {
    productKey: meta.productKey,
    module: meta.module,
    version: meta.version,
    size: digest.size,
    md5: digest.md5,
    sha256: digest.sha256,
    signMethod: meta.signMethod,
    hosted: true,
    isDiff: meta.srcVersion !== undefined,
    srcVersion: meta.srcVersion,
    extData: meta.extData,
    files: list,
  };
  try {
    return await ask((fleet) => fleet.addFirmware(record));
  } catch (err) {
    await removeUnused(ask, files, stored);
    throw err;
  }
}

/** Whether a hosted record uses the stored file: as its package, or as one of its files. */
function fileInUse(fleet: Fleet, sha256: string): boolean {
  if (fleet.store.firmwareUsingFile(sha256) > 0) return true;
  return fleet.store.listFirmware().some((fw) => fw.hosted && fw.files?.some((f) => f.sha256 === sha256));
}

/** Of the stored files, those no record uses (read in one unit of work; removed by the caller, after it). */
function unusedFiles(fleet: Fleet, stored: string[]): string[] {
  return [...new Set(stored)].filter((sha256) => !fileInUse(fleet, sha256));
}

async function removeUnused(ask: AskFleet, files: PackageFiles, stored: string[]): Promise<void> {
  for (const sha256 of await ask((fleet) => unusedFiles(fleet, stored))) files.remove(sha256);
}

/** Deletes a firmware and, when no other record uses the same bytes, its file (or files). */
export async function deleteHostedFirmware(ask: AskFleet, files: PackageFiles, id: string): Promise<Firmware> {
  const { firmware, unused } = await ask((fleet) => {
    const deleted = fleet.deleteFirmware(id);
    const stored = deleted.files ? deleted.files.map((f) => f.sha256 ?? '').filter(Boolean) : [deleted.sha256];
    return { firmware: deleted, unused: deleted.hosted ? unusedFiles(fleet, stored) : [] };
  });
  for (const sha256 of unused) files.remove(sha256);
  return firmware;
}

/** Opens an http(s) URL as a byte stream, refusing anything but a 200 and a declared size over the limit. */
export async function openUrl(url: string, maxBytes: number): Promise<Readable> {
  if (!/^https?:\/\//i.test(url)) throw new ProtocolError('msg.url', 'an http:// or https:// URL', url);
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw refused(`could not fetch ${url}: ${(err as Error).message}`);
  }
  if (response.status !== 200 || !response.body)
    throw refused(`fetching ${url} answered HTTP ${response.status}, not 200`);
  const length = Number(response.headers.get('content-length'));
  if (length > maxBytes) throw refused(`the package at ${url} is ${length} bytes, over the limit of ${maxBytes}`);
  return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
}
