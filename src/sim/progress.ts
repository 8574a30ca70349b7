/**
 * Which T3 steps a download reports: 0 when it starts (the device's own doing), then every
 * multiple of `every` percent as it is crossed — each one, even when one chunk crosses several,
 * so the platform hears from the device at least every `every` percent — and 100 at the end.
 */
export class ProgressSteps {
  private next: number;
  private bytes = 0;

  constructor(
    private readonly size: number,
    private readonly every: number,
  ) {
    this.next = every;
  }

  /** Percent of the package received so far, at most 100. */
  get percent(): number {
    return Math.min(100, Math.floor((this.bytes * 100) / this.size));
  }

  /** The steps to report once `bytes` more have arrived: multiples of `every` below 100. */
  advance(bytes: number): number[] {
    this.bytes += bytes;
    const steps: number[] = [];
    while (this.next < 100 && this.next <= this.percent) {
      steps.push(this.next);
      this.next += this.every;
    }
    return steps;
  }

  /**
   * The server started over: count from `bytes` again (0, or the files of a multi-file notice
   * received before this one), without reporting the same steps twice.
   */
  restart(bytes = 0): void {
    this.bytes = bytes;
  }
}
