/**
 * A stall meter for the event loop: a chain of 1 ms timers, each recording the time since the
 * one before. A synchronous call of N ms shows as one gap of at least N ms, wherever it falls in
 * the window, even right at its start (where `monitorEventLoopDelay`'s histogram can miss it: its
 * first sample is taken only once the loop turns). That histogram runs alongside and is reported
 * too, as a second opinion.
 */
import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** Where a gap counts as a stall: the longest a Node-RED event loop may be blocked. */
export const STALL_MS = 50;

export interface GapReport {
  /** Gaps recorded (ticks of the chain, plus the one still open when the meter stopped). */
  gaps: number;
  longest: number;
  p99: number;
  p999: number;
  /** Gaps longer than STALL_MS. */
  stalls: number;
  /** From start to stop, ms. */
  wallMs: number;
  /** monitorEventLoopDelay's longest delay over the same window, ms (NaN when it saw none). */
  histogramMax: number;
}

/** The value at `perMille` (0–1000) of sorted values, nearest rank, in integers (99.9 % of 1000 is rank 999, not 1000). */
function atPerMille(sorted: Float64Array, perMille: number): number {
  const rank = Math.ceil((perMille * sorted.length) / 1000);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Summarizes gap lengths (ms) measured over `wallMs`. */
export function summarizeGaps(values: ArrayLike<number>, wallMs: number, histogramMax = NaN): GapReport {
  const sorted = Float64Array.from(values).sort();
  let stalls = 0;
  for (const v of sorted) if (v > STALL_MS) stalls++;
  return {
    gaps: sorted.length,
    longest: sorted.length ? sorted[sorted.length - 1] : 0,
    p99: sorted.length ? atPerMille(sorted, 990) : 0,
    p999: sorted.length ? atPerMille(sorted, 999) : 0,
    stalls,
    wallMs,
    histogramMax,
  };
}

export class LoopGaps {
  private readonly gaps: number[] = [];
  private last = 0;
  private started = 0;
  private timer: NodeJS.Timeout | undefined;
  private histogram: IntervalHistogram | undefined;

  /** Starts the chain; the first gap runs from now, so work begun right after is measured. */
  start(): this {
    if (this.timer) throw new Error('the meter is already running');
    this.histogram = monitorEventLoopDelay({ resolution: 1 });
    this.histogram.enable();
    this.started = this.last = performance.now();
    this.arm();
    return this;
  }

  /** Stops the chain; the gap still open (from the last tick to now) counts as well. */
  stop(): GapReport {
    if (!this.timer) throw new Error('the meter is not running');
    clearTimeout(this.timer);
    this.timer = undefined;
    const end = performance.now();
    this.gaps.push(end - this.last);
    this.histogram?.disable();
    // The histogram reports nanoseconds, and its minimum (a huge number) when it saw no sample.
    const max = this.histogram && this.histogram.count > 0 ? this.histogram.max / 1e6 : NaN;
    return summarizeGaps(this.gaps, end - this.started, max);
  }

  private arm(): void {
    // unref: a meter left running never keeps a process alive.
    this.timer = setTimeout(() => {
      const t = performance.now();
      this.gaps.push(t - this.last);
      this.last = t;
      this.arm();
    }, 1).unref();
  }
}

/**
 * Runs `work` under a fresh meter: the meter starts first, and stops one loop turn after the
 * work settles (so a stall in what the work set off at its end is seen too).
 */
export async function underMeter<T>(work: () => T | Promise<T>): Promise<{ result: T; gaps: GapReport }> {
  const meter = new LoopGaps().start();
  try {
    const result = await work();
    await new Promise((resolve) => setImmediate(resolve));
    return { result, gaps: meter.stop() };
  } catch (err) {
    meter.stop();
    throw err;
  }
}
