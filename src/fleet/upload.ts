/**
 * Adding a package to a fleet: streamed once into content-addressed storage (size, md5, sha256
 * on the way), then recorded in the catalog. The same bytes under the same version are a no-op;
 * other bytes under an existing version are refused.
 */
import { Readable } from 'node:stream';
import {
  checkLabel,
  checkModule,
  checkTopicLevel,
  isPlainObject,
  normalizeSignMethod,
  ProtocolError,
} from '../protocol';
import { refused } from './errors';
import type { Fleet } from './fleet';
import type { PackageFiles } from './package-files';
import type { Firmware } from './types';

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
    signMethod: input.signMethod === undefined || input.signMethod === '' ? 'Md5' : normalizeSignMethod(input.signMethod, `${prefix}signMethod`),
  };
  if (input.srcVersion !== undefined && input.srcVersion !== '') meta.srcVersion = checkLabel(`${prefix}srcVersion`, input.srcVersion);
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
    for (const [k, v] of Object.entries(extData)) if (typeof v !== 'string') throw new ProtocolError(`${prefix}extData.${k}`, 'a string', v);
    meta.extData = extData as Record<string, string>;
  }
  return meta;
}

export async function uploadFirmware(
  fleet: Fleet,
  files: PackageFiles,
  source: Readable | AsyncIterable<Uint8Array> | Buffer,
  meta: UploadMeta,
  maxBytes: number,
): Promise<Firmware> {
  const digest = await files.save(source, maxBytes);
  try {
    return fleet.addFirmware({
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
    });
  } catch (err) {
    if (fleet.store.firmwareUsingFile(digest.sha256) === 0) files.remove(digest.sha256);
    throw err;
  }
}

/** Deletes a firmware and, when no other record uses the same bytes, its file. */
export function deleteHostedFirmware(fleet: Fleet, files: PackageFiles, id: string): Firmware {
  const firmware = fleet.deleteFirmware(id);
  if (firmware.hosted && fleet.store.firmwareUsingFile(firmware.sha256) === 0) files.remove(firmware.sha256);
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
  if (response.status !== 200 || !response.body) throw refused(`fetching ${url} answered HTTP ${response.status}, not 200`);
  const length = Number(response.headers.get('content-length'));
  if (length > maxBytes) throw refused(`the package at ${url} is ${length} bytes, over the limit of ${maxBytes}`);
  return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
}
