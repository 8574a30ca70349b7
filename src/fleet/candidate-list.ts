/**
 * The candidates of a batch being created (batch-creation.ts), a million of them if the fleet is
 * that large, held in typed arrays and byte buffers rather than as a million strings and objects.
 *
 * Why: the garbage collector has to look at every object that lives long. A million device names
 * kept as strings for the seconds a creation takes made each young-generation collection copy the
 * names it had just read (10 to 13 ms), and made the old generation's full collection pause the
 * loop for 33 to 35 ms inside a slice, which made that turn 45 ms or longer. Bytes in a few buffers
 * are nothing to mark or move: the names read from a page die young, as they should.
 *
 * Nothing here knows about the fleet: a name is stored as its UTF-8 bytes (device names come from
 * the store, so they are well-formed text and come back exactly), a version as an index into the
 * versions met so far, an active task's id as a number (0: none).
 */

/** log2 of the elements per chunk of a column (65,536): growing one never copies what it holds. */
const DEFAULT_CHUNK_BITS = 16;
/** Bytes per buffer of names: 1 MiB holds about 100,000 names of ten ASCII characters. */
const DEFAULT_NAME_CHUNK_BYTES = 1 << 20;
/** The most bytes a UTF-16 code unit takes in UTF-8. */
const UTF8_BYTES_PER_UNIT = 3;

type NumberArray = Float64Array | Uint32Array | Uint16Array;

/** An append-only column of numbers in typed chunks. */
class NumberColumn<A extends NumberArray> {
  private readonly chunks: A[] = [];
  private readonly mask: number;
  length = 0;

  constructor(
    private readonly make: (size: number) => A,
    private readonly bits: number,
  ) {
    this.mask = (1 << bits) - 1;
  }

  push(value: number): void {
    const c = this.length >>> this.bits;
    if (c === this.chunks.length) this.chunks.push(this.make(1 << this.bits));
    this.chunks[c][this.length & this.mask] = value;
    this.length++;
  }

  at(index: number): number {
    return this.chunks[index >>> this.bits][index & this.mask];
  }
}

export interface CandidateListOptions {
  /** log2 of the elements per chunk of each column (tests make it small to cross chunks). */
  chunkBits?: number;
  /** Bytes per buffer of names (tests make it small to cross buffers). */
  nameChunkBytes?: number;
}

export class CandidateList {
  private readonly nameBuffers: Buffer[] = [];
  private readonly nameChunkBytes: number;
  private nameUsed = 0;
  /** Where each name starts: its buffer's index × nameChunkBytes + its offset in that buffer. */
  private readonly nameStarts: NumberColumn<Float64Array>;
  private readonly nameBytes: NumberColumn<Uint16Array>;
  /** Each candidate's version: 0 for none, else 1 + its index in `versionList`. */
  private readonly versionRefs: NumberColumn<Uint32Array>;
  private readonly versionList: string[] = [];
  private readonly versionIndex = new Map<string, number>();
  private readonly activeIds: NumberColumn<Float64Array>;

  constructor(options: CandidateListOptions = {}) {
    const bits = options.chunkBits ?? DEFAULT_CHUNK_BITS;
    this.nameChunkBytes = options.nameChunkBytes ?? DEFAULT_NAME_CHUNK_BYTES;
    this.nameStarts = new NumberColumn((n) => new Float64Array(n), bits);
    this.nameBytes = new NumberColumn((n) => new Uint16Array(n), bits);
    this.versionRefs = new NumberColumn((n) => new Uint32Array(n), bits);
    this.activeIds = new NumberColumn((n) => new Float64Array(n), bits);
  }

  get length(): number {
    return this.activeIds.length;
  }

  /** Appends a candidate: its device name, its version (null: none reported) and the id of the task holding it (0: none). */
  push(deviceName: string, version: string | null, activeTaskId: number): void {
    this.pushName(deviceName);
    this.versionRefs.push(version === null ? 0 : this.versionRef(version));
    this.activeIds.push(activeTaskId);
  }

  deviceName(index: number): string {
    const start = this.nameStarts.at(index);
    const buffer = this.nameBuffers[Math.floor(start / this.nameChunkBytes)];
    const offset = start % this.nameChunkBytes;
    return buffer.toString('utf8', offset, offset + this.nameBytes.at(index));
  }

  version(index: number): string | null {
    const ref = this.versionRefs.at(index);
    return ref === 0 ? null : this.versionList[ref - 1];
  }

  activeTaskId(index: number): number {
    return this.activeIds.at(index);
  }

  private pushName(name: string): void {
    // An empty name would start where the next buffer would: no device has one.
    if (name.length === 0) throw new RangeError('a candidate needs a device name');
    const most = name.length * UTF8_BYTES_PER_UNIT;
    // Lengths are kept in a Uint16Array; device names are far shorter (64 characters at most).
    if (most > this.nameChunkBytes || most > 0xffff)
      throw new RangeError(`a device name of ${name.length} characters does not fit a candidate list`);
    if (this.nameBuffers.length === 0 || this.nameUsed + most > this.nameChunkBytes) {
      this.nameBuffers.push(Buffer.allocUnsafe(this.nameChunkBytes));
      this.nameUsed = 0;
    }
    const last = this.nameBuffers.length - 1;
    const written = this.nameBuffers[last].write(name, this.nameUsed, 'utf8');
    this.nameStarts.push(last * this.nameChunkBytes + this.nameUsed);
    this.nameBytes.push(written);
    this.nameUsed += written;
  }

  private versionRef(version: string): number {
    let ref = this.versionIndex.get(version);
    if (ref === undefined) {
      this.versionList.push(version);
      ref = this.versionList.length;
      this.versionIndex.set(version, ref);
    }
    return ref;
  }
}
