/**
 * What a benchmark hands back and how it is printed: one row per figure (ours, the baseline
 * measured in the same run, their ratio, the target and the verdict), and the glue that lets each
 * benchmark file run on its own as a child process of run.ts.
 */

export type Verdict = 'pass' | 'MISS' | 'info' | 'ERROR';

export interface Row {
  name: string;
  metric: string;
  ours: string;
  baseline: string;
  ratio: string;
  target: string;
  verdict: Verdict;
}

export interface BenchResult {
  name: string;
  rows: Row[];
  /** Raw numbers, written to build/bench/results/latest.json. */
  details: Record<string, unknown>;
  /** Notes printed under the table (e.g. which device simulator was used). */
  notes?: string[];
}

export interface BenchOptions {
  quick: boolean;
  args: string[];
}

export const RESULT_MARK = '@@BENCH ';

/** A number with thousands separators and `digits` decimals. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Three significant digits at most, thousands separated above 1000. */
export function sig(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return num(value, 0);
  if (abs >= 100) return num(value, 0);
  if (abs >= 10) return num(value, 1);
  if (abs >= 1) return num(value, 2);
  return num(value, 3);
}

export function ratioText(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '–';
}

/** A row comparing ours with a same-run baseline where more is better, against a minimum ratio. */
export function atLeast(
  name: string,
  metric: string,
  ours: number,
  baseline: number,
  unit: string,
  minRatio: number,
): Row {
  const ratio = ours / baseline;
  return {
    name,
    metric,
    ours: `${sig(ours)} ${unit}`,
    baseline: `${sig(baseline)} ${unit}`,
    ratio: ratioText(ratio),
    target: `≥ ${minRatio}×`,
    verdict: ratio >= minRatio ? 'pass' : 'MISS',
  };
}

/**
 * Like atLeast, for repeated runs: ours and the baseline as medians, the ratio as the median of
 * each repetition's own ratio (ours and its baseline measured in the same minute of machine load).
 */
export function pairedRow(
  name: string,
  metric: string,
  ours: number,
  baseline: number,
  ratio: number,
  unit: string,
  minRatio: number,
): Row {
  return {
    ...atLeast(name, metric, ours, baseline, unit, minRatio),
    ratio: ratioText(ratio),
    verdict: ratio >= minRatio ? 'pass' : 'MISS',
  };
}

/** A figure reported for information (no target of its own), with an optional baseline. */
export function info(name: string, metric: string, ours: string, baseline = '–', ratio = '–'): Row {
  return { name, metric, ours, baseline, ratio, target: '–', verdict: 'info' };
}

/** A row with an absolute target. */
export function absolute(
  name: string,
  metric: string,
  ours: string,
  target: string,
  ok: boolean,
  baseline = '–',
  ratio = '–',
): Row {
  return { name, metric, ours, baseline, ratio, target, verdict: ok ? 'pass' : 'MISS' };
}

const COLUMNS: (keyof Row)[] = ['name', 'metric', 'ours', 'baseline', 'ratio', 'target', 'verdict'];

/** The one table: name | metric | ours | baseline | ratio | target | verdict. */
export function table(rows: Row[]): string {
  const widths = COLUMNS.map((c) => Math.max(c.length, ...rows.map((r) => [...r[c]].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c + ' '.repeat(widths[i] - [...c].length)).join(' | ')} |`;
  return [
    line(COLUMNS),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => line(COLUMNS.map((c) => r[c]))),
  ].join('\n');
}

/** Progress on stderr, so stdout carries only the result. */
export function log(name: string, text: string): void {
  process.stderr.write(`[${name}] ${text}\n`);
}

/**
 * Makes a benchmark file runnable on its own (`node build/bench/x.js [--quick]`): runs it, prints
 * its table, and hands the result to run.ts on one marked stdout line. Exits when done, so a
 * runtime left with open handles (Node-RED, sockets) does not keep the process alive.
 */
export function main(run: (options: BenchOptions) => Promise<BenchResult>): void {
  const args = process.argv.slice(2);
  run({ quick: args.includes('--quick'), args }).then(
    (result) => {
      process.stderr.write(`${table(result.rows)}\n`);
      process.stdout.write(`\n${RESULT_MARK}${JSON.stringify(result)}\n`, () => process.exit(0));
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
