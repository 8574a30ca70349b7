/**
 * Faults: Node-RED SIGKILLed at seeded random points of running batches, then started again on
 * the same user directory (test/helpers/kill-runs.ts). Every batch must complete, no task and no
 * acknowledged transition may be lost, and no device may get more notices than 1 + retryCount.
 * KILL_RUNS and KILL_SEED size and seed the run (the soak runs more: test/soak/).
 */
import { KillRuns } from '../helpers/kill-runs';
import { printFigures } from '../helpers/fuzz-run';

const RUNS = Number(process.env.KILL_RUNS ?? 10);
const SEED = Number(process.env.KILL_SEED ?? 20_260_802);

describe('reliability: SIGKILL of Node-RED in the middle of batches', function () {
  this.timeout(0);
  const runs = new KillRuns({
    runs: RUNS,
    seed: SEED,
    devices: 30,
    retryCount: 3,
    retryInterval: 0.04,
    maximumPerMinute: 1200,
    stepMs: 60,
    timeoutInMinutes: 0.2,
  });

  before(async function () {
    this.timeout(120_000);
    await runs.start();
  });

  after(async function () {
    await runs.stop();
  });

  runs.plans().forEach((plan, i) => {
    it(`run ${i + 1} (seed ${SEED}): killed after ${plan.first}${plan.again ? ` and ${plan.again} more` : ''} transitions, the batch completes with nothing lost`, async function () {
      this.timeout(180_000);
      printFigures(`sigkill run ${i + 1}`, await runs.run(i, plan));
    });
  });
});
