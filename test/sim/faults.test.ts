/** Which devices get which fault: exact counts, seeded probabilities, repeatable runs. */
import should from 'should';
import { assignFaults, FaultPlan, NO_FAULTS } from '../../src/sim';
import { countFaults, seededRandom } from '../../src/sim/faults';

function plan(faults: Partial<FaultPlan>): FaultPlan {
  return { ...NO_FAULTS, ...faults };
}

function indicesWith(faults: Set<string>[], name: string): number[] {
  return faults.flatMap((set, i) => (set.has(name) ? [i] : []));
}

describe('ota-sim fault assignment', function () {
  it('gives no device a fault when none is asked for', function () {
    should(assignFaults(50, NO_FAULTS, 1).every((set) => set.size === 0)).be.true();
  });

  it('gives a fault given by a count to exactly that many devices', function () {
    for (const seed of [1, 2, 3, 99]) {
      const faults = assignFaults(100, plan({ failVerify: { count: 7 }, silent: { count: 100 } }), seed);
      should(countFaults(faults)).containDeep({ failVerify: 7, silent: 100, failBurn: 0 });
    }
  });

  it('picks the same devices for the same seed, and others for another seed', function () {
    const a = indicesWith(assignFaults(100, plan({ offline: { count: 5 } }), 42), 'offline');
    const b = indicesWith(assignFaults(100, plan({ offline: { count: 5 } }), 42), 'offline');
    const c = indicesWith(assignFaults(100, plan({ offline: { count: 5 } }), 43), 'offline');
    should(a).eql(b);
    should(a).not.eql(c);
  });

  it('draws a probability once per device, close to the rate on a large fleet', function () {
    const faults = assignFaults(10_000, plan({ slow: { probability: 0.1 } }), 7);
    should(countFaults(faults).slow).be.within(900, 1100);
  });

  it('gives every device a fault of probability 1 and none a fault of probability 0', function () {
    const faults = assignFaults(20, plan({ slow: { probability: 1 }, silent: { probability: 0 } }), 1);
    should(countFaults(faults)).containDeep({ slow: 20, silent: 0 });
  });

  it('keeps one fault where it was when another fault changes', function () {
    const alone = indicesWith(assignFaults(200, plan({ failBurn: { probability: 0.2 } }), 5), 'failBurn');
    const withOther = indicesWith(
      assignFaults(200, plan({ failBurn: { probability: 0.2 }, slow: { count: 30 } }), 5),
      'failBurn',
    );
    should(withOther).eql(alone);
  });

  it('keeps a probability fault on the same devices when the fleet grows', function () {
    const small = indicesWith(assignFaults(100, plan({ silent: { probability: 0.3 } }), 9), 'silent');
    const large = indicesWith(assignFaults(1000, plan({ silent: { probability: 0.3 } }), 9), 'silent');
    should(large.filter((i) => i < 100)).eql(small);
  });

  it('makes a seeded stream of numbers in [0, 1)', function () {
    const random = seededRandom(1);
    const draws = Array.from({ length: 1000 }, () => random());
    should(draws.every((x) => x >= 0 && x < 1)).be.true();
    should(seededRandom(1)()).equal(draws[0]);
  });
});
