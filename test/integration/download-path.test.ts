/**
 * Where a download goes in a real Node-RED: with the editor and the downloads both at `/` (the
 * default), a download must be answered before the editor's static files are looked at (a stat
 * per request, a third of Node-RED's CPU per download when it happened). The Node-RED child loads a
 * small script first that records every stat of a file under the editor's folder.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { freshId } from '../helpers/flow';
import { NodeRedChild } from '../helpers/node-red-child';
import { uploadPackage } from '../helpers/cluster';

/** Wraps fs.stat and fs.lstat: each path under `editor-client` is appended to `log`. */
const statSpy = (log: string) => `
const fs = require('fs');
for (const name of ['stat', 'lstat']) {
  const original = fs[name];
  fs[name] = function (p, ...rest) {
    if (String(p).includes('editor-client')) fs.appendFileSync(${JSON.stringify(log)}, String(p) + '\\n');
    return original.call(this, p, ...rest);
  };
}
`;

describe('downloads in a real Node-RED with the editor at the same root', function () {
  this.timeout(90_000);
  let red: NodeRedChild | undefined;
  let dir = '';
  const fleetId = freshId();
  const seen = () => readFileSync(join(dir, 'stats.log'), 'utf8').split('\n').filter(Boolean);

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-download-path-'));
    writeFileSync(join(dir, 'stats.log'), '');
    writeFileSync(join(dir, 'spy.js'), statSpy(join(dir, 'stats.log')));
    const flows = [{ id: fleetId, type: 'ota-fleet', name: 'fleet', requireVerification: false, publicUrl: '' }];
    red = await NodeRedChild.start({ flows, nodeArgs: ['--require', join(dir, 'spy.js')] });
  });

  after(async function () {
    await red?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a download without looking at the editor’s files; other paths still reach them', async function () {
    const base = red!.baseUrl;
    const firmware = await uploadPackage(`${base}/ota/fleets/${fleetId}`, '1.0.1');
    const before = seen().length;
    // A bad signature: the route found the fleet and the firmware, and refused it.
    const res = await fetch(`${base}/ota/firmware/${fleetId}/${firmware.id}?e=1&s=x`);
    should(res.status).equal(403);
    should(((await res.json()) as { error: string }).error).be.a.String();
    should(seen().slice(before)).eql([]);
    // The spy sees what the editor's static files are asked for.
    const other = await fetch(`${base}/no-such-editor-file.js`);
    should(other.status).equal(404);
    should(
      seen()
        .slice(before)
        .some((p) => p.endsWith('no-such-editor-file.js')),
    ).be.true();
  });
});
