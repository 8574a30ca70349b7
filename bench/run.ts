/**
 * `npm run bench [-- --quick] [-- --only=ingest,serve]`: runs the benchmarks, each in its own
 * process (so one runtime's heap, Node-RED instance or open sockets never weigh on another), and
 * prints ONE table: name | metric | ours | baseline | ratio | target | verdict. Every baseline is
 * measured in the same process or command as ours, in the same run. The machine and the raw
 * numbers go to build/bench/results/latest-{quick,full}.json.
 *
 * Exits 1 only when a benchmark could not run; a missed target is a verdict, not a failure.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { BenchResult, RESULT_MARK, Row, table } from './lib/report';

/** In the order they run; `flags` are Node flags for that benchmark's process. */
const BENCHMARKS: { name: string; file: string; flags?: string[] }[] = [
  { name: 'ingest', file: 'ingest.js' },
  { name: 'batch-create', file: 'batch-create.js' },
  { name: 'fanout', file: 'fanout.js' },
  { name: 'digest', file: 'digest.js' },
  { name: 'serve', file: 'serve.js' },
  { name: 'e2e', file: 'e2e.js' },
  { name: 'versions', file: 'versions.js' },
  { name: 'stalls', file: 'stalls.js' },
  { name: 'pg-store', file: 'pg-store.js' },
  { name: 'pg-fleet', file: 'pg-fleet.js' },
];

function tryText(fn: () => string): string {
  try {
    return fn().trim();
  } catch {
    return 'unknown';
  }
}

export function machine(): Record<string, string | number> {
  const cpuinfo = tryText(() => readFileSync('/proc/cpuinfo', 'utf8'));
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const Database = require('better-sqlite3') as new (f: string) => {
    prepare(s: string): { pluck(): { get(): string } };
    close(): void;
  };
  const db = new Database(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version()').pluck().get();
  db.close();
  return {
    nproc: tryText(() => execFileSync('nproc', { encoding: 'utf8' })),
    cpu: model,
    ramGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    nodeRed: (require('node-red/package.json') as { version: string }).version,
    sqlite,
    // `mosquitto -h` prints its version first and exits with 3.
    mosquitto: tryText(() => spawnSync('/usr/sbin/mosquitto', ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0]),
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

function runOne(file: string, flags: string[], args: string[]): Promise<BenchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, join(__dirname, file), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code !== 0 || !line) return reject(new Error(`${file} exited with code ${code}`));
      resolve(JSON.parse(line.slice(RESULT_MARK.length)) as BenchResult);
    });
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const only = args
    .find((a) => a.startsWith('--only='))
    ?.slice(7)
    .split(',');
  const chosen = BENCHMARKS.filter((b) => !only || only.includes(b.name));
  if (chosen.length === 0) {
    process.stderr.write(`--only names none of: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  const host = machine();
  process.stderr.write(
    `benchmarks${quick ? ' (--quick)' : ''} on ${host.nproc} × ${host.cpu}, ${host.ramGiB} GiB, Node ${host.node}, Node-RED ${host.nodeRed}; load ${host.loadAverage}\n`,
  );
  const started = performance.now();
  const rows: Row[] = [];
  const notes: string[] = [];
  const results: (BenchResult & { seconds: number })[] = [];
  let failed = false;
  for (const b of chosen) {
    const t = performance.now();
    process.stderr.write(`\n== ${b.name}\n`);
    try {
      const r = await runOne(b.file, b.flags ?? [], quick ? ['--quick'] : []);
      const seconds = (performance.now() - t) / 1000;
      results.push({ ...r, seconds });
      rows.push(...r.rows);
      notes.push(...(r.notes ?? []));
      process.stderr.write(`== ${b.name}: ${seconds.toFixed(1)} s\n`);
    } catch (err) {
      failed = true;
      rows.push({
        name: b.name,
        metric: 'could not run',
        ours: (err as Error).message,
        baseline: '–',
        ratio: '–',
        target: '–',
        verdict: 'ERROR',
      });
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const after = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const lines = [
    '',
    `${host.nproc} × ${host.cpu}, ${host.ramGiB} GiB RAM, Node ${host.node}, Node-RED ${host.nodeRed}, SQLite ${host.sqlite}, ${host.mosquitto}`,
    `load average before ${host.loadAverage}, after ${after}; ${quick ? '--quick, ' : ''}${seconds.toFixed(0)} s (${results.map((r) => `${r.name} ${r.seconds.toFixed(0)} s`).join(', ')})`,
    '',
    table(rows),
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(
    { at: new Date().toISOString(), quick, machine: { ...host, loadAverageAfter: after }, seconds, rows, results },
    null,
    2,
  );
  writeFileSync(join(dir, `latest-${quick ? 'quick' : 'full'}.json`), json);
  writeFileSync(join(dir, 'latest.json'), json);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
      process.exit(1);
    },
  );
}
