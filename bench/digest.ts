/**
 * Benchmark 4, digests: MD5 and SHA-256 of a 1 GiB package (256 MiB with --quick) through the
 * verification path (src/protocol/digest.ts digestFile: one read of the file, both digests
 * updated from each chunk), against `md5sum` and `sha256sum` on the same file in the same run:
 * the two tools one after the other do the same work as our one pass. Each alone is reported too
 * (ours: the same read path with one hash). Every run is a separate process, timed from spawn to
 * exit, after a warm-up read, so the file is in the page cache for all of them alike. Ours is
 * timed inside its process, from the call to the digests (a platform does not start Node to
 * digest a package; Node's own start-up, ~50 ms, would be counted against the tools' ~1 ms), and
 * reports its peak RSS (getrusage maxRSS).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestFile } from '../src/protocol';
import { childFlags, timeCommand } from './lib/net';
import { absolute, BenchOptions, pairedRow, BenchResult, info, log, main, RESULT_MARK, Row, sig } from './lib/report';
import { MiB, median, now, peakRss } from './lib/stats';

const NAME = 'digest';

function writeFile(path: string, bytes: number): void {
  const block = randomBytes(16 * MiB);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; written += block.length) {
      block.writeUInt32LE(written >>> 0, 0); // no two blocks alike
      writeSync(fd, block, 0, Math.min(block.length, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

interface ChildResult {
  ms: number;
  peakRss: number;
  md5?: string;
  sha256?: string;
}

/** In a child: one of our digest runs. */
async function child(mode: string, file: string): Promise<ChildResult> {
  const t = now();
  if (mode === 'both') {
    const d = await digestFile(file);
    return { ms: now() - t, peakRss: peakRss(), md5: d.md5, sha256: d.sha256 };
  }
  // One hash over the same read path as digestFile (1 MiB chunks).
  const hash = createHash(mode);
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  const hex = hash.digest('hex');
  return { ms: now() - t, peakRss: peakRss(), [mode]: hex };
}

async function ours(mode: string, file: string): Promise<ChildResult & { wallMs: number }> {
  const r = await timeCommand(process.execPath, [...childFlags(), __filename, '--child', mode, file]);
  const line = r.stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (r.code !== 0 || !line) throw new Error(`digest child (${mode}) failed: ${r.stderr}`);
  return { ...(JSON.parse(line.slice(RESULT_MARK.length)) as ChildResult), wallMs: r.ms };
}

async function tool(name: string, file: string): Promise<{ ms: number; hex: string }> {
  const r = await timeCommand(name, [file]);
  if (r.code !== 0) throw new Error(`${name} failed: ${r.stderr}`);
  return { ms: r.ms, hex: r.stdout.split(' ')[0] };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const size = options.quick ? 256 * MiB : 1024 * MiB;
  const reps = options.quick ? 1 : 3;
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-digest-'));
  const file = join(dir, 'package.bin');
  try {
    const t = now();
    writeFile(file, size);
    log(NAME, `${size / MiB} MiB written in ${sig((now() - t) / 1000)} s`);
    spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] }); // warm the page cache
    const times = {
      both: [] as number[],
      md5: [] as number[],
      sha256: [] as number[],
      md5sum: [] as number[],
      sha256sum: [] as number[],
      tools: [] as number[],
      oursWall: [] as number[],
    };
    let peak = 0;
    for (let r = 0; r < reps; r++) {
      // The tools and ours alternate, so a burst of load elsewhere hits both.
      const m = await tool('md5sum', file);
      const s = await tool('sha256sum', file);
      const b = await ours('both', file);
      const om = await ours('md5', file);
      const os = await ours('sha256', file);
      if (b.md5 !== m.hex || b.sha256 !== s.hex || om.md5 !== m.hex || os.sha256 !== s.hex)
        throw new Error('our digests differ from md5sum / sha256sum');
      times.md5sum.push(m.ms);
      times.sha256sum.push(s.ms);
      times.tools.push(m.ms + s.ms);
      times.both.push(b.ms);
      times.md5.push(om.ms);
      times.sha256.push(os.ms);
      times.oursWall.push(b.wallMs);
      peak = Math.max(peak, b.peakRss, om.peakRss, os.peakRss);
      log(
        NAME,
        `rep ${r + 1}: md5sum ${sig(m.ms)} ms + sha256sum ${sig(s.ms)} ms; ours both ${sig(b.ms)} ms (process ${sig(b.wallMs)}), md5 ${sig(om.ms)}, sha256 ${sig(os.ms)} ms`,
      );
    }
    const mbps = (ms: number) => size / MiB / (ms / 1000);
    const rows: Row[] = [
      pairedRow(
        NAME,
        `md5+sha256 of ${size / MiB} MiB (vs md5sum then sha256sum)`,
        mbps(median(times.both)),
        mbps(median(times.tools)),
        median(times.tools.map((t, i) => t / times.both[i])),
        'MiB/s',
        0.9,
      ),
      info(
        NAME,
        'md5 alone (vs md5sum)',
        `${sig(mbps(median(times.md5)))} MiB/s`,
        `${sig(mbps(median(times.md5sum)))} MiB/s`,
        `${median(times.md5sum.map((t, i) => t / times.md5[i])).toFixed(2)}×`,
      ),
      info(
        NAME,
        'sha256 alone (vs sha256sum)',
        `${sig(mbps(median(times.sha256)))} MiB/s`,
        `${sig(mbps(median(times.sha256sum)))} MiB/s`,
        `${median(times.sha256sum.map((t, i) => t / times.sha256[i])).toFixed(2)}×`,
      ),
      absolute(NAME, 'peak RSS of our digest process', `${sig(peak / MiB)} MiB`, '< 100 MB', peak < 100e6),
    ];
    return { name: NAME, rows, details: { size, reps, times, peakRss: peak } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [flag, mode, file] = process.argv.slice(2);
  if (flag === '--child') {
    void child(mode, file).then((r) => process.stdout.write(`${RESULT_MARK}${JSON.stringify(r)}\n`));
  } else {
    main(run);
  }
}
