/**
 * The OTA sidebar tab in a real editor: a real Node-RED child process with a real broker and
 * scripted devices, driven through Debian's Chromium by playwright-core. Everything the tab shows
 * is checked against the admin API; the screenshots of the README are written on the way.
 * A second Node-RED with adminAuth checks what a read-only user sees and may do.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import should from 'should';
import { buildProgressReport, buildVersionReport } from '../../src/protocol';
import { PACKAGE_ROOT } from '../../src/demo/node-red';
import { NodeRedChild } from '../helpers/node-red-child';
import { startAedes, TestBroker } from '../helpers/broker';
import { ScriptedDevices } from '../helpers/devices';
import { waitFor } from '../helpers/http';
import { platformFlow } from '../helpers/platform-flow';
import { needChromium, launchChromium, openConsole } from '../helpers/editor';

const PASSWORD = 'ota-console-test';
/** The README's screenshots are refreshed with OTA_SCREENSHOTS=1; other runs keep theirs in build/. */
const DOCS = process.env.OTA_SCREENSHOTS ? join(PACKAGE_ROOT, 'docs') : join(PACKAGE_ROOT, 'build', 'screenshots');

interface Counts {
  [state: string]: number;
}
interface BatchView {
  id: number;
  state: string;
  counts: Counts;
}
interface TaskView {
  productKey: string;
  deviceName: string;
  state: string;
  step: number | null;
  attempts: number;
  reason: string | null;
  batchId: number;
}
interface FirmwareView {
  id: string;
  version: string;
  size: number;
  md5: string;
  sha256: string;
  verification: string;
}
interface VersionRow {
  productKey: string;
  module: string;
  version: string;
  count: number;
}

/** One Node-RED child process with the platform flow, on its own user directory and port. */
class Runtime {
  red: NodeRedChild | undefined;
  fleetId = '';

  async start(
    broker: TestBroker,
    fleetSettings: Record<string, unknown>,
    settings: Record<string, unknown> = {},
  ): Promise<void> {
    const { flows, fleetId } = platformFlow({ host: '127.0.0.1', port: broker.port }, fleetSettings);
    this.fleetId = fleetId;
    this.red = await NodeRedChild.prepare({
      flows: layOut(flows),
      settings: { logging: { console: { level: 'warn' } }, ...settings },
    });
    // Behind adminAuth the fleets answer only with a token: ready once an admin gets one.
    await this.red.start(
      60_000,
      settings.adminAuth ? () => token(this.base, 'admin', '*').then(() => true) : undefined,
    );
  }

  get base(): string {
    return this.red?.baseUrl ?? '';
  }

  get api(): string {
    return `${this.base}/ota/fleets/${this.fleetId}`;
  }

  async stop(): Promise<void> {
    await this.red?.close();
  }
}

/**
 * Places the platform flow's nodes so the screenshots show it as a user would draw it, and gives
 * the fleet the settings its editor form requires (else the editor marks the nodes invalid).
 */
function layOut(flows: object[]): object[] {
  const at: Record<string, [number, number]> = {
    'mqtt in:/ota/device/inform/+/+': [130, 60],
    'mqtt in:/ota/device/progress/+/+': [130, 120],
    'ota-inform:': [340, 60],
    'ota-progress:': [340, 120],
    'ota-push:': [340, 200],
    'mqtt out:': [500, 180],
    'mqtt out:test/events': [500, 230],
  };
  return flows.map((n) => {
    const node = n as { type: string; topic?: string };
    if (node.type === 'ota-fleet') return { urlExpiryHours: 24, maxPackageMB: 1000, ...node };
    const xy = at[`${node.type}:${node.topic ?? ''}`];
    return xy ? { ...node, x: xy[0], y: xy[1] } : node;
  });
}

/** A JSON request with an optional bearer token; resolves with the status and the parsed body. */
async function call<T = unknown>(
  method: string,
  url: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function getOk<T>(url: string, token?: string): Promise<T> {
  const { status, body } = await call<T>('GET', url, { token });
  if (status !== 200) throw new Error(`GET ${url}: ${status} ${JSON.stringify(body)}`);
  return body;
}

async function token(base: string, username: string, scope: string): Promise<string> {
  const { status, body } = await call<{ access_token: string }>('POST', `${base}/auth/token`, {
    body: { client_id: 'node-red-editor', grant_type: 'password', scope, username, password: PASSWORD },
  });
  if (status !== 200) throw new Error(`login of ${username}: ${status} ${JSON.stringify(body)}`);
  return body.access_token;
}

interface Socket {
  on(event: 'open' | 'error' | 'message', listener: (data: unknown) => void): void;
  send(text: string): void;
  close(): void;
}

/** An editor comms connection as the editor opens it, logged in with a token; keeps the topics it gets. */
async function commsSocket(base: string, accessToken: string): Promise<{ topics: string[]; close(): void }> {
  const WebSocket = require('ws') as new (url: string) => Socket;
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/comms`);
  const topics: string[] = [];
  await new Promise((ok, fail) => {
    ws.on('open', ok);
    ws.on('error', fail);
  });
  const authorised = new Promise<void>((ok, fail) => {
    ws.on('message', (data) => {
      const parsed = JSON.parse(String(data)) as { auth?: string } | { topic: string }[];
      if (!Array.isArray(parsed))
        return parsed.auth === 'ok' ? ok() : fail(new Error(`comms refused the token: ${JSON.stringify(parsed)}`));
      for (const m of parsed) topics.push(m.topic);
    });
  });
  ws.send(JSON.stringify({ auth: accessToken }));
  await authorised;
  ws.send(JSON.stringify({ subscribe: 'ota/#' }));
  return { topics, close: () => ws.close() };
}

/** Waits for the fleet, and for the inventory to hold `count` devices (devices report again meanwhile). */
async function waitForInventory(
  runtime: Runtime,
  fleets: ScriptedDevices[],
  count: number,
  authToken?: string,
): Promise<void> {
  await waitFor(
    `the fleet of ${runtime.base}`,
    async () => {
      if (!runtime.red?.running) throw new Error(`Node-RED exited:\n${runtime.red?.output}`);
      const list = await getOk<{ id: string }[]>(`${runtime.base}/ota/fleets`, authToken);
      return list.length ? true : undefined;
    },
    60_000,
  );
  let last = 0;
  await waitFor(
    `${count} devices in ${runtime.base}`,
    async () => {
      const devices = await getOk<unknown[]>(`${runtime.api}/devices`, authToken);
      if (devices.length >= count) return true;
      if (Date.now() - last > 1000) {
        last = Date.now();
        for (const f of fleets) for (const name of f.names) f.reportVersion(name);
      }
      return undefined;
    },
    30_000,
  );
}

/** Makes the sidebar wide enough for the screenshots (what dragging its separator does). */
async function widenSidebar(page: Page, width: number): Promise<void> {
  await page.evaluate((w) => {
    const { $, RED } = window as unknown as {
      $: (s: string) => { width(n: number): void; css(k: string, v: number): void };
      RED: { events: { emit(e: string): void } };
    };
    $('#red-ui-sidebar').width(w);
    $('#red-ui-workspace').css('right', w + 7);
    $('#red-ui-editor-stack').css('right', w + 8);
    $('#red-ui-sidebar-separator').css('right', w + 2);
    RED.events.emit('sidebar:resize');
  }, width);
}

async function showSection(page: Page, id: string): Promise<void> {
  await page.click(`#ota-console-tab-${id}`);
  await page.waitForSelector(`#ota-console-panel-${id}:not([hidden])`);
}

/** The counts of the open batch detail, as its state chips show them. */
async function chipCounts(page: Page): Promise<Counts> {
  return page.$$eval('#ota-console-panel-batches .ota-console-chip', (chips) => {
    const counts: Record<string, number> = {};
    for (const chip of chips) {
      const state = chip.getAttribute('data-state') as string;
      if (state !== 'ALL') counts[state] = Number(chip.getAttribute('data-count'));
    }
    return counts;
  });
}

/** The rows of the open batch's device table. */
async function tableRows(page: Page): Promise<{ deviceName: string; state: string; step: string; attempts: string }[]> {
  return page.$$eval('#ota-console-tasks tbody tr[data-device]', (rows) =>
    rows.map((tr) => ({
      deviceName: tr.getAttribute('data-device') as string,
      state: tr.getAttribute('data-state') as string,
      step: tr.children[2].getAttribute('data-step') as string,
      attempts: (tr.children[4].textContent ?? '').trim(),
    })),
  );
}

function asRows(tasks: TaskView[]) {
  return tasks
    .map((t) => ({
      deviceName: t.deviceName,
      state: t.state,
      step: t.step === null ? '' : String(t.step),
      attempts: String(t.attempts),
    }))
    .sort((a, b) => a.deviceName.localeCompare(b.deviceName));
}

function sortRows<T extends { deviceName: string }>(rows: T[]): T[] {
  return rows.slice().sort((a, b) => a.deviceName.localeCompare(b.deviceName));
}

const WRITE_ACTIONS = [
  '[data-action="upload"]',
  '[data-action="verify"]',
  '[data-action="new-batch"]',
  '[data-action="start-batch"]',
  '[data-action="pause"]',
  '[data-action="resume"]',
  '[data-action="cancel"]',
  '[data-action="confirm"]',
  '[data-action^="task-"]',
].join(', ');

describe('the OTA console tab in the editor', function () {
  this.timeout(120_000);
  let broker: TestBroker;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  const main = new Runtime();
  const guarded = new Runtime();
  let adminToken = '';
  const fleets: ScriptedDevices[] = [];
  const names = Array.from({ length: 30 }, (_, i) => `dev-${String(i).padStart(2, '0')}`);
  let work = '';
  let firmware: FirmwareView;
  /** The GRAY batch started from the form. */
  let gray = 0;

  before(async function () {
    needChromium(this);
    work = mkdtempSync(join(tmpdir(), 'ota-console-files-'));
    broker = await startAedes();
    const bcrypt = require('bcryptjs') as { hashSync(password: string, rounds: number): string };
    const password = bcrypt.hashSync(PASSWORD, 8);
    await Promise.all([
      // The default process: a firmware must pass on test devices before a batch may use it.
      main.start(broker, { requireVerification: true }),
      guarded.start(
        broker,
        { requireVerification: false },
        {
          adminAuth: {
            type: 'credentials',
            users: [
              { username: 'admin', password, permissions: '*' },
              { username: 'viewer', password, permissions: 'read' },
              // May open the editor's comms socket, but not read OTA data.
              { username: 'limited', password, permissions: ['status.read', 'flows.read'] },
            ],
          },
        },
      ),
    ]);
    // 30 devices of pk1 on two versions, 4 of pk2 with a "wifi" module: the chart has two groups.
    const pk1 = new ScriptedDevices(broker.url, 'pk1', names, '1.0.0', { stepMs: 300 });
    for (const name of names.slice(20)) pk1.versions.set(name, '1.1.0');
    const pk2 = new ScriptedDevices(broker.url, 'pk2', ['cam-1', 'cam-2', 'cam-3', 'cam-4'], '3.2.0', {
      stepMs: 300,
      module: 'wifi',
    });
    fleets.push(pk1, pk2);
    const launched = launchChromium();
    await waitForInventory(main, [], 0);
    await Promise.all(fleets.map((f) => f.start()));
    await waitForInventory(main, fleets, 34);
    await waitFor('the guarded Node-RED', () => token(guarded.base, 'admin', '*').catch(() => undefined), 60_000).then(
      (t) => (adminToken = t),
    );
    await waitForInventory(guarded, fleets, 34, adminToken);
    browser = await launched;
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (err) => console.log(`    page error: ${err.message}`));
  });

  after(async function () {
    await browser?.close();
    await Promise.all(fleets.map((f) => f.stop()));
    await Promise.all([main.stop(), guarded.stop()]);
    await broker?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('shows the version distribution the API reports, per product and module', async function () {
    await openConsole(page, main.base);
    await page.evaluate(() => ((window as unknown as { otaMarker: number }).otaMarker = 1));
    await page.waitForSelector('#ota-console-panel-versions li[data-version]');
    const bars = await page.$$eval('#ota-console-panel-versions li[data-version]', (items) =>
      items.map((li) => ({
        productKey: li.getAttribute('data-product'),
        module: li.getAttribute('data-module'),
        version: li.getAttribute('data-version'),
        count: Number(li.getAttribute('data-count')),
        shown: li.querySelector('.ota-console-bar-count')?.textContent,
        width: (li.querySelector('.ota-console-bar') as HTMLElement).style.width,
      })),
    );
    const api = await getOk<VersionRow[]>(`${main.api}/versions`);
    const key = (r: { productKey: string | null; version: string | null }) => `${r.productKey} ${r.version}`;
    should(
      bars
        .map(({ productKey, module, version, count }) => ({ productKey, module, version, count }))
        .sort((a, b) => key(a).localeCompare(key(b))),
    ).eql(api.sort((a, b) => key(a).localeCompare(key(b))));
    should(api).containEql({ productKey: 'pk1', module: 'default', version: '1.0.0', count: 20 });
    for (const bar of bars) should(bar.shown).equal(String(bar.count));
    // The longest bar of a group fills its track; 10 of 20 fills half.
    should(bars.find((b) => b.version === '1.0.0')?.width).equal('100%');
    should(bars.find((b) => b.version === '1.1.0')?.width).equal('50%');

    // The sections are a keyboard tablist: arrow keys move between them.
    await page.focus('#ota-console-tab-versions');
    await page.keyboard.press('ArrowRight');
    should(await page.getAttribute('#ota-console-tab-firmware', 'aria-selected')).equal('true');
    should(await page.evaluate(() => document.activeElement?.id)).equal('ota-console-tab-firmware');
    await page.keyboard.press('ArrowLeft');
    should(await page.isVisible('#ota-console-panel-versions')).be.true();

    await widenSidebar(page, 520);
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    mkdirSync(DOCS, { recursive: true });
    await page.screenshot({ path: join(DOCS, 'console-distribution.png') });
  });

  it('uploads a chosen file as a firmware whose size and digests the list and the API agree on', async function () {
    const bytes = randomBytes(48 * 1024 + 123);
    const file = join(work, 'pk1-2.0.0.bin');
    writeFileSync(file, bytes);
    await showSection(page, 'firmware');
    await page.fill('#ota-console-upload [name=productKey]', 'pk1');
    await page.fill('#ota-console-upload [name=version]', '2.0.0');
    await page.setInputFiles('#ota-console-upload input[type=file]', file);
    await page.click('#ota-console-upload [data-action=upload]');
    const card = '#ota-console-panel-firmware li[data-version="2.0.0"]';
    await page.waitForSelector(card);
    const shown = await page.$eval(card, (li) => ({
      id: li.getAttribute('data-firmware-id'),
      size: Number(li.querySelector('[data-fact=size]')?.getAttribute('data-bytes')),
      md5: li.querySelector('[data-fact=md5]')?.textContent,
      sha256: li.querySelector('[data-fact=sha256]')?.textContent,
      verification: li.querySelector('.ota-console-badge')?.textContent,
    }));
    const list = await getOk<FirmwareView[]>(`${main.api}/firmware`);
    should(list).have.length(1);
    firmware = list[0];
    should(shown).eql({
      id: firmware.id,
      size: firmware.size,
      md5: firmware.md5,
      sha256: firmware.sha256,
      verification: firmware.verification,
    });
    should(firmware).match({
      version: '2.0.0',
      size: bytes.length,
      md5: createHash('md5').update(bytes).digest('hex'),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      verification: 'unverified',
    });
  });

  it('refuses a batch of an unverified firmware at the form, and verifies it on chosen test devices', async function () {
    await showSection(page, 'batches');
    await page.click('[data-action=new-batch]');
    const form = '#ota-console-batch-form';
    await page.selectOption(`${form} [name=firmwareId]`, firmware.id);
    await page.click(`${form} [data-action=start-batch]`);
    should(await page.textContent(`${form} [data-field=firmwareId] .ota-console-invalid`)).match(
      /is unverified: verify it on test devices first/,
    );
    should(await getOk<unknown[]>(`${main.api}/batches`)).eql([]);
    await page.click(`${form} button:text("Cancel")`);

    await showSection(page, 'firmware');
    const card = `#ota-console-panel-firmware li[data-firmware-id="${firmware.id}"]`;
    await page.fill(`${card} input[name=devices]`, 'dev-00, dev-01, dev-02');
    await page.click(`${card} [data-action=verify]`);
    // The tab opens the verify batch and follows it to the end.
    await page.waitForSelector('#ota-console-panel-batches .ota-console-detail-title:text("Batch #1")');
    await waitFor(
      'the test devices upgraded',
      async () => ((await chipCounts(page)).SUCCEEDED === 3 ? true : undefined),
      20_000,
    );
    should(await getOk<BatchView & { type: string; targets: unknown }>(`${main.api}/batches/1`)).match({
      type: 'verify',
      state: 'COMPLETED',
      targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ['dev-00', 'dev-01', 'dev-02'] },
    });
    await showSection(page, 'firmware');
    await page.waitForSelector(`${card} .ota-console-badge:text("verified")`);
    should((await getOk<FirmwareView>(`${main.api}/firmware/${firmware.id}`)).verification).equal('verified');
  });

  it('refuses a bad form with a message at the field, then starts a GRAY batch whose states change live', async function () {
    await showSection(page, 'batches');
    await page.click('[data-action=back]');
    await page.click('[data-action=new-batch]');
    const form = '#ota-console-batch-form';
    await page.selectOption(`${form} [name=firmwareId]`, firmware.id);
    await page.check(`${form} input[name=selection][value=GRAY]`);
    await page.fill(`${form} [name=percent]`, '50');
    await page.fill(`${form} [name=maximumPerMinute]`, '0');
    await page.click(`${form} [data-action=start-batch]`);
    should(await page.textContent(`${form} [data-field=maximumPerMinute] .ota-console-invalid`)).match(
      /from 1 to 1,000,000/,
    );
    should(await page.getAttribute(`${form} [name=maximumPerMinute]`, 'aria-invalid')).equal('true');
    should(await page.evaluate(() => document.activeElement?.getAttribute('name'))).equal('maximumPerMinute');
    should((await getOk<unknown[]>(`${main.api}/batches`)).length).equal(1);

    await page.fill(`${form} [name=maximumPerMinute]`, '90');
    await page.click(`${form} [data-action=start-batch]`);
    await page.waitForSelector('.ota-console-detail-title:text("Batch #2")');
    gray = 2;
    const created = await getOk<BatchView & { targets: unknown; strategy: Record<string, unknown> }>(
      `${main.api}/batches/${gray}`,
    );
    should(created.targets).eql({ selection: 'GRAY', productKey: 'pk1', percent: 50 });
    should(created.strategy).match({ maximumPerMinute: 90, overwrite: 'keep', needConfirm: false });

    // Watch the chips without reloading: the counts move as devices report.
    const seen = new Set<string>();
    await waitFor(
      'some devices upgraded while others wait',
      async () => {
        const counts = await chipCounts(page);
        seen.add(JSON.stringify(counts));
        return counts.SUCCEEDED >= 3 && counts.QUEUED >= 3 ? counts : undefined;
      },
      30_000,
    );
    should(seen.size).be.above(2);
    should(await page.evaluate(() => (window as unknown as { otaMarker?: number }).otaMarker)).equal(1);
    // The screenshot without the "started" notification sliding over the header.
    await page.waitForSelector('.red-ui-notification', { state: 'detached', timeout: 5_000 }).catch(() => undefined);
    await page.screenshot({ path: join(DOCS, 'console-batch.png') });
  });

  it('cancels the batch from its detail; the table and the counts match the API', async function () {
    await page.click('[data-action=cancel]');
    await page.click('[data-action=cancel-confirm]');
    await page.waitForSelector('#ota-console-panel-batches .ota-console-detail-head [data-batch-state=CANCELED]');
    const batch = await getOk<BatchView>(`${main.api}/batches/${gray}`);
    should(batch.state).equal('CANCELED');
    should(batch.counts.CANCELED).be.above(0);
    should(batch.counts.SUCCEEDED).be.above(2);
    const tasks = await getOk<TaskView[]>(`${main.api}/batches/${gray}/tasks`);
    // Late reports of devices already upgrading may still land: compare once both agree.
    await waitFor(
      'the tab to show what the API says',
      async () => {
        const [api, apiTasks] = await Promise.all([
          getOk<BatchView>(`${main.api}/batches/${gray}`),
          getOk<TaskView[]>(`${main.api}/batches/${gray}/tasks`),
        ]);
        const [chips, rows] = await Promise.all([chipCounts(page), tableRows(page)]);
        return JSON.stringify(chips) === JSON.stringify(api.counts) &&
          JSON.stringify(sortRows(rows)) === JSON.stringify(asRows(apiTasks))
          ? true
          : undefined;
      },
      10_000,
    );
    should(await chipCounts(page)).eql((await getOk<BatchView>(`${main.api}/batches/${gray}`)).counts);
    should(sortRows(await tableRows(page))).eql(asRows(await getOk<TaskView[]>(`${main.api}/batches/${gray}/tasks`)));
    // Half of the 27 devices not at 2.0.0 yet (the 3 test devices are).
    should(tasks).have.length(13);

    // The state filter shows only the canceled devices.
    await page.click('#ota-console-panel-batches .ota-console-chip[data-state=CANCELED]');
    await waitFor(
      'the filtered table',
      async () => ((await tableRows(page)).every((r) => r.state === 'CANCELED') ? true : undefined),
      5_000,
    );
    should(sortRows(await tableRows(page))).eql(
      asRows(await getOk<TaskView[]>(`${main.api}/batches/${gray}/tasks?state=CANCELED`)),
    );

    // A canceled batch offers no action any more (a re-upgrade needs a new batch).
    should(await page.$$('[data-action=pause], [data-action=cancel], [data-action=task-reupgrade]')).have.length(0);
  });

  it('the distribution follows the upgrades without a reload', async function () {
    await showSection(page, 'versions');
    const api = await getOk<VersionRow[]>(`${main.api}/versions`);
    should(api.find((r) => r.version === '2.0.0')?.count).be.above(5);
    const shown = () =>
      page.$$eval('#ota-console-panel-versions li[data-version]', (items) =>
        items
          .map(
            (li) =>
              `${li.getAttribute('data-product')} ${li.getAttribute('data-module')} ${li.getAttribute('data-version')} ${li.getAttribute('data-count')}`,
          )
          .sort(),
      );
    // Late reports of devices that were upgrading at the cancel may still move it: compare the
    // tab with what the API says at the same moment, until both agree.
    let last = { shown: [] as string[], expected: [] as string[] };
    await waitFor(
      'the new distribution',
      async () => {
        const rows = await getOk<VersionRow[]>(`${main.api}/versions`);
        last = {
          shown: await shown(),
          expected: rows.map((r) => `${r.productKey} ${r.module} ${r.version} ${r.count}`).sort(),
        };
        return JSON.stringify(last.shown) === JSON.stringify(last.expected) ? true : undefined;
      },
      10_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: the tab shows ${JSON.stringify(last.shown)}, the API says ${JSON.stringify(last.expected)}`,
      );
    });
    should(await page.evaluate(() => (window as unknown as { otaMarker?: number }).otaMarker)).equal(1);
    await showSection(page, 'batches');
  });

  it('exports the device table as CSV', async function () {
    await page.click('#ota-console-panel-batches .ota-console-chip[data-state=ALL]');
    const all = await getOk<TaskView[]>(`${main.api}/batches/${gray}/tasks`);
    await waitFor(
      'the whole table',
      async () => ((await tableRows(page)).length === all.length ? true : undefined),
      5_000,
    );
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-action=export-csv]')]);
    should(download.suggestedFilename()).equal(`batch-${gray}-tasks.csv`);
    const path = join(work, 'tasks.csv');
    await download.saveAs(path);
    const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\r\n');
    should(header).equal('productKey,deviceName,module,state,stateLabel,step,reason,attempts,srcVersion,updatedAt');
    const rows = lines
      .map((line) => line.split(','))
      .map((cells) => ({ deviceName: cells[1], state: cells[3], step: cells[5], attempts: cells[cells.length - 3] }));
    should(sortRows(rows)).eql(asRows(await getOk<TaskView[]>(`${main.api}/batches/${gray}/tasks`)));
  });

  it('finds a device by name with its modules, reports and task history', async function () {
    const tasks = await getOk<TaskView[]>(`${main.api}/batches/${gray}/tasks`);
    const upgraded = tasks.find((t) => t.state === 'SUCCEEDED') as TaskView;
    await showSection(page, 'devices');
    await page.fill('#ota-console-panel-devices input[name=search]', upgraded.deviceName);
    await page.keyboard.press('Enter');
    await page.click(`#ota-console-panel-devices .ota-console-found [data-device="${upgraded.deviceName}"]`);
    await page.waitForSelector('#ota-console-history tbody tr');
    const info = await getOk<{ modules: { module: string; version: string }[]; tasks: TaskView[] }>(
      `${main.api}/devices/pk1/${upgraded.deviceName}`,
    );
    const modules = await page.$$eval('#ota-console-modules tbody tr', (rows) =>
      rows.map((tr) => ({ module: tr.getAttribute('data-module'), version: tr.getAttribute('data-version') })),
    );
    should(modules).eql(info.modules.map((m) => ({ module: m.module, version: m.version })));
    should(modules).eql([{ module: 'default', version: '2.0.0' }]);
    const history = await page.$$eval('#ota-console-history tbody tr', (rows) =>
      rows.map((tr) => ({ batchId: Number(tr.getAttribute('data-batch-id')), state: tr.getAttribute('data-state') })),
    );
    should(history).eql(info.tasks.map((t) => ({ batchId: t.batchId, state: t.state })));
    should(history).eql([{ batchId: gray, state: 'SUCCEEDED' }]);

    // The batch number leads back to the batch detail.
    await page.click(`#ota-console-history button:text("#${gray}")`);
    await page.waitForSelector(`#ota-console-panel-batches .ota-console-detail-title:text("Batch #${gray}")`);
  });

  it('a storm of 10,000 progress reports reaches the tab as a few coalesced messages; the editor stays responsive', async function () {
    // 10 test devices nobody simulates: they say exactly what the test publishes for them,
    // 1,000 progress reports each.
    const ghosts = Array.from({ length: 10 }, (_, i) => `ghost-${i}`);
    const client = await mqtt.connectAsync(broker.url, { clientId: 'storm' });
    let taskEvents = 0;
    await client.subscribeAsync('test/events', { qos: 1 });
    client.on('message', (_topic, payload) => {
      // ota-push's event output: msg.payload is a transition (task) or a batch change.
      if ((JSON.parse(payload.toString()) as { taskId?: number }).taskId !== undefined) taskEvents++;
    });
    try {
      for (const name of ghosts)
        await client.publishAsync(`/ota/device/inform/pk3/${name}`, buildVersionReport({ version: '1.0.0' }), {
          qos: 1,
        });
      await waitFor(
        'the ghosts in the inventory',
        async () => ((await getOk<unknown[]>(`${main.api}/devices?productKey=pk3`)).length === 10 ? true : undefined),
        20_000,
      );
      const created = await call<BatchView>('POST', `${main.api}/batches`, {
        body: {
          firmware: { version: '2.5.0', url: 'http://firmware.invalid/pk3-2.5.0.bin', size: 1000, md5: 'c'.repeat(32) },
          type: 'verify',
          targets: { productKey: 'pk3', devices: ghosts },
        },
      });
      should(created.status).equal(201);
      const id = created.body.id;

      // The batch made elsewhere appears in the list by itself; open it.
      await page.click('[data-action=back]');
      await page.click(`#ota-console-batch-list [data-batch-id="${id}"] .ota-console-card-open`);
      await page.waitForSelector(`#ota-console-tasks tbody tr[data-device="ghost-9"]`);
      await waitFor(
        'every notice sent',
        async () => ((await getOk<BatchView>(`${main.api}/batches/${id}`)).counts.NOTIFIED === 10 ? true : undefined),
        10_000,
      );
      await page.evaluate((fleetId) => {
        const w = window as unknown as {
          otaMessages: number;
          RED: { comms: { subscribe(topic: string, fn: () => void): void } };
        };
        w.otaMessages = 0;
        w.RED.comms.subscribe(`ota/${fleetId}`, () => w.otaMessages++);
      }, main.fleetId);
      let taskFetches = 0;
      const countFetches = (request: { url(): string }) => {
        if (request.url().includes(`/batches/${id}/tasks`)) taskFetches++;
      };
      page.on('request', countFetches);

      const started = Date.now();
      taskEvents = 0;
      for (let k = 0; k < 1000; k++) {
        const step = Math.floor(k / 10);
        for (const name of ghosts)
          client.publish(`/ota/device/progress/pk3/${name}`, buildProgressReport({ step, module: 'default' }), {
            qos: 0,
          });
      }
      // While the runtime works through them, the editor answers within a frame or so.
      let slowest = 0;
      const done = waitFor(
        'the 10,000 reports handled',
        async () => {
          const tasks = await getOk<TaskView[]>(`${main.api}/batches/${id}/tasks`);
          return tasks.every((t) => t.step === 99) ? true : undefined;
        },
        60_000,
      );
      let finished = false;
      void done.then(
        () => (finished = true),
        () => (finished = true),
      );
      while (!finished) {
        const t0 = Date.now();
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
        slowest = Math.max(slowest, Date.now() - t0);
        await page.waitForTimeout(50);
      }
      await done;
      const seconds = (Date.now() - started) / 1000;
      await waitFor(
        'the table at step 99',
        async () => ((await tableRows(page)).every((r) => r.step === '99') ? true : undefined),
        5_000,
      );
      page.off('request', countFetches);
      // Every report was a task event (the flow publishes them on test/events, a little behind).
      await waitFor('the task events', async () => (taskEvents >= 10_000 ? true : undefined), 20_000);
      const messages = await page.evaluate(() => (window as unknown as { otaMessages: number }).otaMessages);
      console.log(
        `      ${taskEvents} task events in ${seconds.toFixed(1)} s → ${messages} comms messages, ${taskFetches} table fetches, slowest frame ${slowest} ms`,
      );
      should(messages).be.belowOrEqual(Math.ceil(seconds / 0.5) + 3);
      should(taskFetches).be.belowOrEqual(messages + 2);
      should(slowest).be.below(1500);

      // The devices reboot into 2.5.0: the table and the counts follow.
      for (const name of ghosts)
        client.publish(`/ota/device/inform/pk3/${name}`, buildVersionReport({ version: '2.5.0' }), { qos: 1 });
      await waitFor(
        'all succeeded in the tab',
        async () => ((await chipCounts(page)).SUCCEEDED === 10 ? true : undefined),
        20_000,
      );
      should(await chipCounts(page)).eql((await getOk<BatchView>(`${main.api}/batches/${id}`)).counts);
      await waitFor(
        'the table',
        async () => ((await tableRows(page)).every((r) => r.state === 'SUCCEEDED') ? true : undefined),
        5_000,
      );
      should(sortRows(await tableRows(page))).eql(asRows(await getOk<TaskView[]>(`${main.api}/batches/${id}/tasks`)));
    } finally {
      await client.endAsync(true);
    }
  });

  it('a read-only user sees the data and no action, and the API refuses the same user', async function () {
    // As admin, through the API: a firmware and a batch waiting for confirms (nothing is pushed yet).
    const bytes = randomBytes(2048);
    const uploaded = await fetch(`${guarded.api}/firmware?productKey=pk2&module=wifi&version=3.3.0`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    should(uploaded.status).equal(201);
    const fw = (await uploaded.json()) as FirmwareView;
    const created = await call<BatchView>('POST', `${guarded.api}/batches`, {
      token: adminToken,
      body: {
        firmwareId: fw.id,
        type: 'static',
        targets: { selection: 'SPECIFIC', productKey: 'pk2', devices: ['cam-1', 'cam-2'] },
        strategy: { needConfirm: true },
      },
    });
    should(created.status).equal(201);

    const viewerToken = await token(guarded.base, 'viewer', 'read');
    const viewer = await context.newPage();
    // What the editor's login form does: keep the token where the editor looks for it.
    await viewer.addInitScript(
      (t) => localStorage.setItem('auth-tokens', JSON.stringify({ access_token: t })),
      viewerToken,
    );
    await openConsole(viewer, guarded.base);
    should(
      await viewer.evaluate(
        () => (window as unknown as { RED: { settings: { user?: { username: string } } } }).RED.settings.user?.username,
      ),
    ).equal('viewer');
    await viewer.waitForSelector('#ota-console-panel-versions li[data-version]');
    const apiVersions = await getOk<unknown[]>(`${guarded.api}/versions`, viewerToken);
    await waitFor(
      'the distribution',
      async () =>
        (await viewer.$$('#ota-console-panel-versions li[data-version]')).length === apiVersions.length
          ? true
          : undefined,
      5_000,
    );
    await showSection(viewer, 'firmware');
    await viewer.waitForSelector('#ota-console-panel-firmware li[data-version="3.3.0"]');
    await showSection(viewer, 'batches');
    await viewer.click(`#ota-console-panel-batches [data-batch-id="${created.body.id}"] .ota-console-card-open`);
    await viewer.waitForSelector('#ota-console-tasks tbody tr[data-state=CONFIRM]');
    should(await chipCounts(viewer)).match({ CONFIRM: 2 });
    should(await viewer.$$(WRITE_ACTIONS)).have.length(0);
    should(await viewer.isVisible('[data-action=export-csv]')).be.true();

    // The API refuses the viewer's writes.
    const refused = await call('POST', `${guarded.api}/batches`, {
      token: viewerToken,
      body: { firmwareId: fw.id, type: 'static', targets: { selection: 'ALL' } },
    });
    should([401, 403]).containEql(refused.status);
    const cancel = await call('POST', `${guarded.api}/batches/${created.body.id}/cancel`, { token: viewerToken });
    should([401, 403]).containEql(cancel.status);

    // Live updates reach readers only: an admin confirms a device, the viewer's table follows,
    // and an editor connection of a user without ota.read hears nothing of it.
    const reader = await commsSocket(guarded.base, viewerToken);
    const limited = await commsSocket(guarded.base, await token(guarded.base, 'limited', ''));
    try {
      const confirmed = await call('POST', `${guarded.api}/batches/${created.body.id}/tasks/pk2/cam-1/confirm`, {
        token: adminToken,
      });
      should(confirmed.status).equal(200);
      await viewer.waitForSelector('#ota-console-tasks tbody tr[data-device="cam-1"]:not([data-state=CONFIRM])', {
        timeout: 10_000,
      });
      await waitFor(
        'the reader socket to hear of it',
        async () => (reader.topics.includes(`ota/${guarded.fleetId}`) ? true : undefined),
        5_000,
      );
      await new Promise((r) => setTimeout(r, 600));
      should(limited.topics.filter((t) => t.startsWith('ota/'))).eql([]);
    } finally {
      reader.close();
      limited.close();
      await viewer.close();
    }
  });

  it('pages a batch of 250 tasks 200 at a time, by cursor, forward and back', async function () {
    const ghosts = Array.from({ length: 250 }, (_, i) => `ghost-${String(i).padStart(3, '0')}`);
    // Listed devices that never reported: 250 tasks that stay QUEUED, no device needed.
    const created = await call<BatchView>('POST', `${main.api}/batches`, {
      body: {
        firmwareId: firmware.id,
        type: 'static',
        targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ghosts },
        strategy: { maximumPerMinute: 1 },
      },
    });
    should(created.status).equal(201);
    const id = created.body.id;
    await showSection(page, 'batches');
    if (await page.$('#ota-console-panel-batches [data-action=back]')) await page.click('[data-action=back]');
    await page.click(`[data-focus="batch:${id}"]`);
    await page.waitForSelector(`.ota-console-detail-title:text("Batch #${id}")`);
    const names = async (length: number) =>
      waitFor(
        `a page of ${length} rows`,
        async () => {
          const rows = await tableRows(page);
          return rows.length === length ? rows.map((r) => r.deviceName) : undefined;
        },
        10_000,
      );
    should(await names(200)).eql(ghosts.slice(0, 200));
    should(await page.isDisabled('[data-focus=prev]')).be.true();
    await page.click('[data-focus=next]');
    should(await names(50)).eql(ghosts.slice(200));
    should(await page.isDisabled('[data-focus=next]')).be.true();
    await page.click('[data-focus=prev]');
    should(await names(200)).eql(ghosts.slice(0, 200));
  });

  it('pages one state of a large batch: a page asks on past the short answers of a bounded read until it is full', async function () {
    const created = await call<BatchView>('POST', `${main.api}/batches`, {
      body: {
        firmwareId: firmware.id,
        type: 'static',
        targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ['lone-ghost'] },
        strategy: { maximumPerMinute: 1 },
      },
    });
    should(created.status).equal(201);
    const id = created.body.id;
    // 120,000 finished tasks written into the fleet's file, one in 290 failed: a request for the
    // failed ones reads 50,000 tasks and answers 173 of them, short of a page of 200.
    const bulk = (i: number) => `bulk-${String(i).padStart(6, '0')}`;
    const db = new Database(join(main.red!.userDir, 'ota', main.fleetId, 'fleet.sqlite'));
    try {
      const insert = db.prepare(
        `INSERT INTO tasks (batch_id, product_key, device_name, module, src_version, state, reason, step, attempts,
           retries, wave, due_at, started_at, created_at, updated_at) VALUES (?, 'pk1', ?, 'default', '1.0.0', ?, NULL, NULL, 1, 0, 0, NULL, NULL, 1, 1)`,
      );
      db.transaction(() => {
        for (let i = 0; i < 120_000; i++) insert.run(id, bulk(i), i % 290 === 0 ? 'FAILED' : 'SUCCEEDED');
      })();
    } finally {
      db.close();
    }
    const failed = Array.from({ length: 414 }, (_, k) => bulk(k * 290));
    await showSection(page, 'batches');
    if (await page.$('#ota-console-panel-batches [data-action=back]')) await page.click('[data-action=back]');
    await page.click(`[data-focus="batch:${id}"]`);
    await page.waitForSelector(`.ota-console-detail-title:text("Batch #${id}")`);
    await page.click('[data-focus="chip:FAILED"]');
    const names = async (first: string) =>
      waitFor(
        `a page from ${first}`,
        async () => {
          const rows = await tableRows(page);
          return rows[0]?.deviceName === first && rows.every((r) => r.state === 'FAILED')
            ? rows.map((r) => r.deviceName)
            : undefined;
        },
        20_000,
      );
    should(await names(failed[0])).eql(failed.slice(0, 200));
    await page.click('[data-focus=next]');
    should(await names(failed[200])).eql(failed.slice(200, 400));
    await page.click('[data-focus=next]');
    should(await names(failed[400])).eql(failed.slice(400));
    should(await page.isDisabled('[data-focus=next]')).be.true();
  });
});
