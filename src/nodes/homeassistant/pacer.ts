/**
 * The rate limit between the node and the broker: a queue in which the newest message for a
 * topic replaces one still waiting (the latest state of an entity wins, a clear replaces a
 * config not yet sent), drained at most `rate` messages a second, so that the configs of ten
 * thousand devices reach the broker (and HA) as a steady trickle rather than a flood.
 */

/** An MQTT message for `mqtt out`. */
export interface MqttOut {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Insertion-ordered, one entry per key; putting a key again keeps its place and takes the new value. */
export class LatestQueue<T> {
  private readonly items = new Map<string, T>();

  put(key: string, value: T): void {
    this.items.set(key, value);
  }

  /** The oldest `n` entries, removed. */
  take(n: number): T[] {
    const out: T[] = [];
    for (const [key, value] of this.items) {
      if (out.length >= n) break;
      out.push(value);
      this.items.delete(key);
    }
    return out;
  }

  get size(): number {
    return this.items.size;
  }
}

/**
 * Tokens at `rate` a second, at most `burst` saved up: over any span of `t` seconds, at most
 * `burst + rate × t` are spent. Pure: the time comes in.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes up to `wanted` whole tokens available at `now`; returns how many. */
  take(wanted: number, now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    const n = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** Milliseconds until one more whole token is there. */
  waitMs(): number {
    return Math.max(1, Math.ceil(((1 - (this.tokens % 1)) * 1000) / this.rate));
  }
}

/** The tick a rate is drained at: every 100 ms (or one message at a time below 10 a second). */
export function tickMs(rate: number): number {
  return Math.max(100, Math.ceil(1000 / rate));
}

/** Sends what is put in through `send`, paced; held (nothing sent) until released. */
export class Pacer {
  private readonly queue = new LatestQueue<MqttOut>();
  private readonly bucket: TokenBucket;
  private timer: NodeJS.Timeout | undefined;
  private held = true;
  private closed = false;
  sent = 0;

  constructor(
    rate: number,
    private readonly send: (batch: MqttOut[]) => void,
    private readonly now: () => number = Date.now,
  ) {
    // A burst of one tick's worth: the limit holds over any window, not only on average.
    this.bucket = new TokenBucket(rate, Math.max(1, (rate * tickMs(rate)) / 1000), now());
  }

  put(message: MqttOut): void {
    this.queue.put(message.topic, message);
    this.schedule();
  }

  /** Starts (or resumes) sending. */
  release(): void {
    this.held = false;
    this.schedule();
  }

  get pending(): number {
    return this.queue.size;
  }

  get isHeld(): boolean {
    return this.held;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.held || this.closed || this.queue.size === 0) return;
    this.timer = setTimeout(() => this.drain(), 0);
  }

  private drain(): void {
    this.timer = undefined;
    if (this.held || this.closed) return;
    const n = this.bucket.take(this.queue.size, this.now());
    if (n > 0) {
      const batch = this.queue.take(n);
      this.sent += batch.length;
      this.send(batch);
    }
    if (this.queue.size > 0 && !this.closed)
      this.timer = setTimeout(() => this.drain(), Math.max(this.bucket.waitMs(), tickMs(this.bucket.rate)));
  }
}
