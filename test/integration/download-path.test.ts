/**
 * Where a download goes in a real Node-RED: with the editor and the downloads both at `/` (the
 * default), a download must be answered before the editor's static files are looked at (a stat
 * per request, a third of Node-RED's CPU per download when it happened), and, Node-RED running as
 * its own program with nothing guarding the node root, before any express app (a tenth). The
 * Node-RED child loads a small script first that records every stat of a file under the editor's
 * folder and every download path an express app is asked to handle.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import should from 'should';
import { freshId } from '../helpers/flow';
import { NodeRedChild } from '../helpers/node-red-child';
import { uploadPackage } from '../helpers/cluster';

/** Node-RED's express, which every app of Node-RED is made from. */
const EXPRESS = require.resolve('express', { paths: [dirname(require.resolve('node-red/package.json'))] });

/**
 * Wraps fs.stat and fs.lstat: each path under `editor-client` is appended to `log`; and express's
 * app.handle (copied into every app made after this): each download URL it is given, to `appLog`.
 */
const spy = (log: string, appLog: string) => `
const fs = require('fs');
for (const name of ['stat', 'lstat']) {
  const original = fs[name];
  fs[name] = function (p, ...rest) {
    if (String(p).includes('editor-client')) fs.appendFileSync(${JSON.stringify(log)}, String(p) + '\\n');
    return original.call(this, p, ...rest);
  };
}
const express = require(${JSON.stringify(EXPRESS)});
const handle = express.application.handle;
express.application.handle = function (req, ...rest) {
  if (String(req.url).toLowerCase().includes('/ota/firmware/')) fs.appendFileSync(${JSON.stringify(appLog)}, req.url + '\\n');
  return handle.call(this, req, ...rest);
};
`;

describe('downloads in a real Node-RED with the editor at the same root', function () {
  this.timeout(90_000);
  let red: NodeRedChild | undefined;
  let dir = '';
  const fleetId = freshId();
  const lines = (file: string) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
  const seen = () => lines('stats.log');
  const inApps = () => lines('apps.log');

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-download-path-'));
    writeFileSync(join(dir, 'stats.log'), '');
    writeFileSync(join(dir, 'apps.log'), '');
    writeFileSync(join(dir, 'spy.js'), spy(join(dir, 'stats.log'), join(dir, 'apps.log')));
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

  it('answers downloads at the server, before any express app, and leaves the rest to the apps', async function () {
    const base = red!.baseUrl;
    const firmware = await uploadPackage(`${base}/ota/fleets/${fleetId}`, '1.0.2');
    const before = inApps().length;
    const signed = await fetch(`${base}/ota/firmware/${fleetId}/${firmware.id}?e=1&s=x`);
    should(signed.status).equal(403);
    const malformed = await fetch(`${base}/ota/firmware/${fleetId}/%c0%ae`);
    should(malformed.status).equal(404);
    should(await malformed.json()).eql({ error: 'no such firmware' });
    should(inApps().slice(before)).eql([]);
    // Another letter case is not the server's: the app's route answers it (express matches any case).
    const upper = await fetch(`${base}/OTA/firmware/${fleetId}/${firmware.id}?e=1&s=x`);
    should(upper.status).equal(403);
    const upperInApps = inApps().slice(before);
    should(upperInApps).not.be.empty();
    should(new Set(upperInApps)).eql(new Set([`/OTA/firmware/${fleetId}/${firmware.id}?e=1&s=x`]));
    should(red!.output).match(/package downloads are answered by Node-RED's HTTP server before its express app/);
  });
});
