/**
 * Nothing left in English in the Chinese editor: a browser in zh-CN walks every section of the OTA
 * tab (the upload form, the verify form, the batch form with each target and its refusals, a
 * batch's detail, a device), the edit dialog and help of each node and the nodes' statuses, and
 * collects every visible text, title, label and placeholder. A Latin word there must be an
 * identifier or on the allow-list of zh-text.ts, and the punctuation must be Chinese. Runtime data
 * (reasons from devices, the API's own refusals) is not walked: the fixtures make none. A real
 * Node-RED child whose runtime speaks zh-CN too, a real broker, Debian's Chromium.
 */
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import should from 'should';
import { buildVersionReport } from '../../src/protocol';
import { startAedes, TestBroker } from '../helpers/broker';
import { freshId } from '../helpers/flow';
import { waitFor } from '../helpers/http';
import { NodeRedChild } from '../helpers/node-red-child';
import { platformFlow } from '../helpers/platform-flow';
import { englishWords, typographyFaults } from './zh-text';
import { needChromium, launchChromium, openConsole } from '../helpers/editor';

/** A node's help in the sidebar, without its title (the node's palette name, as the palette shows it). */
const HELP = '.red-ui-sidebar-help-stack .red-ui-help .red-ui-text-bidi-aware';

type Win = {
  RED: {
    sidebar: { show(id: string): void; help: { show(type: string): void } };
    editor: { edit(n: unknown): void; editConfig(name: string, type: string, id: string): void };
    nodes: { node(id: string): unknown };
  };
};

/**
 * Every text a user sees under the roots: visible text nodes, and the title, aria-label,
 * placeholder and aria-valuetext of visible elements (an option counts when its select is shown).
 * Code samples, Node-RED's type names of properties and the message properties a help lists are
 * identifiers, not words, and are left out.
 */
function shownTexts(roots: Element[]): string[] {
  const skipped = (el: Element) =>
    el.closest('code, pre, script, style, .property-type, .message-properties > dt') !== null;
  const shown = (el: Element) => (el.closest('select') ?? el).checkVisibility();
  const out: string[] = [];
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      const text = (n.textContent ?? '').trim();
      if (el && text && !skipped(el) && shown(el)) out.push(text);
    }
    for (const el of [root, ...Array.from(root.querySelectorAll('*'))]) {
      if (skipped(el) || !shown(el)) continue;
      for (const name of ['title', 'aria-label', 'placeholder', 'aria-valuetext']) {
        const value = el.getAttribute(name);
        if (value) out.push(value);
      }
    }
  }
  return out;
}

/** What is wrong with the texts shown under `selector`: English words and typography, each with its text. */
async function faultsShown(page: Page, selector: string): Promise<string[]> {
  const texts = await page.$$eval(selector, shownTexts);
  if (texts.length === 0) throw new Error(`nothing shown under ${selector}`);
  const faults = texts.flatMap((text) => [
    ...englishWords(text).map((word) => `"${word}" in "${text}"`),
    ...typographyFaults(text),
  ]);
  return [...new Set(faults)];
}

async function json<T>(method: string, url: string, body?: unknown, type = 'application/json'): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': type },
    body:
      body === undefined
        ? undefined
        : type === 'application/json'
          ? JSON.stringify(body)
          : new Uint8Array(body as Buffer),
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

describe('the Chinese editor, walked panel by panel, shows no English word', function () {
  this.timeout(180_000);
  let broker: TestBroker;
  let red: NodeRedChild | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const ids = { fleet: '', push: '', inform: '', progress: '', verify: '' };
  let verifyBatch = 0;

  before(async function () {
    needChromium(this);
    broker = await startAedes();
    const launched = launchChromium();
    const flow = platformFlow(
      { host: '127.0.0.1', port: broker.port },
      { name: '产线设备群', requireVerification: true },
    );
    const tab = (flow.flows[0] as { id: string }).id;
    const find = (type: string) => (flow.flows as Array<{ id: string; type: string }>).find((n) => n.type === type)!.id;
    ids.fleet = flow.fleetId;
    ids.push = flow.pushId;
    ids.inform = find('ota-inform');
    ids.progress = find('ota-progress');
    ids.verify = freshId();
    flow.flows.push({
      id: ids.verify,
      type: 'ota-verify',
      z: tab,
      role: 'platform',
      fleet: ids.fleet,
      wires: [[], []],
    });
    // The runtime words the statuses that carry numbers in its own language: Chinese here too.
    red = await NodeRedChild.start({
      flows: flow.flows,
      settings: { lang: 'zh-CN', logging: { console: { level: 'warn' } } },
    });
    const api = `${red.baseUrl}/ota/fleets/${ids.fleet}`;
    const device = await mqtt.connectAsync(broker.url, { clientId: 'pk-zh/dev-zh' });
    try {
      await waitFor(
        'the device in the inventory',
        async () => {
          await device.publishAsync('/ota/device/inform/pk-zh/dev-zh', buildVersionReport({ version: '1.0.0' }), {
            qos: 1,
          });
          return (await json<unknown[]>('GET', `${api}/devices`)).length === 1 ? true : undefined;
        },
        20_000,
      );
    } finally {
      await device.endAsync(true);
    }
    // Two unverified firmware: one on its way through a verify batch that waits for a confirm, one with the verify form.
    const upload = (version: string) =>
      json<{ id: string }>(
        'POST',
        `${api}/firmware?productKey=pk-zh&module=default&version=${version}&signMethod=Md5`,
        Buffer.from(`firmware ${version}`),
        'application/octet-stream',
      );
    const first = await upload('2.0.0');
    await upload('2.1.0');
    const batch = await json<{ id: number }>('POST', `${api}/batches`, {
      firmwareId: first.id,
      type: 'verify',
      targets: { selection: 'SPECIFIC', productKey: 'pk-zh', devices: ['dev-zh'] },
      strategy: { needConfirm: true, retryCount: 2, retryInterval: 5, timeoutInMinutes: 30, maximumPerMinute: 60 },
    });
    verifyBatch = batch.id;
    browser = await launched;
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (err) => console.log(`    page error: ${err.message}`));
    await openConsole(page, red.baseUrl);
  });

  after(async function () {
    await browser?.close();
    await red?.close();
    await broker?.close();
  });

  it('recognises an English word, and lets identifiers and allowed names pass', function () {
    should(englishWords('上传 Upload 固件')).eql(['Upload']);
    should(englishWords('升级中 3 · pending push 2')).eql(['pending', 'push']);
    should(englishWords('ProductKey、msg.productKey、SHA-256、T1、IN_PROGRESS、productKey、2.0.0')).eql([]);
    should(englishWords('（PUT …/devices/:pk/:dn/tags）')).eql([]);
  });

  it('recognises half-width punctuation and stray spaces in Chinese, and lets digits and Latin words keep theirs', function () {
    should(typographyFaults('pk-zh: 指定设备')).have.length(1);
    should(typographyFaults('未验证 （须先验证）')).have.length(1);
    should(typographyFaults('1.0.0 (1 台)')).have.length(1);
    should(typographyFaults('重试失败的任务， 判定超时')).have.length(1);
    should(typographyFaults('升级批次 已完成')).have.length(1);
    should(typographyFaults('失败重试 2 次，间隔 5 分钟（SHA-256 校验）：dev-1, dev-2')).eql([]);
  });

  it('the versions section', async function () {
    await page.click('#ota-console-tab-versions');
    await page.waitForSelector('#ota-console-panel-versions li[data-version="1.0.0"]');
    // The toolbar (live updates, reload) sits outside the tab's content, under the sidebar.
    should(await faultsShown(page, '#ota-console, .ota-console-toolbar')).eql([]);
  });

  it('the firmware section, its upload form and the verify form, with their refusals', async function () {
    await page.click('#ota-console-tab-firmware');
    await page.waitForSelector('#ota-console-panel-firmware li[data-version="2.1.0"] form');
    const found = await faultsShown(page, '#ota-console');
    await page.fill('#ota-console-upload [name=module]', '');
    await page.fill('#ota-console-upload [name=srcVersion]', 'a"b');
    await page.click('#ota-console-upload [data-action=upload]');
    await page.waitForSelector('#ota-console-upload [data-field=productKey] .ota-console-invalid:not(:empty)');
    found.push(...(await faultsShown(page, '#ota-console')));
    const verify = '#ota-console-panel-firmware li[data-version="2.1.0"] form';
    await page.click(`${verify} [data-action=verify]`);
    await page.waitForSelector(`${verify} .ota-console-invalid:not(:empty)`);
    found.push(...(await faultsShown(page, verify)));
    await page.fill(`${verify} [name=devices]`, 'a/b');
    await page.click(`${verify} [data-action=verify]`);
    found.push(...(await faultsShown(page, verify)));
    should([...new Set(found)]).eql([]);
  });

  it('the batch list and the batch form, with each target and type and every refusal', async function () {
    await page.click('#ota-console-tab-batches');
    await page.waitForSelector(`#ota-console-batch-list [data-batch-id="${verifyBatch}"]`);
    await page.click('[data-action=new-batch]');
    const form = '#ota-console-batch-form';
    const found = await faultsShown(page, '#ota-console');
    const submit = async () => {
      await page.click(`${form} [data-action=start-batch]`);
      await page.waitForSelector(`${form} .ota-console-invalid:not(:empty)`);
      found.push(...(await faultsShown(page, form)));
    };
    await submit(); // no firmware
    await page.selectOption(`${form} [name=firmwareId]`, { index: 1 });
    // Every strategy field wrong at once.
    await page.fill(`${form} [name=maximumPerMinute]`, '0');
    await page.fill(`${form} [name=retryCount]`, '11');
    await page.fill(`${form} [name=retryInterval]`, '-1');
    await page.fill(`${form} [name=timeoutInMinutes]`, '0');
    await page.fill(`${form} [name=minDevices]`, '2');
    await page.fill(`${form} [name=waves]`, '50, 10');
    await page.fill(`${form} [name=scheduleStart]`, '2030-01-02T10:00');
    await page.fill(`${form} [name=scheduleFinish]`, '2030-01-01T10:00');
    for (const selection of ['ALL', 'SPECIFIC', 'GRAY', 'GROUP']) {
      await page.check(`${form} input[name=selection][value=${selection}]`);
      if (selection === 'GRAY') await page.fill(`${form} [name=percent]`, '0');
      await submit();
    }
    await page.selectOption(`${form} [name=type]`, 'dynamic');
    await page.check(`${form} input[name=selection][value=GRAY]`);
    await submit();
    await page.fill(`${form} [name=scheduleFinish]`, '2001-01-01T10:00');
    await page.selectOption(`${form} [name=type]`, 'verify');
    await page.fill(`${form} [name=devices]`, Array.from({ length: 11 }, (_, i) => `dev-${i}`).join(', '));
    await submit();
    await page.click('[data-action=new-batch]'); // closes the form
    should([...new Set(found)]).eql([]);
  });

  it("a batch's detail, its filters, actions and the cancel question", async function () {
    await page.click(`#ota-console-batch-list [data-batch-id="${verifyBatch}"] .ota-console-card-open`);
    await page.waitForSelector('#ota-console-tasks tbody tr[data-device="dev-zh"]');
    const found = await faultsShown(page, '#ota-console');
    await page.click('[data-action=cancel]');
    await page.waitForSelector('[data-action=cancel-confirm]');
    found.push(...(await faultsShown(page, '#ota-console')));
    await page.click('[data-action=cancel-keep]');
    await page.click('.ota-console-chip[data-state=FAILED]');
    await page.waitForSelector('#ota-console-tasks[aria-label*="升级失败"] .ota-console-empty');
    found.push(...(await faultsShown(page, '#ota-console')));
    await page.click('.ota-console-chip[data-state=ALL]');
    await page.click('[data-action=task-confirm]');
    await page.waitForSelector('.red-ui-notification');
    found.push(...(await faultsShown(page, '.red-ui-notification')));
    await page.click('[data-action=back]');
    should([...new Set(found)]).eql([]);
  });

  it('the devices section: a version, a search, a device and its history', async function () {
    await page.click('#ota-console-tab-versions');
    await page.click('#ota-console-panel-versions li[data-version="1.0.0"] button');
    await page.waitForSelector('#ota-console-panel-devices [data-device="dev-zh"]');
    const found = await faultsShown(page, '#ota-console');
    await page.click('#ota-console-panel-devices [data-device="dev-zh"]');
    await page.waitForSelector('#ota-console-history tbody tr');
    found.push(...(await faultsShown(page, '#ota-console')));
    await page.fill('#ota-console-panel-devices [name=search]', 'nobody');
    await page.click('[data-action=find-device]');
    await page.waitForSelector('#ota-console-panel-devices .ota-console-found .ota-console-empty');
    found.push(...(await faultsShown(page, '#ota-console')));
    should([...new Set(found)]).eql([]);
  });

  it("the nodes' statuses on the workspace, worded by the runtime in Chinese", async function () {
    const labels = '#red-ui-workspace-chart .red-ui-flow-node-status-label';
    await page.waitForFunction(
      (selector) => Array.from(document.querySelectorAll(selector)).filter((l) => l.textContent).length >= 3,
      labels,
      { timeout: 30_000 },
    );
    should(await faultsShown(page, labels)).eql([]);
  });

  for (const [type, roles] of [
    ['ota-push', [null]],
    ['ota-inform', ['platform', 'device']],
    ['ota-progress', ['platform', 'device']],
    ['ota-verify', ['platform', 'device']],
  ] as const) {
    it(`the ${type} dialog in each role, and its help`, async function () {
      const id = ids[type.slice(4) as keyof typeof ids];
      await page.evaluate((nodeId) => {
        const { RED } = window as unknown as Win;
        RED.editor.edit(RED.nodes.node(nodeId));
      }, id);
      await page.waitForSelector('#dialog-form #node-input-name');
      const found: string[] = [];
      for (const role of roles) {
        if (role) await page.selectOption('#node-input-role', role);
        found.push(...(await faultsShown(page, '#dialog-form')));
      }
      await page.click('#node-dialog-cancel');
      await page.evaluate((t) => (window as unknown as Win).RED.sidebar.help.show(t), type);
      await page.waitForSelector(`${HELP} h3`);
      found.push(...(await faultsShown(page, HELP)));
      should([...new Set(found)]).eql([]);
    });
  }

  it('the ota-fleet dialog, and its help', async function () {
    await page.evaluate(
      ([type, id]) => (window as unknown as Win).RED.editor.editConfig('', type, id),
      ['ota-fleet', ids.fleet],
    );
    await page.waitForSelector('#node-config-dialog-edit-form #node-config-input-publicUrl');
    const found = await faultsShown(page, '#node-config-dialog-edit-form');
    await page.click('#node-config-dialog-cancel');
    await page.evaluate(() => (window as unknown as Win).RED.sidebar.help.show('ota-fleet'));
    await page.waitForSelector(`${HELP} h3`);
    found.push(...(await faultsShown(page, HELP)));
    should([...new Set(found)]).eql([]);
  });
});
