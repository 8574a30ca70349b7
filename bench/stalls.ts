/**
 * Benchmark 8, event-loop stalls at 1,000,000 devices (100,000 with --quick): how long the
 * fleet's calls hold Node-RED's event loop, measured by the stall meter (lib/loop-gaps.ts, a
 * chain of 1 ms timers) around each of them. Target: no gap over 50 ms. Nothing is changed here;
 * this is the measuring stick for the work that will split the long calls.
 *
 * The inventory (n devices of one product at 1.0.0, a verified firmware 2.0.0) is written once
 * into a SQLite file and copied; then three child processes, each on its own copy:
 * - `--direct` (with --expose-gc): the Fleet's calls themselves, on a ManualClock (no scheduler
 *   pass runs between them): createBatch for all devices until the batch is complete (a large one
 *   is created a slice per turn after the call returns), versions(), devices() and tasks() a page
 *   at a time (the admin API's page, 1000), close(); the resident memory the open batch takes.
 * - `--reopen` (with --expose-gc): `new Fleet` on that file, now holding the open batch of all
 *   devices, in a fresh process: what a Node-RED start does; its resident memory.
 * - `--red`: Node-RED embedded (lib/red.ts) with an ota-fleet and an ota-push; the fleet's store
 *   file is put in place and the flow deployed through the admin API, then the same calls as
 *   real HTTP requests to the admin API, and a `reload` deployment (the flows stopped and started
 *   again: the store closed and opened again with the batch open). The stall meter runs in the
 *   Node-RED process, where the HTTP client's own share of the loop is small.
 *
 * Pages are read by cursor (`after`, the admin API's X-Next-After), as the OTA tab and the API's
 * clients page. Walking all 1000 pages by cursor would take a minute of requests, so 11 pages from
 * the first to the last are sampled by seeking: each sampled page's cursor (the last row of the
 * page before it) is found outside the meter, then the page is read by it under the meter, a
 * separate call with a loop turn between them. A keyset page costs the same at any depth; the
 * samples show it does.
 *
 * The console row is what the OTA tab asks when it is opened on that fleet and a batch's detail is
 * shown: the fleets, versions, firmware and batches (together, as its refresh asks them), the
 * batch and its first page of tasks, the next page by cursor, and a page of the device search.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, ManualClock, SqliteStore } from '../src/fleet';
import { addFirmware2, copyStore, recordDevices } from './lib/fleet';
import { GapReport, STALL_MS, underMeter } from './lib/loop-gaps';
import { childFlags } from './lib/net';
import { nodeId, startRed } from './lib/red';
import { absolute, BenchOptions, BenchResult, info, log, main, num, RESULT_MARK, Row, sig } from './lib/report';
import { collect, now, peakRss, rss, sleep } from './lib/stats';

const NAME = 'stalls';
const PRODUCT = 'pk1';
/** The admin API's page of devices and tasks (its default `limit`). */
const PAGE = 1000;
const SAMPLED_PAGES = 11;
const MEMORY_TARGET = 600;
const FLEET_ID = 'stallsfleet0001';
/** The control window: Node-RED with the batch open and nothing asked of it. */
const IDLE_MS = 2000;

interface Measure {
  what: string;
  gaps: GapReport;
  /** Per call, ms (the pages: one each). */
  callsMs?: number[];
}

interface Memory {
  rssBefore: number;
  rssAfterGc: number;
  /** The JS heap in use, before and after (the rest of the RSS is SQLite's cache and the allocator's). */
  heapBefore: number;
  heapAfterGc: number;
}

/** What a creation showed while it ran: progress samples (tasks stored) and its `batch` events. */
interface Progress {
  /** `creation.done` as seen while CREATING (events in --direct, polls in --red). */
  samples: number[];
  total: number | null;
  events?: number;
}

interface DirectResult extends Memory {
  measures: Measure[];
  tasks: number;
  peak: number;
  progress: Progress;
}

interface ReopenResult extends Memory {
  measures: Measure[];
  openTasks: number;
}

interface RedResult {
  measures: Measure[];
  tasks: number;
  progress: Progress;
}

const taskCount = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Writes the inventory: `n` devices at 1.0.0 and a verified firmware 2.0.0 (external URL). */
function prepare(file: string, n: number): string {
  const fleet = new Fleet({ store: new SqliteStore(file), clock: new ManualClock() });
  recordDevices(fleet, PRODUCT, n);
  const firmware = addFirmware2(fleet, PRODUCT);
  fleet.close();
  return firmware.id;
}

/** `count` page offsets spread evenly from the first page to the last of `total` rows. */
export function sampledOffsets(total: number, pageSize: number, count: number): number[] {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const picked = new Set<number>();
  for (let k = 0; k < count; k++) picked.add(Math.round((k * (pages - 1)) / Math.max(1, count - 1)));
  return [...picked].sort((a, b) => a - b).map((p) => p * pageSize);
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The pages at `offsets`, one call each with a loop turn between, under one meter: `cursorAt`
 * finds each page's cursor first (outside the meter), `page` reads the page from it.
 */
async function walk<C>(
  what: string,
  offsets: number[],
  cursorAt: (offset: number) => C | Promise<C>,
  page: (cursor: C) => unknown,
): Promise<Measure> {
  const cursors: C[] = [];
  for (const offset of offsets) cursors.push(await cursorAt(offset));
  const callsMs: number[] = [];
  const { gaps } = await underMeter(async () => {
    for (const [i, offset] of offsets.entries()) {
      const t = now();
      const rows = (await page(cursors[i])) as unknown[];
      callsMs.push(now() - t);
      if (!Array.isArray(rows) || rows.length === 0) throw new Error(`${what}: no rows at offset ${offset}`);
      await turn();
    }
  });
  return { what, gaps, callsMs };
}

/** "11 of 1,000 pages of 1000": which pages a walk sampled. */
const pagesText = (offsets: number[], total: number) =>
  `${offsets.length} of ${num(Math.ceil(total / PAGE))} pages of ${PAGE}`;

async function measured<T>(what: string, work: () => T | Promise<T>): Promise<{ measure: Measure; result: T }> {
  const { result, gaps } = await underMeter(work);
  return { measure: { what, gaps }, result };
}

const openFleet = (file: string) =>
  new Fleet({ store: new SqliteStore(file), clock: new ManualClock(), settings: { requireVerification: false } });

/** In a child: the Fleet's own calls on the inventory, and the memory the open batch takes. */
async function direct(file: string, firmwareId: string, n: number): Promise<DirectResult> {
  const fleet = openFleet(file);
  fleet.attachEgress('push');
  fleet.versions();
  collect();
  const rssBefore = rss();
  const heapBefore = process.memoryUsage().heapUsed;
  // Measured until the batch is complete: a large one is created a slice per turn after the call.
  const progress: Progress = { samples: [], total: null, events: 0 };
  fleet.on('batch', (b) => {
    if (b.from !== 'CREATING' || b.to !== 'CREATING' || !b.creation) return;
    progress.events = (progress.events ?? 0) + 1;
    progress.samples.push(b.creation.done);
    progress.total = b.creation.total;
  });
  const create = await measured(`Fleet.createBatch until complete, ${num(n)} devices`, async () => {
    const started = fleet.createBatch({ firmwareId, targets: { selection: 'ALL', productKey: PRODUCT } });
    return fleet.whenCreated(started.id);
  });
  const peak = peakRss();
  collect();
  const rssAfterGc = rss();
  const heapAfterGc = process.memoryUsage().heapUsed;
  const batchId = create.result.id;
  const offsets = sampledOffsets(n, PAGE, SAMPLED_PAGES);
  const measures = [
    create.measure,
    (await measured('Fleet.versions()', () => fleet.versions())).measure,
    await walk(
      `Fleet.devices by cursor, ${pagesText(offsets, n)}`,
      offsets,
      (offset) => (offset === 0 ? undefined : fleet.devices({ productKey: PRODUCT, limit: 1, offset: offset - 1 })[0]),
      (after) => fleet.devices({ productKey: PRODUCT, limit: PAGE, after }),
    ),
    await walk(
      `Fleet.tasks by cursor, ${pagesText(offsets, n)}`,
      offsets,
      (offset) => (offset === 0 ? undefined : fleet.tasks(batchId, { limit: 1, offset: offset - 1 })[0].id),
      (after) => fleet.tasks(batchId, { limit: PAGE, after }),
    ),
    (await measured('Fleet.close() with the batch open', () => fleet.close())).measure,
  ];
  const tasks = taskCount(create.result.counts);
  return { measures, tasks, rssBefore, rssAfterGc, heapBefore, heapAfterGc, peak, progress };
}

/** In a fresh child: the store opened again with the open batch, as a Node-RED start does. */
async function reopen(file: string, n: number): Promise<ReopenResult> {
  collect();
  const rssBefore = rss();
  const heapBefore = process.memoryUsage().heapUsed;
  const open = await measured(`new Fleet on the store, batch of ${num(n)} open`, () => {
    const fleet = openFleet(file);
    fleet.attachEgress('push');
    return fleet;
  });
  collect();
  const rssAfterGc = rss();
  const heapAfterGc = process.memoryUsage().heapUsed;
  const openTasks = open.result.totals().queued;
  open.result.close();
  return { measures: [open.measure], rssBefore, rssAfterGc, heapBefore, heapAfterGc, openTasks };
}

/** An admin API request with a JSON body and extra headers; the parsed answer, or an error on 4xx/5xx. */
function call<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const all: Record<string, string | number> = { ...headers };
    if (data) Object.assign(all, { 'Content-Type': 'application/json', 'Content-Length': data.length });
    const req = http.request(url, { method, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400)
          return reject(new Error(`${method} ${url}: HTTP ${res.statusCode} ${text}`));
        try {
          // A v1 deployment answers 204, without a body.
          resolve((text ? JSON.parse(text) : undefined) as T);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const sep = (url: string) => (url.includes('?') ? '&' : '?');

/** The X-Next-After of a GET (the cursor of the page after it). */
function nextOf(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        res.resume();
        const next = res.headers['x-next-after'];
        if (res.statusCode !== 200 || typeof next !== 'string')
          return reject(new Error(`GET ${url}: HTTP ${res.statusCode}, no X-Next-After`));
        res.on('end', () => resolve(next));
      })
      .on('error', reject);
  });
}

/** The console's page of tasks and its device search (resources/ota-console: PAGE_SIZE, FOUND_LIMIT). */
const CONSOLE_PAGE = 200;
const CONSOLE_FOUND = 100;

/** What the OTA tab asks on open and on a refresh, with a batch's detail shown and a device search made. */
async function consoleOpen(admin: string, api: string, batchId: number): Promise<void> {
  await call('GET', `${admin}/ota/fleets`);
  await Promise.all([call('GET', `${api}/versions`), call('GET', `${api}/firmware`), call('GET', `${api}/batches`)]);
  const tasks = `${api}/batches/${batchId}/tasks?limit=${CONSOLE_PAGE}`;
  await Promise.all([call('GET', `${api}/batches/${batchId}`), call('GET', tasks)]);
  await call('GET', `${tasks}&after=${encodeURIComponent(await nextOf(tasks))}`);
  await call('GET', `${api}/devices?productKey=${PRODUCT}&limit=${CONSOLE_FOUND}`);
}

/** The flow: one ota-fleet and the ota-push that is its egress (its outputs wired to nothing). */
function fleetFlow(tab: string): object[] {
  return [
    { id: tab, type: 'tab', label: 'stalls bench' },
    { id: FLEET_ID, type: 'ota-fleet', name: 'bench', requireVerification: true },
    { id: nodeId('push'), type: 'ota-push', z: tab, fleet: FLEET_ID, wires: [[], []] },
  ];
}

/** In a child: the same calls through Node-RED's admin API over HTTP. */
async function red(file: string, firmwareId: string, n: number): Promise<RedResult> {
  const tab = nodeId('tab');
  const instance = await startRed([{ id: tab, type: 'tab', label: 'stalls bench' }], []);
  try {
    const store = join(instance.userDir, 'ota', FLEET_ID);
    mkdirSync(store, { recursive: true });
    copyStore(file, join(store, 'fleet.sqlite'));
    const admin = `${instance.baseUrl}/red`;
    const api = `${admin}/ota/fleets/${FLEET_ID}`;
    const flows = fleetFlow(tab);
    // Node-RED answers a deployment before the flows have started: wait for a new fleet node.
    const deploy = async (type: string) => {
      const before = instance.RED.nodes.getNode(FLEET_ID);
      await call('POST', `${admin}/flows`, flows, { 'Node-RED-Deployment-Type': type, 'Node-RED-API-Version': 'v1' });
      const until = Date.now() + 600_000;
      for (;;) {
        const fleet = instance.RED.nodes.getNode(FLEET_ID) as { handle?: unknown } | null;
        if (fleet && fleet !== before && fleet.handle) return;
        if (Date.now() > until) throw new Error(`the ota-fleet did not start after a ${type} deployment`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const measures: Measure[] = [];
    measures.push((await measured('deploy: the fleet opens the store (no batch)', () => deploy('full'))).measure);
    // Until the batch is complete: the POST answers 202 at once, then GET …/batches/:id is polled.
    const progress: Progress = { samples: [], total: null };
    type View = { id: number; state: string; counts: Record<string, number>; creation?: Progress & { done: number } };
    const create = await measured(`POST …/batches until complete, ${num(n)} devices`, async () => {
      let view = await call<View>('POST', `${api}/batches`, {
        firmwareId,
        targets: { selection: 'ALL', productKey: PRODUCT },
        // Paced, as a real rollout: the scheduler's pushes stay a small part of the window.
        strategy: { maximumPerMinute: 1000 },
      });
      while (view.state === 'CREATING') {
        if (view.creation) {
          progress.samples.push(view.creation.done);
          progress.total = view.creation.total;
        }
        await sleep(50);
        view = await call<View>('GET', `${api}/batches/${view.id}`);
      }
      return view;
    });
    measures.push(create.measure);
    measures.push((await measured('GET …/versions', () => call('GET', `${api}/versions`))).measure);
    const offsets = sampledOffsets(n, PAGE, SAMPLED_PAGES);
    const devices = `${api}/devices?productKey=${PRODUCT}`;
    const tasks = `${api}/batches/${create.result.id}/tasks`;
    // A page's cursor: the X-Next-After of a one-row page at the row before it.
    const cursorAt = (url: string) => async (offset: number) =>
      offset === 0 ? '' : `&after=${encodeURIComponent(await nextOf(`${url}${sep(url)}limit=1&offset=${offset - 1}`))}`;
    measures.push(
      await walk(`GET …/devices by cursor, ${pagesText(offsets, n)}`, offsets, cursorAt(devices), (after) =>
        call('GET', `${devices}&limit=${PAGE}${after}`),
      ),
    );
    measures.push(
      await walk(`GET …/batches/:id/tasks by cursor, ${pagesText(offsets, n)}`, offsets, cursorAt(tasks), (after) =>
        call('GET', `${tasks}?limit=${PAGE}${after}`),
      ),
    );
    measures.push(
      (
        await measured('the OTA tab opened on the fleet, a batch shown', () =>
          consoleOpen(admin, api, create.result.id),
        )
      ).measure,
    );
    // The control: nothing asked, the batch open, the scheduler pushing at its pace.
    measures.push((await measured(`idle ${IDLE_MS / 1000} s, batch open`, () => sleep(IDLE_MS))).measure);
    measures.push(
      (await measured('reload deployment: the store closed and opened, batch open', () => deploy('reload'))).measure,
    );
    const batch = await call<{ counts: Record<string, number> }>('GET', `${api}/batches/${create.result.id}`);
    if (taskCount(batch.counts) !== taskCount(create.result.counts))
      throw new Error('after the reload the batch has not all its tasks');
    return { measures, tasks: taskCount(create.result.counts), progress };
  } finally {
    await instance.stop();
  }
}

function runChild<T>(mode: string, args: string[], gc: boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const flags = [...childFlags(), ...(gc ? ['--expose-gc'] : [])];
    const child = spawn(process.execPath, [...flags, __filename, mode, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code !== 0 || !line) return reject(new Error(`the ${mode} child exited with ${code}: ${out.slice(-2000)}`));
      resolve(JSON.parse(line.slice(RESULT_MARK.length)) as T);
    });
  });
}

const ms = (value: number) => `${sig(value)} ms`;

/** One row: longest gap (the verdict), p99, gaps over 50 ms, wall time. */
export function stallRow(m: Measure): Row {
  const g = m.gaps;
  const wall = g.wallMs >= 1000 ? `${sig(g.wallMs / 1000)} s` : ms(g.wallMs);
  return absolute(
    NAME,
    m.what,
    `${ms(g.longest)} longest; p99 ${ms(g.p99)}; ${g.stalls} > ${STALL_MS} ms; ${wall} wall`,
    `longest gap ≤ ${STALL_MS} ms`,
    g.longest <= STALL_MS,
  );
}

function memoryRow(what: string, before: number, after: number, devices: number): Row {
  const perDevice = (after - before) / devices;
  return absolute(NAME, what, `${num(perDevice)} B`, `< ${MEMORY_TARGET} B`, perDevice < MEMORY_TARGET);
}

/** "12 updates, 0 → 96,000 of 100,000 stored": what a creation showed while it ran. */
function progressText(p: Progress): string {
  const seen = p.samples.length;
  if (seen === 0) return 'none seen (created at once)';
  const what = p.events === undefined ? 'polls' : 'events';
  return `${seen} ${what} while CREATING, ${num(p.samples[0])} → ${num(p.samples[seen - 1])} of ${p.total === null ? '?' : num(p.total)} stored`;
}

function devicesOf(options: BenchOptions): number {
  const given = options.args.find((a) => a.startsWith('--devices='));
  if (given) return Number(given.slice('--devices='.length));
  return options.quick ? 100_000 : 1_000_000;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const n = devicesOf(options);
  if (!Number.isSafeInteger(n) || n < PAGE) throw new Error(`--devices must be an integer of at least ${PAGE}`);
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-stalls-'));
  try {
    const file = join(dir, 'fleet.sqlite');
    const redCopy = join(dir, 'red.sqlite');
    let t = now();
    const firmwareId = prepare(file, n);
    copyStore(file, redCopy);
    log(NAME, `inventory of ${num(n)} devices written in ${sig((now() - t) / 1000)} s`);
    t = now();
    const d = await runChild<DirectResult>('--direct', [file, firmwareId, String(n)], true);
    log(NAME, `direct calls done in ${sig((now() - t) / 1000)} s`);
    t = now();
    const r = await runChild<ReopenResult>('--reopen', [file, String(n)], true);
    log(NAME, `reopen done in ${sig((now() - t) / 1000)} s`);
    rmSync(file, { force: true });
    t = now();
    const h = await runChild<RedResult>('--red', [redCopy, firmwareId, String(n)], false);
    log(NAME, `Node-RED done in ${sig((now() - t) / 1000)} s`);
    if (d.tasks !== n || h.tasks !== n || r.openTasks !== n)
      throw new Error(`a batch of ${n} devices has ${d.tasks} / ${h.tasks} / ${r.openTasks} tasks`);
    const measures = [...d.measures, ...r.measures, ...h.measures];
    const rows: Row[] = [
      ...measures.map(stallRow),
      memoryRow(`RSS per device, batch of ${num(n)} open (after createBatch, GC)`, d.rssBefore, d.rssAfterGc, n),
      memoryRow('RSS per device, batch open (a fresh process opened the store, GC)', r.rssBefore, r.rssAfterGc, n),
      memoryRow('RSS per device at the peak of createBatch (until complete)', d.rssBefore, d.peak, n),
      info(NAME, 'createBatch progress (Fleet: batch events while CREATING)', progressText(d.progress)),
      info(NAME, 'POST …/batches progress (GET polled every 50 ms while CREATING)', progressText(h.progress)),
    ];
    return {
      name: NAME,
      rows,
      details: { devices: n, direct: d, reopen: r, red: h, quick: options.quick },
      notes: [
        `stalls: the longest gap of a 1 ms timer chain around each call (${SAMPLED_PAGES} pages sampled from the first to the last, each read by its cursor); the Fleet rows on a ManualClock, the HTTP rows through Node-RED's admin API with an ota-push attached; monitorEventLoopDelay's maxima are in the JSON.`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(mode: string, args: string[]): Promise<unknown> {
  const [file, a, b] = args;
  if (mode === '--direct') return direct(file, a, Number(b));
  if (mode === '--reopen') return reopen(file, Number(a));
  return red(file, a, Number(b));
}

if (require.main === module) {
  const [mode, ...rest] = process.argv.slice(2);
  if (['--direct', '--reopen', '--red'].includes(mode))
    child(mode, rest).then(
      (result) => process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`, () => process.exit(0)),
      (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
      },
    );
  else main(run);
}
