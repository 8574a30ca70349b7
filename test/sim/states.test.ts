/** The life of a simulated device as one table. */
import should from 'should';
import { BUSY_STATES, SIM_STATES } from '../../src/sim';
import { canTransition, READY_STATES, TRANSITIONS } from '../../src/sim/states';

describe('ota-sim device states', function () {
  it('goes through an upgrade in order: idle, notified, downloading, verifying, burning, rebooting, upgraded', function () {
    const path = ['idle', 'notified', 'downloading', 'verifying', 'burning', 'rebooting', 'upgraded'] as const;
    for (let i = 1; i < path.length; i++) should(canTransition(path[i - 1], path[i])).be.true();
  });

  it('can fail at every step of an upgrade and not outside one', function () {
    should(SIM_STATES.filter((s) => canTransition(s, 'failed'))).eql([
      'booting',
      'notified',
      'downloading',
      'verifying',
      'burning',
      'rebooting',
    ]);
  });

  it('can go offline from every state but offline, and comes back by booting', function () {
    should(SIM_STATES.filter((s) => !canTransition(s, 'offline'))).eql(['offline']);
    should(TRANSITIONS.offline).eql(['booting']);
  });

  it('takes a notice only when idle, upgraded or failed', function () {
    should(SIM_STATES.filter((s) => canTransition(s, 'notified'))).eql([...READY_STATES]);
  });

  it('counts as busy exactly the states between a notice and its outcome', function () {
    should([...BUSY_STATES]).eql(['notified', 'downloading', 'verifying', 'burning', 'rebooting']);
  });
});
