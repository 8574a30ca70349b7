/**
 * ota-fleet's package directory in a running Node-RED: the default under the user directory, a
 * named one (absolute or relative to the user directory) that receives uploads and serves them
 * with Range, the marker that keeps a directory to one fleet store, and the paths it refuses.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Firmware } from '../../src/fleet';
import { PACKAGE_DIR_MARKER } from '../../src/fleet';
import { fleetById, FleetHandle } from '../../src/nodes/registry';
import { catchAll } from '../helpers/core-nodes';
import {
  feed,
  fleetConfig,
  fleetSuite,
  httpRequest,
  loadFlow,
  logged,
  otaModules,
  signedUrl,
} from '../helpers/fleet-red';
import { FlowNode, node, onTab, probe } from '../helpers/flow';
import { assertNothingSent, assertRedRing, inboxes, recordStatuses } from '../helpers/red';

helper.init(require.resolve('node-red'));

const PACKAGE = Buffer.concat([Buffer.from('PKG-DIR-HEAD'), randomBytes(200 * 1024)]);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('ota-fleet package directory (in Node-RED)', function () {
  const suite = fleetSuite('pkgdir');
  let outside: string;

  beforeEach(async function () {
    outside = await mkdtemp(join(tmpdir(), 'ota-pkgdir-outside-'));
  });
  afterEach(function () {
    rmSync(outside, { recursive: true, force: true });
  });

  /** Deploys fleet config nodes alone (no other node) and answers the running fleets' ids. */
  async function deployFleets(...fleets: FlowNode[]): Promise<string[]> {
    await loadFlow(onTab(...fleets));
    return fleets.filter((f) => fleetById(f.id)).map((f) => f.id);
  }

  function running(fleet: FlowNode): FleetHandle {
    const handle = fleetById(fleet.id);
    should.exist(handle, `the fleet ${fleet.id} did not start: ${logged('ERROR', fleet.id).join('; ')}`);
    return handle as FleetHandle;
  }

  async function upload(fleet: FlowNode, version = '2.0.0', bytes = PACKAGE): Promise<Firmware> {
    const res = await helper
      .request()
      .post(`/ota/fleets/${fleet.id}/firmware?productKey=pk1&version=${version}`)
      .set('Content-Type', 'application/octet-stream')
      .send(bytes)
      .expect(201);
    return res.body;
  }

  /** Downloads the firmware through its signed URL in two Range requests and answers the bytes joined. */
  async function downloadInTwo(fleet: FlowNode, firmware: Firmware): Promise<Buffer> {
    const url = signedUrl(running(fleet), firmware);
    const head = await httpRequest(url, { headers: { Range: 'bytes=0-999' } });
    const tail = await httpRequest(url, { headers: { Range: 'bytes=1000-' } });
    should([head.status, tail.status]).eql([206, 206]);
    should(tail.headers['content-range']).equal(`bytes 1000-${PACKAGE.length - 1}/${PACKAGE.length}`);
    return Buffer.concat([head.body, tail.body]);
  }

  /** Every file in a directory with its bytes: what "nothing written, nothing deleted" compares. */
  function contentsOf(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of readdirSync(dir).sort()) out[name] = sha256(readFileSync(join(dir, name)));
    return out;
  }

  function markerOf(dir: string): Record<string, unknown> {
    return JSON.parse(readFileSync(join(dir, PACKAGE_DIR_MARKER), 'utf8'));
  }

  describe('left empty', function () {
    it('keeps packages in <userDir>/ota/<fleet id>/firmware/ as before, with no marker', async function () {
      const fleet = fleetConfig(suite, { packageDir: '' });
      await deployFleets(fleet);
      const firmware = await upload(fleet);
      const dir = join(suite.userDir, 'ota', fleet.id, 'firmware');
      should(readdirSync(dir)).eql([sha256(PACKAGE)]);
      should(firmware.sha256).equal(sha256(PACKAGE));
      should((await downloadInTwo(fleet, firmware)).equals(PACKAGE)).be.true();
    });
  });

  describe('named', function () {
    it('receives an uploaded package under its SHA-256 and serves it for download with Range', async function () {
      const dir = join(outside, 'big-disk', 'firmware');
      const fleet = fleetConfig(suite, { packageDir: dir });
      await deployFleets(fleet);
      should(existsSync(dir)).be.true();
      const firmware = await upload(fleet);
      should(readdirSync(dir).sort()).eql([PACKAGE_DIR_MARKER, sha256(PACKAGE)].sort());
      should(readFileSync(join(dir, sha256(PACKAGE))).equals(PACKAGE)).be.true();
      should(existsSync(join(suite.userDir, 'ota', fleet.id, 'firmware'))).be.false();
      should((await downloadInTwo(fleet, firmware)).equals(PACKAGE)).be.true();
    });

    it('resolves a relative path against the Node-RED user directory', async function () {
      const fleet = fleetConfig(suite, { packageDir: 'packages/north' });
      await deployFleets(fleet);
      const firmware = await upload(fleet);
      const dir = join(suite.userDir, 'packages', 'north');
      should(readFileSync(join(dir, sha256(PACKAGE))).equals(PACKAGE)).be.true();
      should((await downloadInTwo(fleet, firmware)).equals(PACKAGE)).be.true();
    });

    it("is claimed with a marker holding the store's random id and the fleet's name, and no secret", async function () {
      const fleet = fleetConfig(suite, { name: 'north', packageDir: outside });
      const urlSecret = randomBytes(32).toString('hex');
      await helper.load(otaModules as Parameters<typeof helper.load>[0], onTab(fleet), {
        [fleet.id]: { urlSecret },
      });
      const handle = running(fleet);
      const marker = markerOf(outside);
      should(Object.keys(marker).sort()).eql(['claimedAt', 'fleet', 'storeId', 'what']);
      should(marker.storeId).match(/^[0-9a-f]{32}$/);
      should(marker.fleet).equal('north');
      should(new Date(String(marker.claimedAt)).toISOString()).equal(marker.claimedAt);
      const text = readFileSync(join(outside, PACKAGE_DIR_MARKER), 'utf8');
      should(handle.secret).equal(urlSecret);
      should(text.includes(urlSecret)).be.false('the marker holds the URL secret');
    });

    it('serves nothing but its packages: the marker and other files in it cannot be downloaded', async function () {
      const fleet = fleetConfig(suite, { packageDir: outside });
      await deployFleets(fleet);
      const firmware = await upload(fleet);
      writeFileSync(join(outside, 'notes.txt'), 'PRIVATE-NOTES');
      const storeId = String(markerOf(outside).storeId);
      const base = `${suite.nodeUrl}/ota/firmware/${fleet.id}`;
      const signed = new URL(signedUrl(running(fleet), firmware));
      for (const path of [
        `${base}/${PACKAGE_DIR_MARKER}`,
        `${base}/notes.txt`,
        `${base}/${firmware.id}/..%2f${PACKAGE_DIR_MARKER}${signed.search}`,
        `${base}/${sha256(PACKAGE)}${signed.search}`,
        `${base}/%2e%2e%2f%2e%2e%2f${PACKAGE_DIR_MARKER}`,
      ]) {
        const res = await httpRequest(path);
        should(res.status).be.within(400, 499, path);
        should(res.body.toString().includes(storeId)).be.false(`${path} served the marker`);
        should(res.body.toString().includes('PRIVATE-NOTES')).be.false(`${path} served another file`);
      }
    });

    it('is accepted again when the same fleet is redeployed: its packages still download, the marker is unchanged', async function () {
      const fleet = fleetConfig(suite, { packageDir: outside });
      await deployFleets(fleet);
      const firmware = await upload(fleet);
      const marker = readFileSync(join(outside, PACKAGE_DIR_MARKER));
      await helper.unload();

      should(await deployFleets(fleet)).eql([fleet.id]);
      should(readFileSync(join(outside, PACKAGE_DIR_MARKER)).equals(marker)).be.true();
      should((await downloadInTwo(fleet, firmware)).equals(PACKAGE)).be.true();
      should(logged('ERROR', fleet.id)).eql([]);
    });
  });

  describe('another fleet store pointed at a claimed directory', function () {
    /** Fleet "north" claims `outside` and hosts PACKAGE there; the flow is then unloaded. */
    async function claimedByNorth(): Promise<{ north: FlowNode; firmware: Firmware }> {
      const north = fleetConfig(suite, { name: 'north', packageDir: outside });
      await deployFleets(north);
      const firmware = await upload(north);
      await helper.unload();
      return { north, firmware };
    }

    const refusal = (dir: string) =>
      `the fleet "south" could not start: packageDir "${dir}" is the package directory of another fleet store (fleet "north"); ` +
      `name another directory, or remove ${join(dir, PACKAGE_DIR_MARKER)} if that store is gone`;

    it('does not start, says whose directory it is and what to do, and writes or deletes nothing there', async function () {
      const { north, firmware } = await claimedByNorth();
      const before = contentsOf(outside);
      const south = fleetConfig(suite, { name: 'south', packageDir: outside });

      should(await deployFleets(south)).eql([]);
      should(logged('ERROR', south.id)).eql([refusal(outside)]);
      should((await helper.request().get('/ota/fleets').expect(200)).body).eql([]);
      should(contentsOf(outside)).eql(before);

      // The directory's own fleet still serves from it.
      await helper.unload();
      should(await deployFleets(north)).eql([north.id]);
      should((await downloadInTwo(north, firmware)).equals(PACKAGE)).be.true();
    });

    it('is refused even deployed next to the fleet that owns the directory', async function () {
      const { north, firmware } = await claimedByNorth();
      const south = fleetConfig(suite, { name: 'south', packageDir: outside });
      should(await deployFleets(north, south)).eql([north.id]);
      should(logged('ERROR', south.id)).eql([refusal(outside)]);
      should((await downloadInTwo(north, firmware)).equals(PACKAGE)).be.true();
    });

    it('makes a bound node refuse every message with the refusal, in a red status', async function () {
      await claimedByNorth();
      const south = fleetConfig(suite, { name: 'south', packageDir: outside });
      const out = probe();
      const errors = probe();
      const push = node('ota-push', { fleet: south.id }, [[out.id], [out.id]]);
      await loadFlow(onTab(south, push, out, catchAll(errors), errors));
      const [output, caught] = inboxes(out.id, errors.id);
      const statuses = recordStatuses(push.id);
      feed(push, { _msgid: 'c', action: 'pause', batchId: 1 });
      const error = await caught.next();
      should((error.error as { message: string }).message).equal(`Error: ${refusal(outside)}`);
      assertRedRing(statuses, refusal(outside));
      await assertNothingSent([output]);
    });

    it('starts once the marker of a store that is gone is removed, and claims the directory', async function () {
      await claimedByNorth();
      rmSync(join(outside, PACKAGE_DIR_MARKER));
      const south = fleetConfig(suite, { name: 'south', packageDir: outside });
      should(await deployFleets(south)).eql([south.id]);
      should(markerOf(outside).fleet).equal('south');
    });
  });

  describe('a path it cannot use', function () {
    /** Deploys a fleet with `packageDir` next to a good fleet: the bad one is refused, the good one runs. */
    async function refused(packageDir: string): Promise<string[]> {
      const bad = fleetConfig(suite, { packageDir });
      const good = fleetConfig(suite, { name: 'good' });
      should(await deployFleets(bad, good)).eql([good.id]);
      should((await helper.request().get('/ota/fleets').expect(200)).body.map((f: { id: string }) => f.id)).eql([
        good.id,
      ]);
      return logged('ERROR', bad.id);
    }

    it('refuses a path that is a regular file, and leaves the file as it was', async function () {
      const file = join(outside, 'not-a-dir.bin');
      writeFileSync(file, 'keep me');
      should(await refused(file)).eql([
        `the fleet "test fleet" could not start: packageDir "${file}" exists and is not a directory: name a directory`,
      ]);
      should(readFileSync(file, 'utf8')).equal('keep me');
    });

    it('refuses a directory that cannot be created under a regular file (fails as root too)', async function () {
      const file = join(outside, 'a-file');
      writeFileSync(file, 'keep me');
      const dir = join(file, 'packages');
      should(await refused(dir)).eql([
        `the fleet "test fleet" could not start: packageDir "${dir}" could not be created: a part of the path is a file, not a directory (ENOTDIR)`,
      ]);
      should(readFileSync(file, 'utf8')).equal('keep me');
    });

    it('refuses an existing directory nobody may write in, root included (/sys/kernel)', async function () {
      const [message] = await refused('/sys/kernel');
      should(message).match(
        /^the fleet "test fleet" could not start: packageDir "\/sys\/kernel" is not writable: .* \((EACCES|EPERM|EROFS)\)$/,
      );
      should(existsSync(join('/sys/kernel', PACKAGE_DIR_MARKER))).be.false();
    });

    it('refuses a path starting with "~", which would not be expanded', async function () {
      should(await refused('~/firmware')).eql([
        'the fleet "test fleet" could not start: packageDir is not expanded from "~": write the whole path, got "~/firmware"',
      ]);
      should(existsSync(join(suite.userDir, '~'))).be.false();
    });

    it("refuses a directory holding a marker that is not a fleet store's, and leaves it", async function () {
      mkdirSync(join(outside, 'odd'));
      const dir = join(outside, 'odd');
      writeFileSync(join(dir, PACKAGE_DIR_MARKER), 'not json');
      should(await refused(dir)).eql([
        `the fleet "test fleet" could not start: packageDir "${dir}": ${join(dir, PACKAGE_DIR_MARKER)} is not a fleet store's marker; remove it if no other fleet uses this directory`,
      ]);
      should(readFileSync(join(dir, PACKAGE_DIR_MARKER), 'utf8')).equal('not json');
    });
  });
});
