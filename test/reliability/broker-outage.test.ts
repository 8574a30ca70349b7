/**
 * Faults: the MQTT broker (Mosquitto, with persistence) stopped in the middle of a batch and
 * started again: the batch completes after it comes back. OUTAGE_MS sets how long it is down
 * (30 s; the soak does it three times). Without Mosquitto it is skipped, and fails under CI=true.
 */
import { mosquittoPath } from '../helpers/mosquitto';
import { printFigures } from '../helpers/fuzz-run';
import { brokerOutage } from '../helpers/outage';
import { needPart } from '../helpers/parts';

const OUTAGE_MS = Number(process.env.OUTAGE_MS ?? 30_000);

describe('reliability: the broker stopped in the middle of a batch', function () {
  this.timeout(0);

  before(function () {
    needPart(this, mosquittoPath(), 'Mosquitto');
  });

  it(`the batch completes after Mosquitto comes back from a ${OUTAGE_MS / 1000} s outage`, async function () {
    printFigures('broker outage', (await brokerOutage(OUTAGE_MS)) as object);
  });
});
