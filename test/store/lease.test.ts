import should from 'should';
import { ManualClock } from '../../src/fleet/clock';
import { FleetError } from '../../src/fleet/errors';
import {
  DEFAULT_LEASE_TIMINGS,
  FOLLOWER_SLACK_MS,
  followerRetryAt,
  holderDeadline,
  initialLeaseState,
  LeaseChange,
  LeaseInput,
  leaseReason,
  LeaseState,
  leaseTimings,
  leaseWakeAt,
  nextLeaseState,
} from '../../src/fleet/lease';

const t = DEFAULT_LEASE_TIMINGS;

/** Feeds inputs one after the other; the final state and every change reported, in order. */
function run(inputs: LeaseInput[], from: LeaseState = initialLeaseState(0)) {
  let state = from;
  const changes: LeaseChange[] = [];
  for (const input of inputs) {
    const step = nextLeaseState(state, input, t);
    state = step.state;
    changes.push(...step.changes);
  }
  return { state, changes };
}

const leaderAt = (sentAt: number, epoch = 1) =>
  run([{ kind: 'granted', sentAt, at: sentAt + 5, epoch }], initialLeaseState(sentAt)).state;

describe('lease: the state machine (pure)', function () {
  it('the defaults are a 6 s TTL renewed every 2 s, with a dead holder replaced well within 10 s', function () {
    should(t.ttlMs).equal(6000);
    should(t.renewEveryMs).equal(2000);
    // A follower looks again at most one renewal period later: TTL + period is the worst case.
    should(t.ttlMs + t.renewEveryMs).be.belowOrEqual(10_000);
    should(followerRetryAt(0, 60_000, t)).equal(t.renewEveryMs);
  });

  it('a new lease is a follower that tries at once', function () {
    const state = initialLeaseState(1000);
    should(state).eql({ role: 'follower', nextAttemptAt: 1000 });
    should(leaseWakeAt(state)).equal(1000);
    should(leaseReason(state)).equal('looking for the lease');
  });

  it('a grant makes a follower the leader, reported as acquired with the epoch', function () {
    const { state, changes } = run([{ kind: 'granted', sentAt: 0, at: 40, epoch: 7 }]);
    should(changes).eql([{ kind: 'acquired', epoch: 7 }]);
    should(state).eql({ role: 'leader', epoch: 7, validUntil: 5500, nextAttemptAt: 2000 });
    should(leaseReason(state)).equal('leading (epoch 7)');
  });

  it("the holder's deadline counts from when it sent the renewal, minus the margin, not from the answer", function () {
    const { state } = run([{ kind: 'granted', sentAt: 10_000, at: 11_400, epoch: 1 }]);
    should(state.validUntil).equal(10_000 + t.ttlMs - t.safetyMarginMs);
    should(holderDeadline(10_000, t)).equal(15_500);
    // The database granted it at the earliest when it was sent: its expiry is never before ours.
    should(state.validUntil).be.below(10_000 + t.ttlMs);
  });

  it('a grant answered after its own deadline does not make a leader', function () {
    const { state, changes } = run([{ kind: 'granted', sentAt: 0, at: 5500, epoch: 1 }]);
    should(changes).eql([]);
    should(state.role).equal('follower');
    should(state.nextAttemptAt).equal(5500);
  });

  it('a renewal answered in time moves the deadline on and reports nothing', function () {
    const { state, changes } = run([{ kind: 'granted', sentAt: 2000, at: 2100, epoch: 1 }], leaderAt(0));
    should(changes).eql([]);
    should(state).eql({ role: 'leader', epoch: 1, validUntil: 7500, nextAttemptAt: 4000 });
  });

  it('a failed renewal keeps the leader until its deadline, then it reports lost and is unreachable', function () {
    const failedOnce = run([{ kind: 'failed', sentAt: 2000, at: 3500, error: 'Query read timeout' }], leaderAt(0));
    should(failedOnce.changes).eql([]);
    should(failedOnce.state).match({ role: 'leader', epoch: 1, validUntil: 5500, nextAttemptAt: 4000 });
    should(leaseReason(failedOnce.state)).equal('leading (epoch 1); the last renewal failed: Query read timeout');
    should(leaseWakeAt(failedOnce.state)).equal(4000);

    const before = run([{ kind: 'tick', at: 5499 }], failedOnce.state);
    should(before.changes).eql([]);
    const at = run([{ kind: 'tick', at: 5500 }], failedOnce.state);
    should(at.changes).eql([{ kind: 'lost', reason: 'could not renew the lease in time: Query read timeout' }]);
    should(at.state.role).equal('unreachable');
    should(leaseReason(at.state)).equal(
      'cannot reach the database: could not renew the lease in time: Query read timeout',
    );
  });

  it('a leader past its deadline reports lost before whatever the late answer says', function () {
    const { changes } = run([{ kind: 'failed', sentAt: 4000, at: 6000, error: 'connection reset' }], leaderAt(0));
    should(changes).eql([{ kind: 'lost', reason: 'the lease was not renewed in time' }]);
  });

  it('a late grant of a renewal sent in time makes the lost holder the leader again', function () {
    // Sent at 4000 (deadline 9500), answered at 6000 after the lease was lost at 5500.
    const { state, changes } = run([{ kind: 'granted', sentAt: 4000, at: 6000, epoch: 1 }], leaderAt(0));
    should(changes).eql([
      { kind: 'lost', reason: 'the lease was not renewed in time' },
      { kind: 'acquired', epoch: 1 },
    ]);
    should(state.validUntil).equal(9500);
  });

  it('a leader that finds the lease held by another reports lost and follows', function () {
    const { state, changes } = run(
      [{ kind: 'held', sentAt: 2000, at: 2010, holder: 'b', epoch: 2, remainingMs: 5990 }],
      leaderAt(0),
    );
    should(changes).eql([{ kind: 'lost', reason: 'the lease was taken by b' }]);
    should(state).eql({ role: 'follower', holder: 'b', epoch: 2, nextAttemptAt: 4010 });
    should(leaseReason(state)).equal('following b (epoch 2)');
  });

  it('a renewal that comes back with a new epoch reports lost, then acquired', function () {
    const { changes } = run([{ kind: 'granted', sentAt: 2000, at: 2010, epoch: 2 }], leaderAt(0));
    should(changes).eql([
      { kind: 'lost', reason: 'the lease ran out in the database (epoch 1)' },
      { kind: 'acquired', epoch: 2 },
    ]);
  });

  it('a follower looks again just after the lease runs out, and never later than one period', function () {
    const { state } = run([{ kind: 'held', sentAt: 0, at: 10, holder: 'b', epoch: 3, remainingMs: 1200 }]);
    should(state.nextAttemptAt).equal(10 + 1200 + FOLLOWER_SLACK_MS);
    should(followerRetryAt(10, undefined, t)).equal(2010);
    should(followerRetryAt(10, 0, t)).equal(10 + FOLLOWER_SLACK_MS);
  });

  it('a follower whose try fails is unreachable, with the reason, and tries again a period after sending', function () {
    const { state, changes } = run([{ kind: 'failed', sentAt: 0, at: 3, error: 'connect ECONNREFUSED 127.0.0.1:9' }]);
    should(changes).eql([]);
    should(state).eql({ role: 'unreachable', failure: 'connect ECONNREFUSED 127.0.0.1:9', nextAttemptAt: 2000 });
    should(leaseReason(state)).equal('cannot reach the database: connect ECONNREFUSED 127.0.0.1:9');
  });

  it("another holder's release makes a follower look at once, and changes nothing for a leader", function () {
    const follower = run([{ kind: 'held', sentAt: 0, at: 10, holder: 'b', epoch: 3, remainingMs: 5000 }]).state;
    const freed = run([{ kind: 'freed', at: 500 }], follower);
    should(freed.changes).eql([]);
    should(freed.state).eql({ ...follower, nextAttemptAt: 500 });
    should(run([{ kind: 'freed', at: 500 }], leaderAt(0)).state).eql(leaderAt(0));
  });

  it('releasing reports lost for a leader and nothing for a follower', function () {
    should(run([{ kind: 'released', at: 100 }], leaderAt(0)).changes).eql([
      { kind: 'lost', reason: 'the lease was released (stopped)' },
    ]);
    should(run([{ kind: 'released', at: 100 }]).changes).eql([]);
  });

  it('a leader wakes at the earlier of its next renewal and its deadline', function () {
    const leader = leaderAt(0);
    should(leaseWakeAt(leader)).equal(2000);
    should(leaseWakeAt({ ...leader, nextAttemptAt: 9000 })).equal(5500);
  });

  it('on a manual clock, a holder cut off after a renewal reports lost before the database lets anyone in', function () {
    const clock = new ManualClock(0);
    let state = initialLeaseState(clock.now());
    const log: string[] = [];
    let lastGrantSent = -1;
    // The holder's renewals are answered until 10 s, then never again (a partition).
    const feed = (input: LeaseInput) => {
      const step = nextLeaseState(state, input, t);
      state = step.state;
      for (const c of step.changes) log.push(`${clock.now()} ${c.kind}`);
    };
    const wake = () => {
      feed({ kind: 'tick', at: clock.now() });
      if (clock.now() >= state.nextAttemptAt) {
        const sentAt = clock.now();
        if (sentAt < 10_000) {
          feed({ kind: 'granted', sentAt, at: sentAt, epoch: 1 });
          lastGrantSent = sentAt;
        } else {
          // No answer: the attempt fails at its timeout, the next one is due a period after sending.
          state = { ...state, nextAttemptAt: sentAt + t.renewEveryMs };
        }
      }
      clock.setTimer(wake, leaseWakeAt(state) - clock.now());
    };
    wake();
    clock.advance(30_000);
    // The database's expiry is at the earliest the last grant's send time plus the TTL.
    const databaseExpiry = lastGrantSent + t.ttlMs;
    should(lastGrantSent).equal(8000);
    should(log).eql(['0 acquired', `${lastGrantSent + t.ttlMs - t.safetyMarginMs} lost`]);
    should(lastGrantSent + t.ttlMs - t.safetyMarginMs).be.below(databaseExpiry);
  });

  it('timings that leave no room for one failed renewal are refused, saying why', function () {
    should(() => leaseTimings({ ttlMs: 3000 })).throw(FleetError, {
      message:
        'lease renewEveryMs + attemptTimeoutMs (3500) must not exceed ttlMs - safetyMarginMs (2500): ' +
        'a renewal must be able to fail once and be retried in time',
    });
    should(() => leaseTimings({ renewEveryMs: 0 })).throw(/lease renewEveryMs must be a positive number/);
    should(() => leaseTimings({ attemptTimeoutMs: 1900, renewEveryMs: 1000 })).throw(
      'lease attemptTimeoutMs (1900) must not exceed renewEveryMs (1000)',
    );
    should(leaseTimings({ ttlMs: 9000 })).eql({ ...t, ttlMs: 9000 });
  });
});
