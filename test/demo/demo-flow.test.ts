/**
 * The demo's pieces in this process: the embedded broker, Node-RED (test helper) with the
 * platform example flow, and 50 simulated devices with injected faults. The example's own
 * "upload firmware" inject verifies the sample on the test devices; then a batch over all of
 * demo-product ends with exactly the counts the faults predict.
 */
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { startEmbeddedBroker, EmbeddedBroker } from '../../src/demo/broker';
import { demoFlow, DEMO_PRODUCT } from '../../src/demo/demo-flow';
import { SAMPLE_VERSION } from '../../src/demo/start';
import { Simulation, simOptions } from '../../src/sim';
import { fleetById } from '../../src/nodes/registry';
import { mqttNodeModule } from '../helpers/core-nodes';
import { fleetSuite, loadFlow } from '../helpers/fleet-red';
import type { FlowNode } from '../helpers/flow';
import { waitFor } from '../helpers/http';

const core = path.dirname(
  require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(require.resolve('node-red'))] }),
);
const coreNodes = [
  'common/20-inject.js',
  'common/21-debug.js',
  'common/90-comment.js',
  'function/10-function.js',
  'function/15-change.js',
].map((f) => require(path.join(core, 'core', f)));

describe('the demo: example flow, embedded broker and 50 simulated devices with faults', function () {
  this.timeout(120_000);
  const suite = fleetSuite('demo');
  let broker: EmbeddedBroker;
  const sims: Simulation[] = [];

  before(async function () {
    broker = await startEmbeddedBroker(0, '127.0.0.1');
  });

  after(async function () {
    await Promise.all(sims.map((s) => s.stop()));
    await broker?.close();
  });

  it('the example verifies the sample, and a batch ends with the counts the faults predict', async function () {
    const { flows, fleetId } = demoFlow(new URL(broker.url), suite.nodeUrl);
    await loadFlow(flows as FlowNode[], {}, [mqttNodeModule, ...coreNodes]);
    const fleet = () => fleetById(fleetId)?.fleet;
    await waitFor('the fleet', async () => fleet(), 10_000);

    const timing = { bootMs: 200, rebootMs: 100, burnMs: 100 };
    const broker1 = broker.url;
    const tests = new Simulation(
      simOptions({
        broker: broker1,
        productKey: DEMO_PRODUCT,
        version: '1.0.0',
        devices: 2,
        namePrefix: 'test-',
        timing,
      }),
    );
    const faults = { failDownload: '3', failVerify: '3', failBurn: '3', wrongVersion: '2', silent: '2' };
    const field = new Simulation(
      simOptions({
        broker: broker1,
        productKey: DEMO_PRODUCT,
        version: '1.0.0',
        devices: 48,
        namePrefix: 'device-',
        timing,
        faults,
        seed: 7,
      }),
    );
    sims.push(tests, field);
    await Promise.all([tests.start(), field.start()]);
    await waitFor(
      '50 devices in the inventory',
      async () => (fleet()?.devices({ productKey: DEMO_PRODUCT }).length === 50 ? true : undefined),
      30_000,
    );

    // The example's "upload firmware" inject: ota-verify stores 1.1.0 and verifies it on test-001/002.
    const upload = flows.find((n) => n.type === 'inject' && n.name === 'upload firmware') as FlowNode;
    helper.getNode(upload.id).receive({});
    const verified = await waitFor(
      'the verification',
      async () =>
        fleet()
          ?.listFirmware(DEMO_PRODUCT)
          .find((f) => f.version === SAMPLE_VERSION && f.verification === 'verified'),
      60_000,
    );

    // Everyone else, through the example's ota-push.
    const push = flows.find((n) => n.type === 'ota-push') as FlowNode;
    helper.getNode(push.id).receive({
      payload: {
        firmwareId: verified.id,
        type: 'static',
        targets: { selection: 'ALL' },
        strategy: { retryCount: 1, retryInterval: 0.05 },
      },
    });
    const batch = await waitFor(
      'the batch to complete',
      async () =>
        fleet()
          ?.listBatches()
          .find((b) => b.type === 'static' && b.state === 'COMPLETED'),
      90_000,
    );
    // Faults are drawn per kind, so a device may have several: predict from what was assigned.
    const reasonOf: Record<string, RegExp> = {
      silent: /^no answer to 2 notice\(s\)$/,
      failDownload: /^step -2 /,
      failVerify: /^step -3 /,
      failBurn: /^step -4 /,
      wrongVersion: /^version mismatch/,
    };
    const faulty = new Map(
      field.devices
        .map((d) => [d.name, [...d.faults].filter((f) => f in reasonOf)] as const)
        .filter(([, kinds]) => kinds.length > 0),
    );
    should(faulty.size).be.within(9, 13);
    should(batch.counts).eql({
      CONFIRM: 0,
      QUEUED: 0,
      NOTIFIED: 0,
      IN_PROGRESS: 0,
      SUCCEEDED: 48 - faulty.size,
      FAILED: faulty.size,
      CANCELED: 0,
    });
    const failed = fleet()!.tasks(batch.id, { state: 'FAILED' });
    should(failed.map((t) => t.deviceName).sort()).eql([...faulty.keys()].sort());
    for (const task of failed) {
      const kinds = faulty.get(task.deviceName) as string[];
      should(kinds.some((k) => reasonOf[k].test(task.reason ?? ''))).be.true(
        `${task.deviceName} (${kinds.join(', ')}) failed with "${task.reason}"`,
      );
    }
    should(field.summary().upgraded).equal(48 - faulty.size);
  });
});
