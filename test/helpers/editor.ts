/**
 * The Node-RED editor in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download), and the OTA tab opened the one way every browser test needs it.
 */
import { existsSync } from 'node:fs';
import type { Context } from 'mocha';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from './http';
import { needPart } from './parts';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Skips the suite without Chromium, or fails it under CI=true. */
export function needChromium(ctx: Context): void {
  needPart(ctx, existsSync(CHROMIUM), `Chromium (${CHROMIUM})`);
}

/** A headless Chromium; start it early, it takes a second or two. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Opens the editor, waits until it has finished loading, and shows the OTA tab. */
export async function openConsole(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('#ota-console', { state: 'attached', timeout: 30_000 });
  await page.waitForFunction(
    () => {
      const $ = (window as unknown as { $: (s: string) => { is(q: string): boolean } }).$;
      return $('.red-ui-header-toolbar').is(':visible') && !$('#red-ui-loading-progress').is(':visible');
    },
    undefined,
    { timeout: 30_000 },
  );
  await showOtaTab(page);
}

/** The editor picks its first sidebar tab right after loading: shows ours until it stays shown. */
export async function showOtaTab(page: Page): Promise<void> {
  await waitFor(
    'the OTA tab',
    async () => {
      await page.evaluate(() =>
        (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED.sidebar.show('ota-console'),
      );
      await page.waitForTimeout(200);
      return (await page.isVisible('#ota-console-fleet')) ? true : undefined;
    },
    10_000,
  );
}
