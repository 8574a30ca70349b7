/** Streaming digests of a package in constant memory: size, MD5 and SHA-256 in one pass. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

export interface PackageDigest {
  size: number;
  md5: string;
  sha256: string;
}

export class DigestAccumulator {
  private readonly md5 = createHash('md5');
  private readonly sha256 = createHash('sha256');
  private size = 0;

  update(chunk: Uint8Array): void {
    this.size += chunk.length;
    this.md5.update(chunk);
    this.sha256.update(chunk);
  }

  digest(): PackageDigest {
    return { size: this.size, md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}

export function digestBuffer(buffer: Uint8Array): PackageDigest {
  const acc = new DigestAccumulator();
  acc.update(buffer);
  return acc.digest();
}

export async function digestStream(stream: Readable | AsyncIterable<Uint8Array>): Promise<PackageDigest> {
  const acc = new DigestAccumulator();
  for await (const chunk of stream) acc.update(chunk as Uint8Array);
  return acc.digest();
}

/** Reads the file in 1 MiB chunks: throughput close to md5sum, memory independent of size. */
export function digestFile(path: string): Promise<PackageDigest> {
  return digestStream(createReadStream(path, { highWaterMark: 1024 * 1024 }));
}
