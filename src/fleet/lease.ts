/**
 * The scheduler's lease, pure: which instance of a shared fleet may run the scheduler, as a state
 * machine over the times of one instance's own clock. No I/O here: pg-lease.ts sends the
 * statements and feeds their answers in; the tests drive it with a ManualClock.
 *
 * The one rule everything else serves: a holder gives the lease up BEFORE anyone else can take
 * it. The database grants a lease for `ttlMs` from the moment it executes the statement, which
 * is after the holder sent it; so the holder counts its lease from the moment it SENT the
 * renewal that succeeded, minus a safety margin, on its own clock. A slow answer then only
 * shortens what the holder believes it holds, never lengthens it.
 *
 *   role        | granted (in time)       | held by another | failed                    | deadline passed   | freed       | released
 *   ----------- | ----------------------- | --------------- | ------------------------- | ----------------- | ----------- | --------------
 *   follower    | leader, acquired(epoch) | follower        | unreachable               | —                 | looks now   | follower
 *   unreachable | leader, acquired(epoch) | follower        | unreachable               | —                 | looks now   | follower
 *   leader      | leader, lease extended  | follower, lost  | leader until the deadline | unreachable, lost | —           | follower, lost
 *
 * A grant answered after its own deadline counts as not granted (a leader reports lost). The
 * epoch is the fencing token: the database adds one every time the lease is taken afresh (by
 * another instance, or by the same one after its lease ran out), so a write carrying an older
 * epoch can be recognised as coming from a former holder.
 */
import { refused } from './errors';

export interface LeaseTimings {
  /** How long the database grants the lease from the moment it executes a statement. */
  ttlMs: number;
  /** How often the holder renews, and how often a follower looks at most. */
  renewEveryMs: number;
  /** Taken off the TTL on the holder's own clock: its clock may run a little slow, its timers late. */
  safetyMarginMs: number;
  /** The longest a statement may take (connecting included) before the attempt counts as failed. */
  attemptTimeoutMs: number;
}

/** TTL 6 s, renewed every 2 s: a dead holder is replaced within about 8 s (in practice 4–6 s). */
export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  ttlMs: 6000,
  renewEveryMs: 2000,
  safetyMarginMs: 500,
  attemptTimeoutMs: 1500,
};

/** A follower told the lease runs out in `remainingMs` looks again that much later, plus this. */
export const FOLLOWER_SLACK_MS = 20;

/** The timings with defaults applied, or a refusal saying which one is wrong and why. */
export function leaseTimings(given: Partial<LeaseTimings> = {}): LeaseTimings {
  const t = { ...DEFAULT_LEASE_TIMINGS, ...given };
  for (const [key, value] of Object.entries(t)) {
    if (!Number.isFinite(value) || value < 0 || (key !== 'safetyMarginMs' && value === 0))
      throw refused(`lease ${key} must be a positive number of milliseconds, got ${JSON.stringify(value)}`);
  }
  const held = t.ttlMs - t.safetyMarginMs;
  if (t.renewEveryMs + t.attemptTimeoutMs > held)
    throw refused(
      `lease renewEveryMs + attemptTimeoutMs (${t.renewEveryMs + t.attemptTimeoutMs}) must not exceed ` +
        `ttlMs - safetyMarginMs (${held}): a renewal must be able to fail once and be retried in time`,
    );
  if (t.attemptTimeoutMs > t.renewEveryMs)
    throw refused(`lease attemptTimeoutMs (${t.attemptTimeoutMs}) must not exceed renewEveryMs (${t.renewEveryMs})`);
  return t;
}

export type LeaseRole = 'leader' | 'follower' | 'unreachable';

export interface LeaseState {
  role: LeaseRole;
  /** The leader's own epoch, or the epoch of the holder a follower saw. */
  epoch?: number;
  /** Who holds the lease, as a follower last saw it. */
  holder?: string;
  /** A leader's deadline on its own clock: past it, it is no longer the leader. */
  validUntil?: number;
  /** When the next statement is due (a renewal, or a try to take the lease). */
  nextAttemptAt: number;
  /** Why a leader's last renewal failed, or why the database cannot be reached. */
  failure?: string;
}

/** What a statement answered, or that it failed; `sentAt` is when it was sent, `at` when it ended. */
export type LeaseInput =
  | { kind: 'granted'; sentAt: number; at: number; epoch: number }
  | { kind: 'held'; sentAt: number; at: number; holder?: string; epoch?: number; remainingMs?: number }
  | { kind: 'failed'; sentAt: number; at: number; error: string }
  | { kind: 'tick'; at: number }
  /** The holder said it released the lease: a follower looks at once. */
  | { kind: 'freed'; at: number }
  | { kind: 'released'; at: number };

export type LeaseChange = { kind: 'acquired'; epoch: number } | { kind: 'lost'; reason: string };

export interface LeaseStep {
  state: LeaseState;
  changes: LeaseChange[];
}

/** A lease that has not asked the database yet: a follower whose first try is due at `now`. */
export function initialLeaseState(now: number): LeaseState {
  return { role: 'follower', nextAttemptAt: now };
}

/** Until when a grant of a statement sent at `sentAt` may be trusted, on the sender's clock. */
export function holderDeadline(sentAt: number, t: LeaseTimings): number {
  return sentAt + t.ttlMs - t.safetyMarginMs;
}

/** When a follower told the lease runs out in `remainingMs` (at `at`) should look again. */
export function followerRetryAt(at: number, remainingMs: number | undefined, t: LeaseTimings): number {
  if (remainingMs === undefined) return at + t.renewEveryMs;
  return at + Math.min(t.renewEveryMs, Math.max(0, remainingMs) + FOLLOWER_SLACK_MS);
}

/** The next moment the lease must wake up: an attempt falls due, or a leader's deadline. */
export function leaseWakeAt(state: LeaseState): number {
  return state.role === 'leader' && state.validUntil !== undefined
    ? Math.min(state.nextAttemptAt, state.validUntil)
    : state.nextAttemptAt;
}

/** The one transition function: the state after `input`, and the changes to report, in order. */
export function nextLeaseState(state: LeaseState, input: LeaseInput, t: LeaseTimings): LeaseStep {
  // A leader past its deadline has lost the lease whatever the input says next.
  const expired = input.kind !== 'released' ? expire(state, input.at) : undefined;
  const from = expired?.state ?? state;
  const step = apply(from, input, t);
  return expired ? { state: step.state, changes: [...expired.changes, ...step.changes] } : step;
}

function apply(state: LeaseState, input: LeaseInput, t: LeaseTimings): LeaseStep {
  switch (input.kind) {
    case 'granted':
      return granted(state, input, t);
    case 'held':
      return heldByOther(state, input, t);
    case 'failed':
      return failed(state, input, t);
    case 'tick':
      return { state, changes: [] };
    case 'freed':
      return state.role === 'leader'
        ? { state, changes: [] }
        : { state: { ...state, nextAttemptAt: Math.min(state.nextAttemptAt, input.at) }, changes: [] };
    case 'released':
      return {
        state: { role: 'follower', nextAttemptAt: input.at },
        changes: state.role === 'leader' ? [{ kind: 'lost', reason: 'the lease was released (stopped)' }] : [],
      };
  }
}

/** A leader whose deadline has passed at `at` loses the lease; undefined when nothing changes. */
function expire(state: LeaseState, at: number): LeaseStep | undefined {
  if (state.role !== 'leader' || state.validUntil === undefined || at < state.validUntil) return undefined;
  const reason = state.failure
    ? `could not renew the lease in time: ${state.failure}`
    : 'the lease was not renewed in time';
  return {
    state: { role: 'unreachable', failure: reason, nextAttemptAt: Math.min(state.nextAttemptAt, at) },
    changes: [{ kind: 'lost', reason }],
  };
}

function granted(state: LeaseState, input: Extract<LeaseInput, { kind: 'granted' }>, t: LeaseTimings): LeaseStep {
  const validUntil = holderDeadline(input.sentAt, t);
  if (input.at >= validUntil) {
    // The database granted it, but so late that the grant may already have run out there.
    return { state: { role: 'follower', nextAttemptAt: input.at }, changes: [] };
  }
  const leader: LeaseState = {
    role: 'leader',
    epoch: input.epoch,
    validUntil,
    nextAttemptAt: input.sentAt + t.renewEveryMs,
  };
  if (state.role === 'leader' && state.epoch === input.epoch) return { state: leader, changes: [] };
  const changes: LeaseChange[] = [];
  if (state.role === 'leader')
    changes.push({ kind: 'lost', reason: `the lease ran out in the database (epoch ${state.epoch})` });
  changes.push({ kind: 'acquired', epoch: input.epoch });
  return { state: leader, changes };
}

function heldByOther(state: LeaseState, input: Extract<LeaseInput, { kind: 'held' }>, t: LeaseTimings): LeaseStep {
  const follower: LeaseState = {
    role: 'follower',
    holder: input.holder,
    epoch: input.epoch,
    nextAttemptAt: followerRetryAt(input.at, input.remainingMs, t),
  };
  const changes: LeaseChange[] =
    state.role === 'leader'
      ? [{ kind: 'lost', reason: `the lease was taken by ${input.holder ?? 'another instance'}` }]
      : [];
  return { state: follower, changes };
}

function failed(state: LeaseState, input: Extract<LeaseInput, { kind: 'failed' }>, t: LeaseTimings): LeaseStep {
  const nextAttemptAt = Math.max(input.at, input.sentAt + t.renewEveryMs);
  if (state.role === 'leader') {
    // One failed renewal is not a loss: the lease still holds until the deadline.
    return { state: { ...state, failure: input.error, nextAttemptAt }, changes: [] };
  }
  return { state: { role: 'unreachable', failure: input.error, nextAttemptAt }, changes: [] };
}

/** The text a node status can show for a lease state. */
export function leaseReason(state: LeaseState): string {
  switch (state.role) {
    case 'leader':
      return state.failure
        ? `leading (epoch ${state.epoch}); the last renewal failed: ${state.failure}`
        : `leading (epoch ${state.epoch})`;
    case 'follower':
      if (state.holder) return `following ${state.holder} (epoch ${state.epoch})`;
      return state.epoch === undefined ? 'looking for the lease' : `following (epoch ${state.epoch})`;
    case 'unreachable':
      return `cannot reach the database: ${state.failure}`;
  }
}
