/** Small statistics and memory helpers shared by the benchmarks. */

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

/** The value at percentile `p` (0–100) of sorted values, nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  // Rounded first: (99.9 / 100) * 1000 is 999.0000000000001 in floating point, whose ceiling is 1000.
  const rank = Math.ceil(Math.round(p * sorted.length * 1000) / 100_000);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: sorted.length ? sum / sorted.length : NaN,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Milliseconds from a monotonic clock. */
export const now = (): number => performance.now();

/** Resident set size now, bytes. */
export const rss = (): number => process.memoryUsage.rss();

/** The peak resident set size of this process so far, bytes (getrusage ru_maxrss). */
export const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

/** A full collection when the process runs with --expose-gc (twice: weak refs and finalizers). */
export function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

export const MiB = 1024 * 1024;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
