/**
 * A device's HTTP client reads a response as it arrives: the head, then the body by length, by
 * chunks or until the server closes, whatever sizes the network cuts it into.
 */
import fc from 'fast-check';
import should from 'should';
import { MAX_HEAD_BYTES, ResponseError, ResponseHead, ResponseReader } from '../../src/sim/http-response';

interface Read {
  heads: { status: number; statusMessage: string; headers: Record<string, string> }[];
  body: Buffer;
  ends: number;
}

/** Reads `bytes` cut at `cuts` (offsets), then the server's close when `close` is set. */
function read(bytes: Buffer, cuts: number[] = [], close = false): Read & { complete: boolean; reader: ResponseReader } {
  const out: Read = { heads: [], body: Buffer.alloc(0), ends: 0 };
  const slices: Buffer[] = [];
  const reader = new ResponseReader({
    head: (h: ResponseHead) => out.heads.push({ ...h, headers: Object.fromEntries(h.headers) }),
    body: (slice) => slices.push(Buffer.from(slice)),
    end: () => out.ends++,
  });
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    reader.feed(bytes.subarray(at, cut));
    at = cut;
  }
  reader.feed(bytes.subarray(at));
  const complete = close ? reader.close() : reader.done;
  return { ...out, body: Buffer.concat(slices), complete, reader };
}

const response = (head: string, body: Buffer | string = '') => Buffer.concat([Buffer.from(head), Buffer.from(body)]);

function chunked(body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < body.length; i++) {
    const n = Math.min(body.length - at, Math.max(1, sizes[i % sizes.length]));
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

const OK_HEAD = { status: 200, statusMessage: 'OK' };

describe('ota-sim HTTP response reader', function () {
  it('reads a head and a body of Content-Length bytes, and ends there', function () {
    const r = read(response('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: x\r\n\r\n', 'hello'));
    should(r.heads).eql([{ ...OK_HEAD, headers: { 'content-length': '5', 'content-type': 'x' } }]);
    should(r.body.toString()).equal('hello');
    should(r.ends).equal(1);
    should(r.complete).be.true();
  });

  it('ignores bytes after a complete body', function () {
    const r = read(response('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n', 'hi and more'));
    should(r.body.toString()).equal('hi');
    should(r.ends).equal(1);
  });

  it('reads a chunked body, its chunk extensions and trailers', function () {
    const body = '4;name=x\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n';
    const r = read(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', body));
    should(r.body.toString()).equal('Wikipedia');
    should(r.ends).equal(1);
  });

  it('reads a body without a length until the server closes', function () {
    const bytes = response('HTTP/1.0 200 OK\r\n\r\n', 'all of it');
    const open = read(bytes);
    should(open.body.toString()).equal('all of it');
    should(open.ends).equal(0);
    should(open.complete).be.false();
    const closed = read(bytes, [], true);
    should(closed.ends).equal(1);
    should(closed.complete).be.true();
  });

  it('says a body cut short is not complete when the server closes', function () {
    should(read(response('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'short'), [], true)).containDeep({
      complete: false,
      ends: 0,
    });
    should(read(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'a\r\nabc'), [], true)).containDeep({
      complete: false,
      ends: 0,
    });
    should(read(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), [], true)).containDeep({ complete: false, heads: [] });
  });

  it('skips a 100 Continue before the answer', function () {
    const r = read(
      response('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 206 Partial Content\r\nContent-Length: 1\r\n\r\n', 'x'),
    );
    should(r.heads.map((h) => h.status)).eql([206]);
    should(r.heads[0].statusMessage).equal('Partial Content');
    should(r.body.toString()).equal('x');
  });

  it('ends a 204 and a Content-Length 0 at the head', function () {
    should(read(response('HTTP/1.1 204 No Content\r\n\r\n'))).containDeep({ ends: 1, complete: true });
    should(read(response('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'))).containDeep({
      ends: 1,
      complete: true,
      heads: [{ status: 404, statusMessage: 'Not Found' }],
    });
  });

  it('refuses what a device cannot read, naming it', function () {
    const refusals: [string, RegExp][] = [
      ['SSH-2.0-OpenSSH\r\n\r\n', /^not an HTTP\/1\.x status line: "SSH-2\.0-OpenSSH"$/],
      ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /^a header line has no name: "no colon here"$/],
      ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /^Content-Length "-1" is not a byte count$/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', /^Transfer-Encoding "gzip" is not one a device reads$/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /^a chunk size is not hexadecimal: "zz"$/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', /^a chunk is longer than its size says$/],
      [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, /^the response head is over 16384 bytes$/],
      [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}`, /^the response head is over 16384 bytes$/],
    ];
    for (const [text, reason] of refusals) {
      should(() => read(Buffer.from(text)))
        .throw(ResponseError)
        .and.throw(reason);
    }
  });

  it('reads the same head and body however the network cuts the bytes (property)', function () {
    const framing = fc.constantFrom('length', 'chunked', 'close');
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        framing,
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (raw, frame, chunkSizes, cutSeeds) => {
          const body = Buffer.from(raw);
          const head =
            frame === 'length'
              ? `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`
              : frame === 'chunked'
                ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
                : 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n';
          const bytes = response(head, frame === 'chunked' ? chunked(body, chunkSizes) : body);
          const cuts = cutSeeds.map((s) => s % (bytes.length + 1));
          const r = read(bytes, cuts, frame === 'close');
          should(r.heads).have.length(1);
          should(r.heads[0].status).equal(200);
          should(r.body.equals(body)).be.true();
          should(r.ends).equal(1);
          should(r.complete).be.true();
        },
      ),
      { numRuns: 300 },
    );
  });
});
