/**
 * A batch larger than one slice through the nodes and the admin API: accepted at once as
 * CREATING (202), its progress on ota-push output 2, then complete.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import { DEFAULT_SLICE_SIZE } from '../../src/fleet';
import { Deployed, deploy, feed, fleetSuite, platformFlow } from '../helpers/fleet-red';
import type { FlowNode } from '../helpers/flow';

helper.init(require.resolve('node-red'));

const DEVICES = DEFAULT_SLICE_SIZE * 2 + 1;

describe('a large batch through the nodes and the admin API', function () {
  const suite = fleetSuite('creation');
  let d: Deployed;
  let firmwareId: string;

  beforeEach(async function () {
    d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
    firmwareId = await d.handle.ask((fleet) => {
      fleet.store.transaction(() => {
        for (let i = 0; i < DEVICES; i++)
          fleet.store.recordVersion({ productKey: 'pk1', deviceName: `d-${i}` }, 'default', '1.0.0', i);
      });
      return fleet.addFirmware({
        productKey: 'pk1',
        module: 'default',
        version: '2.0.0',
        size: 1000,
        md5: 'c'.repeat(32),
        sha256: 'd'.repeat(64),
        signMethod: 'Md5',
        url: 'https://cdn.example.com/pk1-2.0.0.bin',
        hosted: false,
        isDiff: false,
        verification: 'verified',
      }).id;
    });
  });

  it('POST batches answers 202 with the batch CREATING, which then completes', async function () {
    const res = await helper
      .request()
      .post(`/ota/fleets/${d.platform.fleet.id}/batches`)
      .send({ firmwareId, targets: { selection: 'ALL' } });
    should(res.status).equal(202);
    should(res.body).match({ state: 'CREATING', creation: { done: 0, total: null } });
    const done = await d.handle.ask((fleet) => fleet.whenCreated(res.body.id));
    should(done).match({ state: 'IN_PROGRESS', counts: { QUEUED: DEVICES } });
    const again = await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches/${res.body.id}`);
    // The scheduler may have sent its first notices already: every device has a task.
    should(again.body.state).equal('IN_PROGRESS');
    should(Object.values(again.body.counts as Record<string, number>).reduce((a, b) => a + b, 0)).equal(DEVICES);
    should(again.body).not.have.property('creation');
  });

  it('ota-push starts it, and output 2 shows its progress and then its start', async function () {
    feed(d.platform.push as FlowNode, {
      _msgid: 'big',
      payload: { firmwareId, targets: { selection: 'ALL', productKey: 'pk1' } },
    });
    const progress = await d.events.next(
      (m) =>
        m.topic === 'batch' &&
        (m.payload as { to: string }).to === 'CREATING' &&
        (m.payload as { from: string }).from === 'CREATING',
      20_000,
    );
    should(progress.payload).match({ creation: { total: DEVICES } });
    const started = await d.events.next(
      (m) =>
        m.topic === 'batch' &&
        (m.payload as { from: string }).from === 'CREATING' &&
        (m.payload as { to: string }).to === 'IN_PROGRESS',
      20_000,
    );
    should(started.payload).match({ counts: { QUEUED: DEVICES } });
    should(d.caught.messages).be.empty();
  });
});
