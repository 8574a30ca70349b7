/**
 * A token bucket for `maximumPerMinute`: tokens accrue evenly, so pushes are spread over the
 * minute instead of bursting at its start. The bucket holds at most 100 ms worth of pushes
 * (at least one), enough to absorb a late timer without exceeding the rate over a minute.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private readonly capacity: number;
  private readonly perMs: number;

  constructor(
    readonly perMinute: number,
    now: number,
  ) {
    this.perMs = perMinute / 60_000;
    this.capacity = Math.max(1, perMinute / 600);
    this.tokens = 1;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs);
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

  /** When the next push may go. */
  nextAt(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) return now;
    return now + Math.ceil((1 - this.tokens) / this.perMs);
  }
}
