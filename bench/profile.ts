/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and prints where the time went: the top functions by
 * self time and by total (inclusive) time, with their file and line. Used to find what a
 * benchmark that misses its target spends its time on:
 *
 *   node --cpu-prof --cpu-prof-dir=build/bench/prof build/bench/ingest.js --quick
 *   node build/bench/profile.js build/bench/prof/<file>.cpuprofile [--top=30] [--filter=text] [--under=text]
 * --filter shows only frames whose name contains the text; --under counts only the samples whose
 * stack holds such a frame (e.g. --under=runPushes: where a scheduler pass spends its time), with
 * percentages of those samples.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface FrameTime {
  frame: string;
  selfMs: number;
  totalMs: number;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${relative(process.cwd(), url.replace(/^file:\/\//, ''))}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

/** Self and inclusive time per frame (a frame counted once per sample even when recursive). */
export function frameTimes(profile: Profile, under?: string): { total: number; frames: FrameTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sum = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(id);
    if (!leaf) return;
    if (under) {
      let inside = false;
      for (let cur: number | undefined = id; cur !== undefined && !inside; cur = parent.get(cur)) {
        const node = byId.get(cur);
        inside = node !== undefined && frameName(node).includes(under);
      }
      if (!inside) return;
    }
    sum += dt;
    const name = frameName(leaf);
    self.set(name, (self.get(name) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node) break;
      const n = frameName(node);
      if (seen.has(n)) continue;
      seen.add(n);
      total.set(n, (total.get(n) ?? 0) + dt);
    }
  });
  const frames = [...total.keys()].map((frame) => ({
    frame,
    selfMs: self.get(frame) ?? 0,
    totalMs: total.get(frame) ?? 0,
  }));
  return { total: sum, frames };
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node build/bench/profile.js <file.cpuprofile> [--top=30] [--filter=text]\n');
    process.exit(2);
  }
  process.stdout.on('error', () => process.exit(0)); // a closed pipe (| head) is not an error
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 30);
  const filter = process.argv.find((a) => a.startsWith('--filter='))?.slice(9);
  const under = process.argv.find((a) => a.startsWith('--under='))?.slice(8);
  const { total, frames } = frameTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile, under);
  const shown = filter ? frames.filter((f) => f.frame.includes(filter)) : frames;
  const pct = (ms: number) => `${((ms * 100) / total).toFixed(1).padStart(5)}%`;
  process.stdout.write(
    `profile: ${(total / 1000).toFixed(2)} s sampled${under ? ` under "${under}"` : ''}\n\nby self time\n`,
  );
  for (const f of [...shown].sort((a, b) => b.selfMs - a.selfMs).slice(0, top))
    process.stdout.write(`${pct(f.selfMs)}  ${f.frame}\n`);
  process.stdout.write('\nby total time\n');
  for (const f of [...shown].sort((a, b) => b.totalMs - a.totalMs).slice(0, top))
    process.stdout.write(`${pct(f.totalMs)}  ${f.frame}\n`);
}
