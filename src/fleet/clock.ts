/**
 * Time, injected. The fleet never reads Date.now() or calls setTimeout itself: deadlines are
 * stored as data, and timers are only a way to wake up. Tests drive a ManualClock and run a day
 * of batch time in milliseconds.
 */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export type TimerHandle = { readonly id: number } | NodeJS.Timeout;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, delayMs) => {
    // Node's timers overflow above 2^31-1 ms (~24.8 days): wake up earlier and look again.
    const timer = setTimeout(fn, Math.min(Math.max(0, delayMs), 2 ** 31 - 1));
    timer.unref?.();
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface PendingTimer {
  id: number;
  at: number;
  fn: () => void;
}

/** A clock that only moves when told to; timers fire in time order during `advance`. */
export class ManualClock implements Clock {
  private current: number;
  private timers: PendingTimer[] = [];
  private nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.current + Math.max(0, delayMs), fn };
    this.timers.push(timer);
    return { id: timer.id };
  }

  clearTimer(handle: TimerHandle): void {
    const id = (handle as { id: number }).id;
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = end;
  }

  /** When the next timer falls due, if one is armed (a test that must act between timers steps to it). */
  get nextTimerAt(): number | undefined {
    let at: number | undefined;
    for (const t of this.timers) if (at === undefined || t.at < at) at = t.at;
    return at;
  }

  /** How many timers are waiting (a test can check nothing is left armed). */
  get pending(): number {
    return this.timers.length;
  }
}
