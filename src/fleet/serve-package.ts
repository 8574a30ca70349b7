/**
 * Serves a hosted package over HTTP: signed URL checked first (403, no bytes, when expired,
 * tampered or unsigned), then the file streamed with Range (206, resume), HEAD, ETag and
 * Content-Length, in constant memory. A file of a multi-file firmware is served the same way at
 * its own URL (`…/<firmware>/<file index>`). Plain Node http objects: the node adapter mounts it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { PackageFiles } from './package-files';
import type { Firmware } from './types';
import { checkUrlSignature } from './url-signing';

export interface ServedFleet {
  secret: string;
  files: PackageFiles;
  /** The catalog record, or undefined; a promise where the store answers with promises. */
  firmware(id: string): Firmware | undefined | Promise<Firmware | undefined>;
}

export interface PackageRequest {
  fleet: string;
  firmware: string;
  /** The path segment after the firmware id, for one file of a multi-file firmware. */
  file?: string;
  expires: unknown;
  signature: unknown;
}

/** What one URL serves: a single package, or one file of a list. */
interface Served {
  sha256: string;
  size: number;
  fileName: string;
}

/** The bytes a request names, or undefined (404) when the firmware has no such package or file. */
function servedOf(firmware: Firmware | undefined, file: number | undefined): Served | undefined {
  if (!firmware || !firmware.hosted) return undefined;
  if (file === undefined) {
    if (firmware.files) return undefined;
    const fileName = `${firmware.productKey}-${firmware.module}-${firmware.version}.bin`;
    return { sha256: firmware.sha256, size: firmware.size, fileName };
  }
  const entry = firmware.files?.[file];
  return entry?.sha256 ? { sha256: entry.sha256, size: entry.fileSize, fileName: entry.fileName } : undefined;
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

/** A refused download: the status and `{error}` as JSON, never cached. */
export function refuseDownload(res: ServerResponse, status: number, error: string): void {
  const body = JSON.stringify({ error });
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
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
    return refuseDownload(res, 405, 'only GET and HEAD are allowed');
  }
  if (!fleet) return refuseDownload(res, 404, 'no such firmware');
  const expires =
    typeof request.expires === 'string' && /^\d{1,12}$/.test(request.expires) ? Number(request.expires) : NaN;
  // An index that is not a small decimal number cannot have been signed: the signature check refuses it.
  const file = request.file === undefined ? undefined : /^\d{1,6}$/.test(request.file) ? Number(request.file) : -1;
  const check = checkUrlSignature(
    fleet.secret,
    { fleet: request.fleet, firmware: request.firmware, expires, file },
    request.signature,
    now,
  );
  if (!check.ok) return refuseDownload(res, 403, check.reason);
  const firmware = await fleet.firmware(request.firmware);
  const served = servedOf(firmware, file);
  if (!firmware || !served || !fleet.files.has(served.sha256))
    return refuseDownload(res, 404, file === undefined || !firmware ? 'no such firmware' : 'no such file');

  const size = served.size;
  const etag = `"${served.sha256}"`;
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${served.fileName.replace(/[^\w.-]/g, '_')}"`,
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
    res.writeHead(206, {
      ...headers,
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
      'Content-Length': range.end - range.start + 1,
    });
  } else {
    res.writeHead(200, { ...headers, 'Content-Length': size });
  }
  if (req.method === 'HEAD') return void res.end();
  const whole = await fleet.files.smallPackage(served.sha256, size);
  if (whole) return void res.end(range ? whole.subarray(range.start, range.end + 1) : whole);
  try {
    await pipeline(fleet.files.stream(served.sha256, range), res);
  } catch {
    // The device hung up (it will resume with Range); nothing to report.
    res.destroy();
  }
}
