/**
 * Devices that download the same bytes share one digest computation; any other bytes get their
 * own digests, exactly as a device hashing alone would compute them.
 */
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import should from 'should';
import type { FirmwareDescriptor } from '../../src/protocol';
import { PackageHasher } from '../../src/sim/package-check';
import { SharedDigests, StreamHasher } from '../../src/sim/shared-digests';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

function descriptor(bytes: Buffer, signMethod: 'Md5' | 'SHA256' = 'Md5'): FirmwareDescriptor {
  const sign = signMethod === 'Md5' ? md5(bytes) : createHash('sha256').update(bytes).digest('hex');
  return {
    version: '2.0.0',
    module: 'default',
    size: bytes.length,
    signMethod,
    sign,
    md5: md5(bytes),
    url: 'http://x/p',
  };
}

/** A shared hasher for `fw`, counting the plain hashers it had to make. */
function sharedHasher(shared: SharedDigests, fw: FirmwareDescriptor, made: { n: number }): StreamHasher {
  return shared.hasher(`${fw.signMethod}:${fw.size}:${fw.sign}`, fw.size, () => {
    made.n++;
    return new PackageHasher(fw);
  });
}

/** Feeds `bytes` in chunks of the given sizes (the rest in one), as a download would. */
function feed(hasher: StreamHasher, bytes: Buffer, sizes: number[] = [16_384]): void {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length] || bytes.length;
    hasher.update(bytes.subarray(at, at + size));
    at += size;
  }
}

const alone = (fw: FirmwareDescriptor, bytes: Buffer) => {
  const h = new PackageHasher(fw);
  feed(h, bytes);
  return h.digest();
};

describe('ota-sim shared digests', function () {
  const bytes = randomBytes(64 * 1024);
  const fw = descriptor(bytes);

  it('hashes the first download, and takes the digests for later ones with the same bytes', function () {
    const shared = new SharedDigests();
    const made = { n: 0 };
    const first = sharedHasher(shared, fw, made);
    feed(first, bytes);
    should(first.digest()).eql({ size: bytes.length, md5: md5(bytes), sha256: '' });
    should(made.n).equal(1);
    should(shared.packages).equal(1);
    for (const sizes of [[16_384], [1000, 7], [bytes.length]]) {
      const later = sharedHasher(shared, fw, made);
      feed(later, bytes, sizes);
      should(later.size).equal(bytes.length);
      should(later.digest()).eql({ size: bytes.length, md5: md5(bytes), sha256: '' });
    }
    should(made.n).equal(1);
  });

  it('computes the true digests of bytes that differ anywhere, are short, or are too many', function () {
    const shared = new SharedDigests();
    const made = { n: 0 };
    const first = sharedHasher(shared, fw, made);
    feed(first, bytes);
    first.digest();
    const changed = (at: number) => {
      const b = Buffer.from(bytes);
      b[at] ^= 0xff;
      return b;
    };
    const variants = [
      changed(0),
      changed(30_000),
      changed(bytes.length - 1),
      bytes.subarray(0, bytes.length - 1),
      bytes.subarray(0, 20_000),
      Buffer.concat([bytes, Buffer.from([1])]),
    ];
    for (const variant of variants) {
      const h = sharedHasher(shared, fw, made);
      feed(h, variant, [5000]);
      should(h.size).equal(variant.length);
      should(h.digest()).eql({ size: variant.length, md5: md5(variant), sha256: '' });
    }
    should(made.n).equal(1 + variants.length);
    // The copy kept is still the first download's.
    const again = sharedHasher(shared, fw, made);
    feed(again, bytes);
    should(again.digest().md5).equal(md5(bytes));
    should(made.n).equal(1 + variants.length);
  });

  it('starts over on reset, whether it was comparing or hashing', function () {
    const shared = new SharedDigests();
    const made = { n: 0 };
    const other = randomBytes(bytes.length);
    // Filling: a reset keeps nothing of the first attempt.
    const first = sharedHasher(shared, fw, made);
    feed(first, other.subarray(0, 10_000));
    first.reset();
    feed(first, bytes);
    should(first.digest().md5).equal(md5(bytes));
    // Comparing, then diverged, then reset.
    const later = sharedHasher(shared, fw, made);
    feed(later, other.subarray(0, 30_000));
    later.reset();
    should(later.size).equal(0);
    feed(later, bytes);
    should(later.digest().md5).equal(md5(bytes));
    should(shared.packages).equal(1);
  });

  it('keeps no copy of a package larger than the limit, nor beyond the total', function () {
    const shared = new SharedDigests({ maxPackageBytes: 32 * 1024, maxKeptBytes: 100 * 1024 });
    const made = { n: 0 };
    for (let i = 0; i < 2; i++) {
      const h = sharedHasher(shared, fw, made);
      feed(h, bytes);
      should(h.digest().md5).equal(md5(bytes));
    }
    should(made.n).equal(2);
    should(shared.packages).equal(0);
    const small = Array.from({ length: 5 }, () => randomBytes(30 * 1024));
    for (const b of small) {
      const h = sharedHasher(shared, descriptor(b), made);
      feed(h, b);
      h.digest();
    }
    // 30 KiB each within 100 KiB: three kept.
    should(shared.packages).equal(3);
  });

  it('lets another device fill the copy once a device that began it has been gone for claimMs', function () {
    let now = 0;
    const shared = new SharedDigests({ claimMs: 60_000, now: () => now });
    const made = { n: 0 };
    const gone = sharedHasher(shared, fw, made);
    feed(gone, bytes.subarray(0, 1000)); // went offline: never asks for its digest
    const second = sharedHasher(shared, fw, made);
    feed(second, bytes);
    should(second.digest().md5).equal(md5(bytes));
    should(shared.packages).equal(0);
    now = 60_000;
    const third = sharedHasher(shared, fw, made);
    feed(third, bytes);
    third.digest();
    should(shared.packages).equal(1);
    // The device that was gone finishing late changes nothing.
    feed(gone, bytes.subarray(1000));
    should(gone.digest().md5).equal(md5(bytes));
    should(shared.packages).equal(1);
  });

  it('gives every download the digests a device hashing alone computes (property)', function () {
    const base = randomBytes(4096);
    const sha = descriptor(base, 'SHA256');
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            change: fc.constantFrom('none', 'flip', 'cut', 'extend'),
            at: fc.nat({ max: 4095 }),
            sizes: fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 4 }),
            reset: fc.boolean(),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.constantFrom(fw, sha),
        (downloads, which) => {
          const shared = new SharedDigests();
          const source = which === fw ? bytes : base;
          for (const d of downloads) {
            let b = Buffer.from(source);
            if (d.change === 'flip') b[d.at % b.length] ^= 1;
            if (d.change === 'cut') b = b.subarray(0, d.at % b.length);
            if (d.change === 'extend') b = Buffer.concat([b, Buffer.from([d.at & 0xff])]);
            const h = sharedHasher(shared, which, { n: 0 });
            if (d.reset) {
              feed(h, b.subarray(0, d.at % (b.length + 1)), d.sizes);
              h.reset();
            }
            feed(h, b, d.sizes);
            should(h.digest()).eql(alone(which, b));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
