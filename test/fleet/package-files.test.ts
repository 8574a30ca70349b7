/** Small packages served from memory: the same bytes as the file, and nothing kept that is gone or too large. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { PackageFiles, SMALL_PACKAGE_BYTES } from '../../src/fleet';

describe('package files: small packages kept in memory', function () {
  let dir: string;
  let files: PackageFiles;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-files-'));
    files = new PackageFiles(dir);
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers with the bytes of the stored file, the same buffer on every download', async function () {
    const bytes = randomBytes(64 * 1024);
    const { sha256 } = await files.save(bytes, 1 << 30);
    const first = await files.smallPackage(sha256, bytes.length);
    should(first && first.equals(bytes)).be.true();
    should(await files.smallPackage(sha256, bytes.length)).equal(first);
  });

  it('keeps nothing for a package over SMALL_PACKAGE_BYTES: it streams', async function () {
    const bytes = randomBytes(SMALL_PACKAGE_BYTES + 1);
    const { sha256 } = await files.save(bytes, 1 << 30);
    should(await files.smallPackage(sha256, bytes.length)).be.undefined();
  });

  it('keeps nothing for a file that is not the size the catalog says, or is missing', async function () {
    const bytes = randomBytes(1000);
    const { sha256 } = await files.save(bytes, 1 << 30);
    should(await files.smallPackage(sha256, 999)).be.undefined();
    should(await files.smallPackage('c'.repeat(64), 10)).be.undefined();
  });

  it('forgets a removed package', async function () {
    const bytes = randomBytes(1000);
    const { sha256 } = await files.save(bytes, 1 << 30);
    should(await files.smallPackage(sha256, bytes.length)).be.ok();
    files.remove(sha256);
    should(files.has(sha256)).be.false();
    should(await files.smallPackage(sha256, bytes.length)).be.undefined();
  });

  it('knows a package it holds in memory without asking the folder again (no stat per download)', async function () {
    const bytes = randomBytes(1000);
    const { sha256 } = await files.save(bytes, 1 << 30);
    const other = (await files.save(randomBytes(1000), 1 << 30)).sha256;
    should(await files.smallPackage(sha256, bytes.length)).be.ok();
    // Both files gone behind the store's back: only the one read into memory is still known.
    rmSync(join(dir, sha256));
    rmSync(join(dir, other));
    should(files.has(sha256)).be.true();
    should(files.has(other)).be.false();
    should((await files.smallPackage(sha256, bytes.length))?.equals(bytes)).be.true();
  });
});
