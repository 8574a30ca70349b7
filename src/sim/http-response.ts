/**
 * An HTTP/1.1 response read as it arrives, the way a device's own small HTTP client reads it: the
 * status line and headers, then the body by `Content-Length`, by chunks (`Transfer-Encoding:
 * chunked`), or until the server closes. Pure: bytes in, callbacks out, in order; the body's slices
 * are views of the bytes fed in, never copies. 1xx answers are skipped.
 */

export interface ResponseHead {
  status: number;
  statusMessage: string;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Map<string, string>;
}

export interface ResponseSink {
  head(head: ResponseHead): void;
  body(slice: Buffer): void;
  /** The body is complete (by its length or its last chunk): nothing more is read. */
  end(): void;
}

/** The response is not HTTP/1.x as a device's client can read it. */
export class ResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseError';
  }
}

/** Larger heads than this are refused, as an embedded client's fixed header buffer would. */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_LINE_BYTES = 1024;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

type Phase = 'head' | 'length' | 'close' | 'size' | 'data' | 'data-end' | 'trailer' | 'done';

export class ResponseReader {
  private phase: Phase = 'head';
  /** Bytes of a head or a line not yet complete. */
  private pending: Buffer | null = null;
  /** Body bytes still due: of the Content-Length, or of the current chunk. */
  private left = 0;

  constructor(private readonly sink: ResponseSink) {}

  get done(): boolean {
    return this.phase === 'done';
  }

  /** Reads the next bytes; throws ResponseError at the first byte that cannot be read. */
  feed(bytes: Buffer): void {
    let buf = bytes;
    if (this.pending) {
      buf = Buffer.concat([this.pending, bytes]);
      this.pending = null;
    }
    let at = 0;
    while (at < buf.length && this.phase !== 'done') at = this.step(buf, at);
  }

  /**
   * The server closed the connection: true when that ends the body (a body read until close),
   * false when the response was cut short.
   */
  close(): boolean {
    if (this.phase === 'close') {
      this.phase = 'done';
      this.sink.end();
    }
    return this.phase === 'done';
  }

  /** One piece of the response from `at`; returns where the next one starts. */
  private step(buf: Buffer, at: number): number {
    switch (this.phase) {
      case 'head':
        return this.readHead(buf, at);
      case 'length':
      case 'data': {
        const n = Math.min(this.left, buf.length - at);
        this.left -= n;
        this.sink.body(buf.subarray(at, at + n));
        if (this.left === 0) this.afterData();
        return at + n;
      }
      case 'close':
        this.sink.body(at === 0 ? buf : buf.subarray(at));
        return buf.length;
      default:
        return this.readLine(buf, at);
    }
  }

  private afterData(): void {
    if (this.phase === 'length') this.finish();
    else this.phase = 'data-end';
  }

  private finish(): void {
    this.phase = 'done';
    this.sink.end();
  }

  private readHead(buf: Buffer, at: number): number {
    const end = buf.indexOf(HEAD_END, at);
    if (end < 0) {
      if (buf.length - at > MAX_HEAD_BYTES)
        throw new ResponseError(`the response head is over ${MAX_HEAD_BYTES} bytes`);
      this.pending = buf.subarray(at);
      return buf.length;
    }
    if (end - at > MAX_HEAD_BYTES) throw new ResponseError(`the response head is over ${MAX_HEAD_BYTES} bytes`);
    const head = parseHead(buf.toString('latin1', at, end));
    if (head.status >= 100 && head.status < 200) return end + HEAD_END.length;
    this.sink.head(head);
    this.phase = bodyPhase(head);
    if (this.phase === 'length') this.left = Number(head.headers.get('content-length'));
    if (this.phase === 'done' || (this.phase === 'length' && this.left === 0)) this.finish();
    return end + HEAD_END.length;
  }

  /** A chunk-size line, the CRLF after a chunk's data, or a trailer line. */
  private readLine(buf: Buffer, at: number): number {
    const end = buf.indexOf(CRLF, at);
    if (end < 0) {
      if (buf.length - at > MAX_LINE_BYTES) throw new ResponseError('a chunked body line is over 1024 bytes');
      this.pending = buf.subarray(at);
      return buf.length;
    }
    const line = buf.toString('latin1', at, end);
    if (this.phase === 'size') {
      const size = /^([0-9a-fA-F]{1,8})[ \t]*(;.*)?$/.exec(line);
      if (!size) throw new ResponseError(`a chunk size is not hexadecimal: "${line.slice(0, 40)}"`);
      this.left = parseInt(size[1], 16);
      this.phase = this.left === 0 ? 'trailer' : 'data';
    } else if (this.phase === 'data-end') {
      if (line !== '') throw new ResponseError('a chunk is longer than its size says');
      this.phase = 'size';
    } else if (line === '') {
      this.finish();
    }
    return end + CRLF.length;
  }
}

export function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!status) throw new ResponseError(`not an HTTP/1.x status line: "${lines[0].slice(0, 60)}"`);
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) throw new ResponseError(`a header line has no name: "${lines[i].slice(0, 60)}"`);
    headers.set(lines[i].slice(0, colon).trim().toLowerCase(), lines[i].slice(colon + 1).trim());
  }
  return { status: Number(status[1]), statusMessage: status[2] ?? '', headers };
}

/** How the body of a response to a GET is delimited (RFC 9112 section 6.3). */
function bodyPhase(head: ResponseHead): Phase {
  if (head.status === 204 || head.status === 304) return 'done';
  const encoding = head.headers.get('transfer-encoding');
  if (encoding !== undefined) {
    if (!/(^|,)\s*chunked\s*$/i.test(encoding))
      throw new ResponseError(`Transfer-Encoding "${encoding}" is not one a device reads`);
    return 'size';
  }
  const length = head.headers.get('content-length');
  if (length === undefined) return 'close';
  if (!/^\d{1,15}$/.test(length)) throw new ResponseError(`Content-Length "${length}" is not a byte count`);
  return 'length';
}
