/** A named package directory: the setting, its resolution, the store's identity and the marker that keeps the directory to one store. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import {
  claimPackageDir,
  ensurePackageDir,
  PACKAGE_DIR_MARKER,
  packageDirSetting,
  resolvePackageDir,
  storeIdentity,
} from '../../src/fleet';
import { makeFleet } from '../helpers/fleet';

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

/**
 * A process that, once `go` exists, claims `count` directories `<root>/0`… for `storeId` and
 * prints one line per directory: claimed, own or refused.
 */
const CLAIMER = `
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { claimPackageDir } = require(process.argv[1]);
const [root, storeId, count] = process.argv.slice(2);
process.stdout.write('ready\\n');
while (!existsSync(join(root, 'go'))) {}
const lines = [];
for (let i = 0; i < Number(count); i++) {
  try {
    lines.push(claimPackageDir(join(root, String(i)), { storeId, fleet: storeId }, Date.now()));
  } catch (err) {
    lines.push(/another fleet store/.test(err.message) ? 'refused' : 'error: ' + err.message);
  }
}
process.stdout.write(lines.join('\\n') + '\\n');
`;

/** Runs CLAIMER for `storeId`; resolves `ready` once it waits for the go, and `lines` with its results. */
function claimer(root: string, storeId: string, count: number): { ready: Promise<void>; lines: Promise<string[]> } {
  const child = spawn(process.execPath, [
    '-e',
    CLAIMER,
    require.resolve('../../src/fleet/package-dir'),
    root,
    storeId,
    String(count),
  ]);
  let out = '';
  let err = '';
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.startsWith('ready\n')) signalReady();
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const lines = new Promise<string[]>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(out.trim().split('\n').slice(1)) : reject(new Error(`claimer exited ${code}: ${err}`)),
    ),
  );
  return { ready, lines };
}

describe('package directory', function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-pkgdir-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('the setting', function () {
    it('is the default (undefined) when empty, blank or absent', function () {
      should([undefined, null, '', '   '].map(packageDirSetting)).eql([undefined, undefined, undefined, undefined]);
    });

    it('is the path as written, without surrounding blanks', function () {
      should(packageDirSetting('  /srv/ota/firmware ')).equal('/srv/ota/firmware');
    });

    it('refuses anything but text, saying what came', function () {
      should(() => packageDirSetting(42)).throw('packageDir must be a path, got 42');
    });

    it('refuses a path starting with "~", which nothing expands', function () {
      should(() => packageDirSetting('~/firmware')).throw(
        'packageDir is not expanded from "~": write the whole path, got "~/firmware"',
      );
    });

    it('resolves a relative path against the user directory and keeps an absolute one', function () {
      should(resolvePackageDir('packages/north', '/home/nr/.node-red')).equal('/home/nr/.node-red/packages/north');
      should(resolvePackageDir('../shared', '/home/nr/.node-red')).equal('/home/nr/shared');
      should(resolvePackageDir('/srv/ota', '/home/nr/.node-red')).equal('/srv/ota');
    });
  });

  describe("the store's identity", function () {
    it('is made once and kept by the store through a restart', function () {
      let t = makeFleet();
      try {
        const id = storeIdentity(t.fleet.store);
        should(id).match(/^[0-9a-f]{32}$/);
        should(storeIdentity(t.fleet.store)).equal(id);
        t = t.reopen();
        should(storeIdentity(t.fleet.store)).equal(id);
      } finally {
        t.close();
      }
    });

    it('is the same for two fleets open on one store, which so share its directory', function () {
      const a = makeFleet();
      const b = makeFleet({}, a.dir);
      try {
        const packages = join(dir, 'shared');
        should(claimPackageDir(packages, { storeId: storeIdentity(a.fleet.store), fleet: 'a' }, AT)).equal('claimed');
        should(claimPackageDir(packages, { storeId: storeIdentity(b.fleet.store), fleet: 'b' }, AT)).equal('own');
      } finally {
        b.fleet.close();
        a.close();
      }
    });

    it('differs between two stores', function () {
      const a = makeFleet();
      const b = makeFleet();
      try {
        should(storeIdentity(a.fleet.store)).not.equal(storeIdentity(b.fleet.store));
      } finally {
        a.close();
        b.close();
      }
    });
  });

  describe('claiming a directory', function () {
    const north = { storeId: 'a'.repeat(32), fleet: 'north' };
    const south = { storeId: 'b'.repeat(32), fleet: 'south' };

    it('creates a missing directory with its parents and claims it with a marker', function () {
      const target = join(dir, 'a', 'b');
      should(claimPackageDir(target, north, AT)).equal('claimed');
      should(readdirSync(target)).eql([PACKAGE_DIR_MARKER]);
      should(JSON.parse(readFileSync(join(target, PACKAGE_DIR_MARKER), 'utf8'))).eql({
        what: 'the package directory of one ota-fleet store (node-red-contrib-mqtt-ota)',
        storeId: north.storeId,
        fleet: 'north',
        claimedAt: '2026-01-02T03:04:05.000Z',
      });
    });

    it('accepts the same store again and leaves the marker and the packages as they were', function () {
      claimPackageDir(dir, north, AT);
      writeFileSync(join(dir, 'c'.repeat(64)), 'package');
      const before = readFileSync(join(dir, PACKAGE_DIR_MARKER));
      should(claimPackageDir(dir, { ...north, fleet: 'renamed' }, AT + 1000)).equal('own');
      should(readFileSync(join(dir, PACKAGE_DIR_MARKER)).equals(before)).be.true();
      should(readdirSync(dir).sort()).eql(['c'.repeat(64), PACKAGE_DIR_MARKER].sort());
    });

    it('refuses another store, naming the directory, its fleet and what to do, and writes nothing', function () {
      claimPackageDir(dir, north, AT);
      const before = readFileSync(join(dir, PACKAGE_DIR_MARKER));
      should(() => claimPackageDir(dir, south, AT)).throw(
        `packageDir "${dir}" is the package directory of another fleet store (fleet "north"); name another directory, or remove ${join(dir, PACKAGE_DIR_MARKER)} if that store is gone`,
      );
      should(readdirSync(dir)).eql([PACKAGE_DIR_MARKER]);
      should(readFileSync(join(dir, PACKAGE_DIR_MARKER)).equals(before)).be.true();
    });

    it('lets exactly one of two stores claiming the same directories at once have each', async function () {
      const count = 60;
      const a = claimer(dir, 'a'.repeat(32), count);
      const b = claimer(dir, 'b'.repeat(32), count);
      await Promise.all([a.ready, b.ready]);
      writeFileSync(join(dir, 'go'), '');
      const [linesA, linesB] = await Promise.all([a.lines, b.lines]);
      for (let i = 0; i < count; i++) {
        const owner = JSON.parse(readFileSync(join(dir, String(i), PACKAGE_DIR_MARKER), 'utf8')).storeId;
        const results = owner === 'a'.repeat(32) ? [linesA[i], linesB[i]] : [linesB[i], linesA[i]];
        should(results).eql(['claimed', 'refused'], `directory ${i}`);
        should(readdirSync(join(dir, String(i)))).eql([PACKAGE_DIR_MARKER]);
      }
    });

    it('refuses a marker it cannot read as a store marker, and leaves it', function () {
      writeFileSync(join(dir, PACKAGE_DIR_MARKER), '{"fleet":"north"}');
      should(() => claimPackageDir(dir, north, AT)).throw(
        `packageDir "${dir}": ${join(dir, PACKAGE_DIR_MARKER)} is not a fleet store's marker; remove it if no other fleet uses this directory`,
      );
      should(readFileSync(join(dir, PACKAGE_DIR_MARKER), 'utf8')).equal('{"fleet":"north"}');
    });

    it('refuses a path that is a file', function () {
      const file = join(dir, 'file');
      writeFileSync(file, 'x');
      should(() => ensurePackageDir(file)).throw(
        `packageDir "${file}" exists and is not a directory: name a directory`,
      );
      should(() => claimPackageDir(file, north, AT)).throw(/exists and is not a directory/);
    });

    it('refuses a path under a file, which cannot be created', function () {
      writeFileSync(join(dir, 'file'), 'x');
      const target = join(dir, 'file', 'sub');
      should(() => claimPackageDir(target, north, AT)).throw(
        `packageDir "${target}" could not be created: a part of the path is a file, not a directory (ENOTDIR)`,
      );
    });
  });
});
