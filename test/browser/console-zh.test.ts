/**
 * The editor in Chinese: a browser whose language is zh-CN gets Node-RED's editor in zh-CN (the
 * editor follows navigator.language unless a language was picked in its settings), the OTA tab
 * its words from nodes/locales/zh-CN/ota-console.json, and the nodes' dialogs theirs from
 * nodes/locales/zh-CN/ota-<node>.json. A real Node-RED child with the platform flow, a real
 * broker, one device that reported its version, and Debian's Chromium through playwright-core.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import should from 'should';
import { buildVersionReport } from '../../src/protocol';
import { PACKAGE_ROOT } from '../../src/demo/node-red';
import { startAedes, TestBroker } from '../helpers/broker';
import { waitFor } from '../helpers/http';
import { NodeRedChild } from '../helpers/node-red-child';
import { platformFlow } from '../helpers/platform-flow';
import { needChromium, launchChromium, openConsole } from '../helpers/editor';

type Catalog = { [key: string]: string | Catalog };

function catalog(lang: string, name: string): Catalog {
  return JSON.parse(readFileSync(join(PACKAGE_ROOT, 'nodes', 'locales', lang, `${name}.json`), 'utf8')) as Catalog;
}

/** A catalog's text at a dotted key ("ota-push.label.fleet"). */
function word(messages: Catalog, key: string): string {
  const found = key
    .split('.')
    .reduce<string | Catalog | undefined>((at, k) => (at as Catalog | undefined)?.[k], messages);
  if (typeof found !== 'string') throw new Error(`no text at ${key}`);
  return found;
}

async function texts(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (els) => els.map((el) => (el.textContent ?? '').trim()));
}

async function json<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

describe('the editor in Chinese (zh-CN)', function () {
  this.timeout(120_000);
  const zh = catalog('zh-CN', 'ota-console');
  let broker: TestBroker;
  let red: NodeRedChild | undefined;
  let pushId = '';
  let browser: Browser | undefined;
  let page: Page;
  let batchId = 0;

  before(async function () {
    needChromium(this);
    broker = await startAedes();
    const launched = launchChromium();
    const flow = platformFlow({ host: '127.0.0.1', port: broker.port });
    pushId = flow.pushId;
    red = await NodeRedChild.start({ flows: flow.flows, settings: { logging: { console: { level: 'warn' } } } });
    const api = `${red.baseUrl}/ota/fleets/${flow.fleetId}`;
    // One device reports its version; a batch waits for its confirm, so the tab has states to name.
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
    const batch = await json<{ id: number }>('POST', `${api}/batches`, {
      firmware: { version: '2.0.0', url: 'http://firmware.invalid/pk-zh-2.0.0.bin', size: 1000, md5: 'c'.repeat(32) },
      type: 'static',
      targets: { selection: 'SPECIFIC', productKey: 'pk-zh', devices: ['dev-zh'] },
      strategy: { needConfirm: true },
    });
    batchId = batch.id;
    browser = await launched;
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (err) => console.log(`    page error: ${err.message}`));
    await openConsole(page, red.baseUrl);
  });

  after(async function () {
    await browser?.close();
    await red?.close();
    await broker?.close();
  });

  it('the editor runs in zh-CN because the browser asks for it', async function () {
    should(await page.evaluate(() => navigator.language)).equal('zh-CN');
    should(
      await page.evaluate(() => (window as unknown as { RED: { i18n: { lang(): string } } }).RED.i18n.lang()),
    ).equal('zh-CN');
  });

  it('the OTA tab names its sections, its fleet picker and its menu item in Chinese', async function () {
    should(await texts(page, '#ota-console .ota-console-nav [role=tab]')).eql(['版本分布', '固件', '升级批次', '设备']);
    should(await page.textContent('label[for=ota-console-fleet]')).equal('设备群');
    should(await page.textContent('#menu-item-view-menu-ota-console')).containEql('OTA 升级');
    await page.waitForSelector('#ota-console-panel-versions li[data-version="1.0.0"]');
    should(await page.textContent('#ota-console-panel-versions .ota-console-title')).equal('版本分布');
    should(await page.textContent('#ota-console-panel-versions h4 .ota-console-muted')).equal(' 1 台设备');
  });

  it('a batch shows its states, filters and actions in Chinese', async function () {
    await page.click('#ota-console-tab-batches');
    should(await page.textContent('[data-action=new-batch]')).equal('新建批次…');
    const card = `#ota-console-batch-list [data-batch-id="${batchId}"]`;
    await page.waitForSelector(card);
    const state = (await page.getAttribute(`${card} [data-batch-state]`, 'data-batch-state')) as string;
    should(await page.textContent(`${card} [data-batch-state]`)).equal(word(zh, `batchState.${state}`));
    should(await page.textContent(`${card} strong`)).equal(`#${batchId} 静态升级`);

    await page.click(`${card} .ota-console-card-open`);
    await page.waitForSelector('#ota-console-tasks tbody tr[data-device="dev-zh"][data-state=CONFIRM]');
    should(await page.textContent('.ota-console-detail-title')).equal(`批次 #${batchId}`);
    // Every state's filter is named as an IoT console names it; the device's row says it waits for a confirm.
    const chips = await page.$$eval('.ota-console-chip', (els) =>
      els.map((el) => (el.firstChild?.textContent ?? '').trim()),
    );
    should(chips).eql(['全部', '待确认', '待推送', '已推送', '升级中', '升级成功', '升级失败', '已取消']);
    should(await page.textContent('#ota-console-tasks tr[data-device="dev-zh"] .ota-console-badge')).equal('待确认');
    should(await texts(page, '#ota-console-tasks thead th')).eql([
      '设备',
      '状态',
      '进度',
      '原因',
      '推送次数',
      '最后更新',
      '操作',
    ]);
    should(await page.textContent('[data-action=task-confirm]')).equal('确认');
    should(await page.textContent('[data-action=confirm]')).equal('全部确认（1）');
    should(await page.textContent('[data-action=cancel]')).equal('取消批次…');
    should(await page.textContent('[data-action=export-csv]')).equal('导出 CSV');
    await page.click('[data-action=cancel]');
    should(await page.textContent('[data-action=cancel-confirm]')).equal('确定取消批次');
    await page.click('[data-action=cancel-keep]');

    // An action's notice is in Chinese too; the row leaves "待确认".
    await page.click('[data-action=task-confirm]');
    await page.waitForSelector('.red-ui-notification:has-text("dev-zh 已确认")');
    await page.waitForSelector('#ota-console-tasks tr[data-device="dev-zh"]:not([data-state=CONFIRM])');
  });

  it('the batch form and its refusals are in Chinese', async function () {
    await page.click('[data-action=back]');
    await page.click('[data-action=new-batch]');
    const form = '#ota-console-batch-form';
    should(await page.textContent(`${form} h4`)).equal('新建升级批次');
    should(await texts(page, `${form} [data-field=selection] label`)).eql([
      '全部设备',
      '定向升级（指定设备）',
      '灰度升级（按比例）',
      '分组升级（按标签）',
    ]);
    await page.click(`${form} [data-action=start-batch]`);
    should(await page.textContent(`${form} [data-field=firmwareId] .ota-console-invalid`)).equal(
      '请选择要安装的固件。',
    );
    await page.click(`${form} button:text("取消")`);
  });

  it('no word of the tab is missing from the Chinese catalog', async function () {
    // Every section is rendered (the hidden ones too): their text and their titles, labels and placeholders.
    const shown = await page.$eval('#ota-console', (el) => {
      const attributes = Array.from(el.querySelectorAll('[title], [aria-label], [placeholder]')).map((e) =>
        ['title', 'aria-label', 'placeholder'].map((a) => e.getAttribute(a) ?? '').join(' '),
      );
      return [el.textContent, ...attributes].join('\n');
    });
    should(shown).match(/固件/);
    // A key the catalog lacks shows as "@mqtt-ota/node-red-contrib-mqtt-ota/ota-console:<key>".
    should(shown).not.match(/ota-console:/);
    should(shown).not.match(/\b(Batches|Firmware|Devices|Version distribution|Upload|pending push|Loading)\b/);
  });

  it("a node's edit dialog shows its labels from the node's zh-CN catalog", async function () {
    const push = catalog('zh-CN', 'ota-push');
    const english = catalog('en-US', 'ota-push');
    for (const key of ['ota-push.label.fleet', 'ota-push.label.allowUnverified'])
      should(word(push, key)).not.equal(word(english, key));
    await page.evaluate((id) => {
      const { RED } = window as unknown as {
        RED: { editor: { edit(n: unknown): void }; nodes: { node(id: string): unknown } };
      };
      RED.editor.edit(RED.nodes.node(id));
    }, pushId);
    await page.waitForSelector('#node-input-allowUnverified', { state: 'attached' });
    should(await page.textContent('label[for=node-input-fleet] span')).equal(word(push, 'ota-push.label.fleet'));
    should(await page.textContent('label[for=node-input-allowUnverified] span')).equal(
      word(push, 'ota-push.label.allowUnverified'),
    );
    await page.click('#node-dialog-cancel');
  });
});
