/**
 * Package files, content-addressed: a package is stored once under its SHA-256, streamed in
 * (constant memory, size limit enforced while reading), digested on the way, and renamed into
 * place only when complete. No path outside the folder can be named: files are found by digest.
 */
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestAccumulator, PackageDigest } from '../protocol';
import { refused } from './errors';

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * A package up to this size is kept in memory once read: a batch's devices download the same
 * package by the thousand, and a file opened, read and closed per download costs more than the
 * bytes sent. Together such packages take at most SMALL_PACKAGES_TOTAL; beyond it they stream.
 */
export const SMALL_PACKAGE_BYTES = 1024 * 1024;
export const SMALL_PACKAGES_TOTAL = 32 * 1024 * 1024;

export class PackageFiles {
  /** Small packages read whole, by SHA-256 (content-addressed: the bytes of a key never change). */
  private readonly kept = new Map<string, { size: number; bytes: Promise<Buffer>; read?: boolean }>();
  private keptBytes = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** The path of a stored package; throws for anything that is not a SHA-256. */
  pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw refused(`"${sha256}" is not a package digest`);
    return join(this.dir, sha256);
  }

  has(sha256: string): boolean {
    // A package read into memory is served from there: no stat per download.
    if (this.kept.get(sha256)?.read) return true;
    try {
      return statSync(this.pathOf(sha256)).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Streams a package in. Refuses an empty one, or one over `maxBytes` (as soon as it is
   * exceeded, without reading the rest). `already`: bytes of the same upload stored before this
   * file (the other files of a list), which count against the limit. Returns its size and digests.
   */
  async save(
    source: Readable | AsyncIterable<Uint8Array> | Buffer,
    maxBytes: number,
    already = 0,
  ): Promise<PackageDigest> {
    const temp = join(this.dir, `.upload-${randomBytes(8).toString('hex')}`);
    const digest = new DigestAccumulator();
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        size += chunk.length;
        if (already + size > maxBytes) {
          const what = already > 0 ? 'the files are together' : 'the package is';
          callback(
            refused(`${what} larger than the limit of ${maxBytes} bytes (${Math.round(maxBytes / 1048576)} MB)`),
          );
          return;
        }
        digest.update(chunk);
        callback(null, chunk);
      },
    });
    const input = Buffer.isBuffer(source)
      ? Readable.from([source])
      : Readable.from(source as AsyncIterable<Uint8Array>);
    try {
      await pipeline(input, meter, createWriteStream(temp, { flags: 'wx' }));
      if (size === 0) throw refused('the package is empty');
      const result = digest.digest();
      renameSync(temp, this.pathOf(result.sha256));
      return result;
    } finally {
      rmSync(temp, { force: true });
    }
  }

  stream(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(
      this.pathOf(sha256),
      range ? { start: range.start, end: range.end, highWaterMark: 256 * 1024 } : { highWaterMark: 256 * 1024 },
    );
  }

  /**
   * The whole package from memory when it is small (read once, then kept), or undefined: too large,
   * no room left, or the file is not `size` bytes (then it streams, and fails as a stream would).
   */
  async smallPackage(sha256: string, size: number): Promise<Buffer | undefined> {
    if (size > SMALL_PACKAGE_BYTES) return undefined;
    let entry = this.kept.get(sha256);
    if (!entry) {
      if (this.keptBytes + size > SMALL_PACKAGES_TOTAL) return undefined;
      entry = { size, bytes: readFile(this.pathOf(sha256)) };
      this.kept.set(sha256, entry);
      this.keptBytes += size;
    }
    try {
      const whole = await entry.bytes;
      if (whole.length === size) {
        entry.read = true;
        return whole;
      }
    } catch {
      // missing or unreadable: forgotten below, streamed by the caller
    }
    this.forget(sha256);
    return undefined;
  }

  private forget(sha256: string): void {
    const entry = this.kept.get(sha256);
    if (!entry) return;
    this.kept.delete(sha256);
    this.keptBytes -= entry.size;
  }

  async readBlock(sha256: string, offset: number, size: number): Promise<Buffer> {
    const handle = await open(this.pathOf(sha256), 'r');
    try {
      const block = Buffer.alloc(size);
      const { bytesRead } = await handle.read(block, 0, size, offset);
      return block.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  remove(sha256: string): void {
    this.forget(sha256);
    rmSync(this.pathOf(sha256), { force: true });
  }
}
