/**
 * Serves a hosted package over HTTP: signed URL checked first (403, no bytes, when expired,
 * tampered or unsigned), then the file streamed with Range (206, resume), HEAD, ETag and
 * Content-Length, in constant memory. Plain Node http objects: the node adapter mounts it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { PackageFiles } from './package-files';
import type { Firmware } from './types';
import { checkUrlSignature } from './url-signing';

export interface ServedFleet {
  secret: string;
  files: PackageFiles;
  firmware(id: string): Firmware | undefined;
}

export interface PackageRequest {
  fleet: string;
  firmware: string;
  expires: unknown;
  signature: unknown;
}

export type Range = { start: number; end: number };

/** Parses a single `bytes=` range against a size; `undefined` means serve it all, `null` unsatisfiable. */
export function parseRange(header: string | undefined, size: number): Range | undefined | null {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined; // several ranges or another unit: the whole file is a valid answer
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return null;
  return { start, end };
}

function deny(res: ServerResponse, status: number, error: string): void {
  const body = JSON.stringify({ error });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

export async function servePackage(
  fleet: ServedFleet | undefined,
  request: PackageRequest,
  req: IncomingMessage,
  res: ServerResponse,
  now: number,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return deny(res, 405, 'only GET and HEAD are allowed');
  }
  if (!fleet) return deny(res, 404, 'no such firmware');
  const expires = typeof request.expires === 'string' && /^\d{1,12}$/.test(request.expires) ? Number(request.expires) : NaN;
  const check = checkUrlSignature(fleet.secret, { fleet: request.fleet, firmware: request.firmware, expires }, request.signature, now);
  if (!check.ok) return deny(res, 403, check.reason);
  const firmware = fleet.firmware(request.firmware);
  if (!firmware || !firmware.hosted || !fleet.files.has(firmware.sha256)) return deny(res, 404, 'no such firmware');

  const size = firmware.size;
  const etag = `"${firmware.sha256}"`;
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${`${firmware.productKey}-${firmware.module}-${firmware.version}.bin`.replace(/[^\w.-]/g, '_')}"`,
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Cache-Control': 'private, no-transform',
    'Last-Modified': new Date(firmware.createdAt).toUTCString(),
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ETag: etag });
    return void res.end();
  }
  const ifRange = req.headers['if-range'];
  const range = ifRange && ifRange !== etag ? undefined : parseRange(req.headers.range, size);
  if (range === null) {
    res.writeHead(416, { 'Content-Range': `bytes */${size}`, ETag: etag });
    return void res.end();
  }
  if (range) {
    res.writeHead(206, { ...headers, 'Content-Range': `bytes ${range.start}-${range.end}/${size}`, 'Content-Length': range.end - range.start + 1 });
  } else {
    res.writeHead(200, { ...headers, 'Content-Length': size });
  }
  if (req.method === 'HEAD') return void res.end();
  try {
    await pipeline(fleet.files.stream(firmware.sha256, range), res);
  } catch {
    // The device hung up (it will resume with Range); nothing to report.
    res.destroy();
  }
}
