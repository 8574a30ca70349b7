/**
 * The devices of one simulation that download the same package share one computation of its
 * digests, and each still checks every byte it received.
 *
 * The first device to download a package (up to `maxPackageBytes`) hashes it as usual and keeps a
 * copy of the bytes with their digests. A later device compares each chunk with the kept bytes at
 * the same offset as it arrives, a memory compare (a few µs for 64 KiB, against about 100 µs for
 * MD5), and takes the kept digests only when every byte and the size are equal: equal bytes have
 * equal digests. At the first difference it hashes the equal part it has already seen and goes on
 * hashing what arrives, so a device that received other bytes computes their digests itself,
 * exactly as without this. The key (what the notice claims) only chooses which copy to compare
 * with; it never decides a result.
 *
 * Memory: one copy per package kept, `maxKeptBytes` in all. One device at a time fills a copy; a
 * device that went offline in the middle leaves its claim, which another may take after `claimMs`.
 */
import type { PackageDigest } from '../protocol';

/** What a device feeds the bytes it downloads to: its digests at the end. */
export interface StreamHasher {
  /** Bytes received since the start (or the last reset). */
  readonly size: number;
  update(chunk: Uint8Array): void;
  /** Starts over: the server sends the whole package again. */
  reset(): void;
  digest(): PackageDigest;
}

interface Kept {
  bytes: Buffer;
  digest: PackageDigest;
}

export interface SharedDigestsOptions {
  /** A larger package is hashed by every device (8 MiB). */
  maxPackageBytes?: number;
  /** The copies kept, in all (32 MiB). */
  maxKeptBytes?: number;
  /** How long a device may take to fill a copy before another may (60 s). */
  claimMs?: number;
  now?: () => number;
}

export class SharedDigests {
  private readonly kept = new Map<string, Kept>();
  private readonly filling = new Map<string, { owner: object; since: number }>();
  private keptBytes = 0;
  private readonly maxPackageBytes: number;
  private readonly maxKeptBytes: number;
  private readonly claimMs: number;
  private readonly now: () => number;

  constructor(options: SharedDigestsOptions = {}) {
    this.maxPackageBytes = options.maxPackageBytes ?? 8 * 1024 * 1024;
    this.maxKeptBytes = options.maxKeptBytes ?? 32 * 1024 * 1024;
    this.claimMs = options.claimMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** A hasher for a package of `size` bytes known by `key`; `fresh` makes one that hashes everything. */
  hasher(key: string, size: number, fresh: () => StreamHasher): StreamHasher {
    return new ComparingHasher(this, key, size, fresh);
  }

  /** How many packages are kept. */
  get packages(): number {
    return this.kept.size;
  }

  /** @internal The kept copy of `key`. */
  find(key: string): Kept | undefined {
    return this.kept.get(key);
  }

  /** @internal Whether `owner` may fill the copy of `key`: then it calls `filled` or `abandon`. */
  claim(key: string, size: number, owner: object): boolean {
    if (this.kept.has(key) || size > this.maxPackageBytes || this.keptBytes + size > this.maxKeptBytes) return false;
    const claim = this.filling.get(key);
    if (claim && this.now() - claim.since < this.claimMs) return false;
    this.filling.set(key, { owner, since: this.now() });
    return true;
  }

  /** @internal */
  filled(key: string, owner: object, bytes: Buffer, digest: PackageDigest): void {
    this.abandon(key, owner);
    if (this.kept.has(key) || this.keptBytes + bytes.length > this.maxKeptBytes) return;
    this.kept.set(key, { bytes, digest: { ...digest } });
    this.keptBytes += bytes.length;
  }

  /** @internal */
  abandon(key: string, owner: object): void {
    if (this.filling.get(key)?.owner === owner) this.filling.delete(key);
  }
}

class ComparingHasher implements StreamHasher {
  /** Set while the bytes are equal to a kept copy: compare, do not hash. */
  private against?: Kept;
  /** Set once hashing: no copy, or the bytes differ from it. */
  private inner?: StreamHasher;
  /** A copy of what arrives, while this device fills the shared one. */
  private copy?: Buffer;
  private received = 0;

  constructor(
    private readonly shared: SharedDigests,
    private readonly key: string,
    private readonly expected: number,
    private readonly fresh: () => StreamHasher,
  ) {
    this.start();
  }

  get size(): number {
    return this.received;
  }

  update(chunk: Uint8Array): void {
    const kept = this.against;
    if (kept) {
      const end = this.received + chunk.length;
      if (end <= kept.bytes.length && kept.bytes.compare(chunk, 0, chunk.length, this.received, end) === 0) {
        this.received = end;
        return;
      }
      this.hashFrom(kept);
    }
    (this.inner as StreamHasher).update(chunk);
    if (this.copy) {
      if (this.received + chunk.length <= this.copy.length) this.copy.set(chunk, this.received);
      else this.dropCopy();
    }
    this.received += chunk.length;
  }

  reset(): void {
    this.dropCopy();
    this.start();
  }

  digest(): PackageDigest {
    const kept = this.against;
    if (kept) {
      if (this.received === kept.bytes.length) return { ...kept.digest };
      this.hashFrom(kept);
    }
    const digest = (this.inner as StreamHasher).digest();
    if (this.copy) {
      if (this.received === this.copy.length) this.shared.filled(this.key, this, this.copy, digest);
      else this.shared.abandon(this.key, this);
      this.copy = undefined;
    }
    return digest;
  }

  private start(): void {
    this.received = 0;
    this.inner = undefined;
    this.against = this.shared.find(this.key);
    if (this.against) return;
    this.inner = this.fresh();
    if (this.shared.claim(this.key, this.expected, this)) this.copy = Buffer.allocUnsafe(this.expected);
  }

  /** The bytes stop matching the kept copy: hash the part seen so far (equal to the copy's start), then go on hashing. */
  private hashFrom(kept: Kept): void {
    this.against = undefined;
    this.inner = this.fresh();
    this.inner.update(kept.bytes.subarray(0, this.received));
  }

  private dropCopy(): void {
    if (!this.copy) return;
    this.copy = undefined;
    this.shared.abandon(this.key, this);
  }
}
