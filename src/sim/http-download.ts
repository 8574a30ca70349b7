/**
 * A package download over HTTP(S), streamed chunk by chunk to the device (never held whole in
 * memory). When the connection drops, the device asks for the rest with `Range: bytes=<n>-`
 * (a server that answers 206 resumes; one that answers 200 starts over), a few times at most.
 */
import http, { IncomingMessage } from 'node:http';
import https from 'node:https';
import { Interrupted } from './timers';

export const MAX_RESUMES = 3;
/** The pause before the n-th resume is n times this: a loaded server gets a moment to recover. */
export const RESUME_BACKOFF_MS = 250;
const IDLE_TIMEOUT_MS = 30_000;

export interface HttpDownload {
  url: string;
  /** The package size announced by the notice. */
  size: number;
  signal: AbortSignal;
  insecure: boolean;
  /** Each chunk in order; a returned promise holds the download back (a slow device). */
  onChunk(chunk: Buffer): void | Promise<void>;
  /** The server sent the whole package again: forget the bytes received so far. */
  onRestart(): void;
  /** Waits before a resume (the device's clock, ended by its signal). */
  pause(ms: number): Promise<void>;
}

export interface DownloadResult {
  bytes: number;
  /** How many times the download resumed after a dropped connection. */
  resumes: number;
}

/** A download that cannot go on: the device reports `step` (-2 unless said otherwise) with this reason. */
export class DownloadFailed extends Error {
  constructor(
    message: string,
    readonly step = -2,
  ) {
    super(message);
    this.name = 'DownloadFailed';
  }
}

/** Errors the device's own chunk handler throws pass through untouched. */
class FromSink extends Error {
  constructor(readonly inner: unknown) {
    super('sink');
  }
}

export async function downloadOverHttp(d: HttpDownload): Promise<DownloadResult> {
  let received = 0;
  let resumes = 0;
  for (;;) {
    let dropped: string;
    try {
      const res = await get(d, received);
      if (res.statusCode === 200 && received > 0) {
        d.onRestart();
        received = 0;
      } else if (res.statusCode === 206 && received > 0) {
        const start = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
        if (!start || Number(start[1]) !== received) {
          res.destroy();
          throw new DownloadFailed(
            `the server answered Range bytes=${received}- with Content-Range "${res.headers['content-range'] ?? ''}"`,
          );
        }
      } else if (res.statusCode !== 200) {
        res.destroy();
        throw new DownloadFailed(`HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
      }
      for await (const chunk of res as AsyncIterable<Buffer>) {
        received += chunk.length;
        try {
          await d.onChunk(chunk);
        } catch (err) {
          throw new FromSink(err);
        }
        // More than announced: stop here and let verification refuse the size.
        if (received > d.size) return { bytes: received, resumes };
      }
      if (received >= d.size) return { bytes: received, resumes };
      dropped = `the server closed the connection after ${received} of ${d.size} bytes`;
    } catch (err) {
      if (d.signal.aborted) throw new Interrupted();
      if (err instanceof FromSink) throw err.inner;
      if (err instanceof DownloadFailed) throw err;
      dropped = `the connection dropped after ${received} of ${d.size} bytes (${(err as Error).message})`;
    }
    if (resumes >= MAX_RESUMES) throw new DownloadFailed(`${dropped}; gave up after ${MAX_RESUMES} resumes`);
    resumes++;
    await d.pause(RESUME_BACKOFF_MS * resumes);
  }
}

function get(d: HttpDownload, offset: number): Promise<IncomingMessage> {
  const client = d.url.startsWith('https:') ? https : http;
  const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  return new Promise((resolve, reject) => {
    // agent: false, one connection per download, closed at the end: what a device does, and no
    // idle keep-alive socket is left behind when the simulation stops.
    const req = client.get(
      d.url,
      { headers, signal: d.signal, agent: false, rejectUnauthorized: !d.insecure },
      resolve,
    );
    req.on('error', reject);
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
  });
}
