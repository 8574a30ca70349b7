/**
 * Benchmark 5, firmware serving: 200 concurrent keep-alive clients each download a 10 MB package
 * in 4 Range requests of 2.5 MB. Ours: src/fleet/serve-package.ts (signed URL checked, Range,
 * ETag) on a plain node:http server, and the same route as ota-fleet mounts it on Node-RED's
 * httpNode (express). Baseline: a plain node:http server doing the same Range handling with
 * fs.createReadStream on the same file. The servers run together in one child process (one core
 * for them, one for the clients, which run here); the three alternate within each repetition.
 * With --quick the package is 1 MB (4 ranges of 250 kB), so a run moves 200 MB instead of 2 GB.
 * With --what-if (not in the table by default) two more servers isolate the read chunk size:
 * servePackage reading 64 KiB chunks (PackageFiles reads 256 KiB), and the baseline reading 256 KiB.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, FirmwareHost, PackageFiles, parseRange, servePackage } from '../src/fleet';
import type { Firmware } from '../src/fleet';
import { stopChild } from '../test/helpers/child';
import { childFlags, cpuSeconds } from './lib/net';
import { addFirmware2 } from './lib/fleet';
import { nodeId, startRed } from './lib/red';
import { BenchOptions, BenchResult, info, log, main, pairedRow, RESULT_MARK, Row, sig } from './lib/report';
import { median, now } from './lib/stats';

const NAME = 'serve';
const CLIENTS = 200;
const RANGES = 4;

interface Urls {
  baseline: string;
  ours: string;
  nodeRed: string;
  ours64k?: string;
  baseline256k?: string;
}

type Which = keyof Urls;

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** The baseline: plain node:http, the same single-range parsing, fs.createReadStream. */
function baselineServer(file: string, highWaterMark?: number): http.Server {
  const size = statSync(file).size;
  return http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const range = parseRange(req.headers.range, size);
    if (range === null) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      return void res.end();
    }
    const headers = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
    if (range)
      res.writeHead(206, {
        ...headers,
        'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
        'Content-Length': range.end - range.start + 1,
      });
    else res.writeHead(200, { ...headers, 'Content-Length': size });
    createReadStream(file, { ...range, highWaterMark }).pipe(res);
  });
}

const pathOfUrl = (url: string) => url.replace('http://bench.invalid', '');

/** In the child: the three servers, their URLs on stdout, until told to stop. */
async function servers(size: number, whatIf: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-serve-'));
  const files = new PackageFiles(join(dir, 'files'));
  const bytes = randomBytes(size);
  const digest = await files.save(bytes, size);
  const secret = randomBytes(32).toString('hex');
  const firmware: Firmware = {
    id: 'fw0123456789',
    productKey: 'pk1',
    module: 'default',
    version: '2.0.0',
    size: digest.size,
    md5: digest.md5,
    sha256: digest.sha256,
    signMethod: 'SHA256',
    hosted: true,
    isDiff: false,
    streamId: 1001,
    verification: 'verified',
    sequence: 1,
    createdAt: Date.now(),
  };
  const host = new FirmwareHost(files, {
    fleetId: 'bench',
    publicUrl: 'http://bench.invalid',
    secret,
    expiryHours: 24,
  });
  const served = { secret, files, firmware: (id: string) => (id === firmware.id ? firmware : undefined) };
  const oursServer = (fleet: typeof served) =>
    http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const [, , , name, id] = url.pathname.split('/');
      void servePackage(
        fleet,
        {
          fleet: name,
          firmware: id,
          expires: url.searchParams.get('e') ?? undefined,
          signature: url.searchParams.get('s') ?? undefined,
        },
        req,
        res,
        Date.now(),
      );
    });
  const ours = oursServer(served);
  const base = baselineServer(files.pathOf(digest.sha256));
  const oursPort = await listen(ours);
  const basePort = await listen(base);
  const extra: http.Server[] = [];
  const extraUrls: Partial<Urls> = {};
  if (whatIf) {
    // The same files, read in 64 KiB chunks (the fs default) instead of PackageFiles' 256 KiB.
    const files64k = Object.assign(Object.create(files) as PackageFiles, {
      stream: (sha256: string, range?: { start: number; end: number }) =>
        createReadStream(files.pathOf(sha256), { ...range, highWaterMark: 64 * 1024 }),
    });
    const ours64k = oursServer({ ...served, files: files64k });
    const base256k = baselineServer(files.pathOf(digest.sha256), 256 * 1024);
    extra.push(ours64k, base256k);
    extraUrls.ours64k = `http://127.0.0.1:${await listen(ours64k)}${pathOfUrl(host.signedUrl(firmware, Date.now()))}`;
    extraUrls.baseline256k = `http://127.0.0.1:${await listen(base256k)}/package.bin`;
  }

  // The same route in Node-RED, as the ota-fleet node mounts it on httpNode.
  const fleetId = nodeId('f');
  const red = await startRed(
    [{ id: fleetId, type: 'ota-fleet', name: 'bench', requireVerification: false, publicUrl: 'http://bench.invalid' }],
    [fleetId],
  );
  const handle = red.node<{ handle?: { fleet: Fleet; files: PackageFiles; host: FirmwareHost } }>(fleetId).handle;
  if (!handle) throw new Error('the ota-fleet node did not start its fleet');
  const saved = await handle.files.save(bytes, size);
  const fw = addFirmware2(handle.fleet, 'pk1', saved);
  const urls: Urls = {
    baseline: `http://127.0.0.1:${basePort}/package.bin`,
    ours: `http://127.0.0.1:${oursPort}${pathOfUrl(host.signedUrl(firmware, Date.now()))}`,
    nodeRed: `${red.baseUrl}${pathOfUrl(handle.host.signedUrl(fw, Date.now()))}`,
    ...extraUrls,
  };
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(urls)}\n`);
  const stop = async () => {
    for (const server of [ours, base, ...extra]) {
      server.closeAllConnections();
      server.close();
    }
    await red.stop();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
}

function startServers(size: number, whatIf: boolean): Promise<{ child: ChildProcess; urls: Urls }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...childFlags(), __filename, '--servers', String(size), ...(whatIf ? ['--what-if'] : [])],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (line) resolve({ child, urls: JSON.parse(line.slice(RESULT_MARK.length)) as Urls });
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the server process exited with ${code}`)));
  });
}

/** One range request; resolves with the bytes received. */
function fetchRangeOnce(agent: http.Agent, url: string, start: number, end: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { Range: `bytes=${start}-${end}` } }, (res) => {
      if (res.statusCode !== 206) {
        res.resume();
        return reject(new Error(`GET ${url} range ${start}-${end}: HTTP ${res.statusCode}`));
      }
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () =>
        bytes === end - start + 1 ? resolve(bytes) : reject(new Error(`short range: ${bytes} bytes`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

let resets = 0;

/**
 * A range, asked again when a reused keep-alive socket turns out closed (ECONNRESET: the client
 * sent as the server timed the idle socket out), as a device resumes.
 */
async function fetchRange(agent: http.Agent, url: string, start: number, end: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchRangeOnce(agent, url, start, end);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET' || attempt === 3) throw err;
      resets++;
    }
  }
}

/** CLIENTS clients in parallel, each downloading the whole file in RANGES ranges, one after the other. */
async function download(
  url: string,
  size: number,
  clients = CLIENTS,
): Promise<{ ms: number; bytes: number; cpuMs: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const part = Math.ceil(size / RANGES);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const totals = await Promise.all(
    Array.from({ length: clients }, async () => {
      let got = 0;
      for (let r = 0; r < RANGES; r++)
        got += await fetchRange(agent, url, r * part, Math.min(size, (r + 1) * part) - 1);
      return got;
    }),
  );
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  return { ms, bytes: totals.reduce((a, b) => a + b, 0), cpuMs: (cpu.user + cpu.system) / 1000 };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const reps = options.quick ? 3 : 5;
  const size = options.quick ? 1_000_000 : 10_000_000;
  const { child, urls } = await startServers(size, options.args.includes('--what-if'));
  try {
    for (const url of Object.values(urls)) await download(url, size, 20); // warm-up: JIT, page cache

    const order = Object.keys(urls) as Which[];
    const mbps = Object.fromEntries(order.map((k) => [k, [] as number[]])) as Record<Which, number[]>;
    const clientCpu = Object.fromEntries(order.map((k) => [k, [] as number[]])) as Record<Which, number[]>;
    // The server process's CPU seconds per GB served: what serving costs, whatever the machine's load.
    const serverCpu = Object.fromEntries(order.map((k) => [k, [] as number[]])) as Record<Which, number[]>;
    for (let r = 0; r < reps; r++) {
      // The order turns each repetition, so none of the servers always runs first or last.
      const turn = r % order.length;
      for (const which of [...order.slice(turn), ...order.slice(0, turn)]) {
        const cpu0 = cpuSeconds(child.pid as number);
        const d = await download(urls[which] as string, size);
        serverCpu[which].push((cpuSeconds(child.pid as number) - cpu0) / (d.bytes / 1e9));
        if (d.bytes !== CLIENTS * size) throw new Error(`${which}: ${d.bytes} bytes received`);
        mbps[which].push(d.bytes / 1e6 / (d.ms / 1000));
        clientCpu[which].push(d.cpuMs / d.ms);
      }
      log(
        NAME,
        `rep ${r + 1}: ${order.map((k) => `${k} ${sig(mbps[k][r])} MB/s (server ${sig(serverCpu[k][r])} CPU s/GB)`).join(', ')}`,
      );
    }
    // The ratio is the median of each repetition's own ratio (paired: the same minute of machine load).
    const paired = (which: Which) => median(mbps[which].map((v, i) => v / mbps.baseline[i]));
    const rows: Row[] = [
      pairedRow(
        NAME,
        `${CLIENTS} clients × ${size / 1e6} MB in ${RANGES} ranges`,
        median(mbps.ours),
        median(mbps.baseline),
        paired('ours'),
        'MB/s',
        0.9,
      ),
      pairedRow(
        NAME,
        'the same through Node-RED httpNode',
        median(mbps.nodeRed),
        median(mbps.baseline),
        paired('nodeRed'),
        'MB/s',
        0.9,
      ),
    ];
    const cpuPerGb = (which: Which) => `${sig(median(serverCpu[which]))} s/GB`;
    rows.push(
      info(
        NAME,
        'server CPU per GB served: ours / through Node-RED',
        `${cpuPerGb('ours')} / ${cpuPerGb('nodeRed')}`,
        cpuPerGb('baseline'),
      ),
    );
    if (urls.ours64k)
      rows.push(
        info(
          NAME,
          'what-if: servePackage reading 64 KiB chunks',
          `${sig(median(mbps.ours64k))} MB/s, ${cpuPerGb('ours64k')}`,
          `${sig(median(mbps.baseline))} MB/s`,
          `${paired('ours64k').toFixed(2)}×`,
        ),
      );
    if (urls.baseline256k)
      rows.push(
        info(
          NAME,
          'what-if: baseline reading 256 KiB chunks',
          `${sig(median(mbps.baseline256k))} MB/s, ${cpuPerGb('baseline256k')}`,
          `${sig(median(mbps.baseline))} MB/s`,
          `${paired('baseline256k').toFixed(2)}×`,
        ),
      );
    if (resets) rows.push(info(NAME, 'ranges asked again after ECONNRESET', String(resets)));
    const busy = Math.max(...clientCpu.baseline);
    if (busy > 0.9) rows.push(info(NAME, 'client process CPU during the baseline', `${Math.round(busy * 100)} %`));
    return {
      name: NAME,
      rows,
      details: {
        reps,
        clients: CLIENTS,
        ranges: RANGES,
        size,
        mbps,
        clientCpu,
        serverCpuSecondsPerGb: serverCpu,
        resets,
      },
    };
  } finally {
    await stopChild(child);
  }
}

if (require.main === module) {
  if (process.argv[2] === '--servers') void servers(Number(process.argv[3]), process.argv.includes('--what-if'));
  else main(run);
}
