/**
 * A package download over HTTP(S), streamed chunk by chunk to the device (never held whole in
 * memory). When the connection drops, the device asks for the rest with `Range: bytes=<n>-`
 * (a server that answers 206 resumes; one that answers 200 starts over), a few times at most.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ResponseHead, ResponseReader } from './http-response';
import { Interrupted } from './timers';

export const MAX_RESUMES = 3;
/** The pause before the n-th resume is n times this: a loaded server gets a moment to recover. */
export const RESUME_BACKOFF_MS = 250;
const IDLE_TIMEOUT_MS = 30_000;
/** Body bytes read ahead of a device still busy with earlier ones; more pauses the socket. */
const HIGH_WATER_BYTES = 64 * 1024;

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
      await fetchOnce(d, received, {
        head: (head) => {
          if (head.status === 200 && received > 0) {
            d.onRestart();
            received = 0;
          } else if (head.status === 206 && received > 0) {
            const range = head.headers.get('content-range') ?? '';
            const start = /^bytes (\d+)-/.exec(range);
            if (!start || Number(start[1]) !== received)
              throw new DownloadFailed(`the server answered Range bytes=${received}- with Content-Range "${range}"`);
          } else if (head.status !== 200) {
            throw new DownloadFailed(`HTTP ${head.status} ${head.statusMessage}`.trim());
          }
        },
        body: (chunk) => {
          received += chunk.length;
          return d.onChunk(chunk);
        },
        // More than announced: stop here and let verification refuse the size.
        enough: () => received > d.size,
      });
      if (received >= d.size) return { bytes: received, resumes };
      dropped = `the server closed the connection after ${received} of ${d.size} bytes`;
    } catch (err) {
      if (d.signal.aborted) throw new Interrupted();
      if (err instanceof FromSink) throw err.inner;
      if (err instanceof DownloadFailed) throw err;
      // Asking again would meet the same certificate.
      if (isCertificateError(err))
        throw new DownloadFailed(
          `the server's TLS certificate is refused: ${(err as Error).message} (--insecure accepts any)`,
        );
      dropped = `the connection dropped after ${received} of ${d.size} bytes (${(err as Error).message})`;
    }
    if (resumes >= MAX_RESUMES) throw new DownloadFailed(`${dropped}; gave up after ${MAX_RESUMES} resumes`);
    resumes++;
    await d.pause(RESUME_BACKOFF_MS * resumes);
  }
}

/** What one request does with its answer. */
interface Exchange {
  /** The response's head; throws to refuse it (the connection is closed). */
  head(head: ResponseHead): void;
  /** A slice of the body; a returned promise holds the next one back. */
  body(slice: Buffer): void | Promise<void>;
  /** Checked after each slice: true ends the request there. */
  enough(): boolean;
}

/**
 * One GET from `offset` on a connection of its own, closed at the end: what a device's own HTTP
 * client does, and no idle keep-alive socket is left behind when the simulation stops. Settles
 * when the body is complete (or the exchange has enough), or at the first error.
 */
function fetchOnce(d: HttpDownload, offset: number, exchange: Exchange): Promise<void> {
  return new Promise((resolve, reject) => {
    if (d.signal.aborted) return reject(new Interrupted());
    const url = new URL(d.url);
    const socket = connect(url, d.insecure);
    const queue: Buffer[] = [];
    let queued = 0;
    let busy = false;
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      d.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = () => settle(new Interrupted());
    const reader = new ResponseReader({
      head: (head) => exchange.head(head),
      body: (slice) => {
        queue.push(slice);
        queued += slice.length;
        if (queued > HIGH_WATER_BYTES) socket.pause();
      },
      end: () => undefined,
    });
    // The slices in order, each waited for when its handler returns a promise (a slow device).
    const drain = (): void => {
      while (queue.length > 0 && !settled) {
        const slice = queue.shift() as Buffer;
        queued -= slice.length;
        let pending: void | Promise<void>;
        try {
          pending = exchange.body(slice);
        } catch (err) {
          return settle(new FromSink(err));
        }
        if (pending) {
          busy = true;
          pending.then(
            () => {
              busy = false;
              if (exchange.enough()) settle();
              else drain();
            },
            (err: unknown) => settle(new FromSink(err)),
          );
          return;
        }
        if (exchange.enough()) return settle();
      }
      if (settled) return;
      if (reader.done) settle();
      else if (socket.isPaused()) socket.resume();
    };
    d.signal.addEventListener('abort', onAbort, { once: true });
    socket.setTimeout(IDLE_TIMEOUT_MS, () => settle(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
    socket.on('error', settle);
    socket.on('data', (bytes: Buffer) => {
      try {
        reader.feed(bytes);
      } catch (err) {
        return settle(err);
      }
      if (!busy) drain();
    });
    const cutShort = () => settle(new Error('the server closed the connection mid-response'));
    socket.on('end', () => {
      if (!reader.done && !reader.close()) return cutShort();
      if (!busy) drain();
    });
    // After the whole body, the slices still queued are handled before the request settles.
    socket.on('close', () => {
      if (!reader.done) cutShort();
    });
    socket.write(requestOf(url, offset));
  });
}

/** Node's codes for a certificate that does not verify (OpenSSL's names, and the host name check). */
function isCertificateError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code);
}

function connect(url: URL, insecure: boolean): net.Socket {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.protocol === 'https:') {
    const servername = net.isIP(host) ? undefined : host;
    return tls.connect({ host, port: Number(url.port) || 443, servername, rejectUnauthorized: !insecure });
  }
  if (url.protocol !== 'http:') throw new DownloadFailed(`${url.protocol} is not a download protocol: http: or https:`);
  return net.connect({ host, port: Number(url.port) || 80 });
}

function requestOf(url: URL, offset: number): string {
  const range = offset > 0 ? `Range: bytes=${offset}-\r\n` : '';
  return `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n${range}Connection: close\r\n\r\n`;
}
