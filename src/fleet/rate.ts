/**
 * A token bucket for `maximumPerMinute`: tokens accrue evenly, so pushes are spread over the
 * minute instead of bursting at its start. The bucket holds at most 100 ms worth of pushes
 * (at least one), enough to absorb a late timer without exceeding the rate over a minute.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  /** The most pushes that may go at once: 100 ms of the rate, at least one. */
  readonly burst: number;
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    now: number,
  ) {
    this.perMs = perMinute / 60_000;
    this.burst = Math.max(1, Math.floor(perMinute / 600));
    this.tokens = 1;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
      this.last = now;
    }
  }

  /** How many of `wanted` pushes may go now; those are taken. */
  take(now: number, wanted: number): number {
    this.refill(now);
    const granted = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }

  /** What it holds now (a unit of work that may run again restores it: replayed-fleet.ts). */
  state(): { tokens: number; last: number } {
    return { tokens: this.tokens, last: this.last };
  }

  restore(state: { tokens: number; last: number }): void {
    this.tokens = state.tokens;
    this.last = state.last;
  }

  /** When `count` more pushes (1 by default; at most the burst) may go. */
  nextAt(now: number, count = 1): number {
    this.refill(now);
    const want = Math.min(Math.max(1, count), this.burst);
    if (this.tokens >= want) return now;
    return now + Math.ceil((want - this.tokens) / this.perMs);
  }
}
