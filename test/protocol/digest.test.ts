import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import should from 'should';
import { DigestAccumulator, digestBuffer, digestFile, digestStream } from '../../src/protocol';
import { PACKAGE } from './support';

/** What node:crypto says about the bytes, hashed in one go. */
function expected(bytes: Buffer) {
  return {
    size: bytes.length,
    md5: createHash('md5').update(bytes).digest('hex'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

describe('digestBuffer', function () {
  it('gives the size, MD5 and SHA-256 of the example package', function () {
    should(digestBuffer(PACKAGE.bytes)).eql({ size: 12, md5: PACKAGE.md5, sha256: PACKAGE.sha256 });
  });

  it('gives the digests of no bytes', function () {
    should(digestBuffer(Buffer.alloc(0))).eql({
      size: 0,
      md5: 'd41d8cd98f00b204e9800998ecf8427e',
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    });
  });

  it('agrees with node:crypto on random bytes', function () {
    const bytes = randomBytes(100_000);
    should(digestBuffer(bytes)).eql(expected(bytes));
  });
});

describe('DigestAccumulator', function () {
  it('gives the same digests for a package fed in pieces', function () {
    const bytes = randomBytes(10_000);
    const acc = new DigestAccumulator();
    for (let i = 0; i < bytes.length; i += 777) acc.update(bytes.subarray(i, i + 777));
    should(acc.digest()).eql(expected(bytes));
  });
});

describe('digestStream', function () {
  it('agrees with node:crypto on a stream of many chunks', async function () {
    const chunks = Array.from({ length: 50 }, (_, i) => randomBytes(1000 + i));
    should(await digestStream(Readable.from(chunks))).eql(expected(Buffer.concat(chunks)));
  });

  it('reads any async iterable of bytes', async function () {
    async function* pieces() {
      yield PACKAGE.bytes.subarray(0, 5);
      yield PACKAGE.bytes.subarray(5);
    }
    should(await digestStream(pieces())).eql({ size: 12, md5: PACKAGE.md5, sha256: PACKAGE.sha256 });
  });
});

describe('digestFile', function () {
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-digest-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('agrees with node:crypto on a file larger than its 1 MiB chunks', async function () {
    const bytes = randomBytes(2.5 * 1024 * 1024);
    const path = join(dir, 'fw.bin');
    writeFileSync(path, bytes);
    should(await digestFile(path)).eql(expected(bytes));
  });

  it('gives the digests of an empty file', async function () {
    const path = join(dir, 'empty.bin');
    writeFileSync(path, '');
    should(await digestFile(path)).eql(expected(Buffer.alloc(0)));
  });

  it('rejects a file that does not exist', async function () {
    await should(digestFile(join(dir, 'missing.bin'))).be.rejectedWith({ code: 'ENOENT' });
  });
});
