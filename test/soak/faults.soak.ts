/** Soak: SOAK_RUNS SIGKILL runs, SOAK_OUTAGES broker outages of SOAK_OUTAGE_MS, a bigger progress storm. */
import { mosquittoPath } from '../helpers/mosquitto';
import { printFigures } from '../helpers/fuzz-run';
import { KillRuns } from '../helpers/kill-runs';
import { brokerOutage } from '../helpers/outage';
import { progressStorm } from '../helpers/storm';
import { needPart } from '../helpers/parts';

const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.SOAK_RUNS ?? 50);
const OUTAGE_MS = Number(process.env.SOAK_OUTAGE_MS ?? 30_000);
const OUTAGES = Number(process.env.SOAK_OUTAGES ?? 3);
const DEVICES = Number(process.env.SOAK_DEVICES ?? 100_000);
const REPORTS = Number(process.env.SOAK_REPORTS ?? 500_000);

describe(`soak: ${RUNS} SIGKILL runs of 60 devices (seed ${SEED})`, function () {
  this.timeout(0);
  const runs = new KillRuns({
    runs: RUNS,
    seed: SEED,
    devices: 60,
    retryCount: 3,
    retryInterval: 0.04,
    maximumPerMinute: 1200,
    stepMs: 60,
    timeoutInMinutes: 0.2,
  });
  before(() => runs.start());
  after(() => runs.stop());
  runs.plans().forEach((plan, i) => {
    it(`run ${i + 1}: killed after ${plan.first}${plan.again ? ` and ${plan.again} more` : ''} transitions`, async function () {
      printFigures(`soak sigkill run ${i + 1}`, await runs.run(i, plan));
    });
  });
});

describe(`soak: ${OUTAGES} broker outages of ${OUTAGE_MS / 1000} s`, function () {
  this.timeout(0);
  before(function () {
    needPart(this, mosquittoPath(), 'Mosquitto');
  });
  for (let i = 1; i <= OUTAGES; i++) {
    it(`outage ${i}: the batch completes after Mosquitto comes back`, async function () {
      printFigures(`soak broker outage ${i}`, (await brokerOutage(OUTAGE_MS, 60)) as object);
    });
  }
});

describe(`soak: a storm of ${REPORTS} progress reports from ${DEVICES} devices (seed ${SEED})`, function () {
  this.timeout(0);
  it('the counts agree everywhere', async function () {
    printFigures('soak storm', await progressStorm(DEVICES, REPORTS, SEED));
  });
});
