/**
 * `npm start` for real: the demo comes up as a separate process, serves the editor, shows the
 * simulated devices through the admin API, upgrades them when the example's injects are
 * pressed, and shuts down on SIGINT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { get, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { PACKAGE_ROOT } from '../../src/demo/node-red';
import { ChildRun } from '../helpers/child';
import { getJson, waitFor } from '../helpers/http';
import { freePort } from '../helpers/net';

function getText(url: string): Promise<{ status: number; text: string }> {
  return new Promise((ok, fail) => {
    get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, text }));
    }).on('error', fail);
  });
}

function press(base: string, injectId: string): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request(`${base}/inject/${injectId}`, { method: 'POST' }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

// The example's inject nodes (examples/01).
const UPLOAD_INJECT = '8d0f227b921fddf5';
const BATCH_INJECT = '6808b8df3f36db73';

describe('npm start', function () {
  this.timeout(120_000);
  let demo: ChildRun | undefined;
  let dir: string;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-demo-'));
  });

  after(async function () {
    await demo?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('comes up with the editor and the simulated fleet, upgrades it on the injects, and stops on SIGINT', async function () {
    const port = await freePort();
    const mqttPort = await freePort();
    const base = `http://127.0.0.1:${port}`;
    demo = ChildRun.node(join(PACKAGE_ROOT, 'build', 'src', 'demo', 'start.js'), [], {
      env: { PORT: String(port), MQTT_PORT: String(mqttPort), OTA_DEMO_DIR: dir, SIM_DEVICES: '12' },
    });
    await demo.waitForOutput('Press the "upload firmware" inject', 90_000);
    should(demo.output).match(new RegExp(`editor +http://localhost:${port}`));

    const editor = await getText(`${base}/`);
    should(editor.status).equal(200);
    should(editor.text).match(/<title>Node-RED<\/title>/);
    const [fleet] = await getJson<{ id: string }[]>(`${base}/ota/fleets`);
    const api = `${base}/ota/fleets/${fleet.id}`;
    const devices = await waitFor(
      '12 devices',
      async () => {
        const list = await getJson<{ deviceName: string }[]>(`${api}/devices`);
        return list.length === 12 ? list : undefined;
      },
      30_000,
    );
    should(devices.map((d) => d.deviceName)).containEql('test-001');
    should(await getJson<{ version: string; verification: string }[]>(`${api}/firmware`)).match([
      { version: '1.1.0', verification: 'unverified' },
    ]);

    should(await press(base, UPLOAD_INJECT)).equal(200);
    await waitFor(
      'the verification',
      async () =>
        (await getJson<{ verification: string }[]>(`${api}/firmware`))[0].verification === 'verified'
          ? true
          : undefined,
      60_000,
    );
    should(await press(base, BATCH_INJECT)).equal(200);
    const upgraded = await waitFor(
      'devices upgraded by the batch',
      async () => {
        const batches = await getJson<{ type: string; counts: Record<string, number> }[]>(`${api}/batches`);
        const batch = batches.find((b) => b.type === 'static');
        return batch && batch.counts.SUCCEEDED > 0 ? batch : undefined;
      },
      60_000,
    );
    should(upgraded.counts.SUCCEEDED).be.above(0);

    should(await demo.signal('SIGINT')).equal(0);
    should(demo.output).match(/stopping/);
  });
});
