/**
 * Security: a device cannot move another device's task. Reports are attributed only from the
 * product key and device name of the topic they arrived on — nothing in the payload or the
 * message names a device — and a report for a device that has no task in the batch changes
 * nothing (a T1 from a device never seen only adds it to the inventory).
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import { FleetSnapshot, snapshot } from '../helpers/fleet-state';
import { Deployed, deploy, eventually, feed, fleetSuite, platformFlow, reportVersions } from '../helpers/fleet-red';
import { printFigures } from '../helpers/fuzz-run';
import { Msg } from '../helpers/red';

helper.init(require.resolve('node-red'));

/** A report published on `topic` whose payload (and message) claim to come from someone else. */
function spoofed(topic: string, params: Record<string, unknown>): Msg {
  const claim = { productKey: 'pk1', deviceName: 'dev-a' };
  return {
    _msgid: 's',
    topic,
    ...claim,
    payload: JSON.stringify({ id: 9, ...claim, params: { ...claim, ...params } }),
  };
}

const stateOf = (d: Deployed, batchId: number, name: string) =>
  d.handle.ask((fleet) => fleet.tasks(batchId).find((t) => t.deviceName === name)?.state);

describe('security: reports are attributed only by their topic', function () {
  this.timeout(20_000);
  const suite = fleetSuite('attribution');
  let tried = 0;

  /** dev-a and dev-b notified in a batch to 2.0.0; dev-c reported but in no batch. */
  async function batchOfTwo(): Promise<{ d: Deployed; batchId: number; before: FleetSnapshot }> {
    const d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
    await reportVersions(d, 'pk1', ['dev-a', 'dev-b', 'dev-c'], '1.0.0');
    feed(d.platform.push!, {
      _msgid: 'b',
      payload: {
        firmware: { version: '2.0.0', url: 'https://cdn.example.com/2.bin', size: 10, md5: 'c'.repeat(32) },
        targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: ['dev-a', 'dev-b'] },
        strategy: { retryCount: 0 },
      },
    });
    const batchId = (await d.sent.next()).batchId as number;
    await eventually(
      'both notified',
      async () => (await d.handle.ask((fleet) => fleet.batch(batchId))).counts.NOTIFIED === 2,
    );
    return { d, batchId, before: await d.handle.ask(snapshot) };
  }

  it("a T3 on dev-b's topic that names dev-a in its payload and message moves only dev-b's task", async function () {
    const { d, batchId } = await batchOfTwo();
    feed(d.platform.progress, spoofed('/ota/device/progress/pk1/dev-b', { step: '50' }));
    should((await d.progressed.next()).payload).match({
      productKey: 'pk1',
      deviceName: 'dev-b',
      state: 'IN_PROGRESS',
      batchId,
    });
    should(await stateOf(d, batchId, 'dev-a')).equal('NOTIFIED');
    should(await stateOf(d, batchId, 'dev-b')).equal('IN_PROGRESS');
    feed(d.platform.progress, spoofed('/ota/device/progress/pk1/dev-b', { step: '-1', desc: 'dev-a failed' }));
    await d.progressed.next();
    should(await stateOf(d, batchId, 'dev-a')).equal('NOTIFIED');
    should(await stateOf(d, batchId, 'dev-b')).equal('FAILED');
    tried += 2;
  });

  it("a T1 with the new version on dev-b's topic that names dev-a succeeds only dev-b, and only dev-b's version changes", async function () {
    const { d, batchId } = await batchOfTwo();
    feed(d.platform.inform, spoofed('/ota/device/inform/pk1/dev-b', { version: '2.0.0' }));
    should((await d.informed.next()).payload).match({
      deviceName: 'dev-b',
      version: '2.0.0',
      state: 'SUCCEEDED',
      batchId,
    });
    should(await stateOf(d, batchId, 'dev-a')).equal('NOTIFIED');
    const versions = Object.fromEntries(
      (await d.handle.ask((fleet) => fleet.devices())).map((x) => [x.deviceName, x.version]),
    );
    should(versions).eql({ 'dev-a': '1.0.0', 'dev-b': '2.0.0', 'dev-c': '1.0.0' });
    tried++;
  });

  it('a T3 from a device without a task, from a device never seen, or for another product or module changes nothing', async function () {
    const { d, before } = await batchOfTwo();
    const reports = [
      spoofed('/ota/device/progress/pk1/dev-c', { step: '50' }),
      spoofed('/ota/device/progress/pk1/dev-c', { step: '-2' }),
      spoofed('/ota/device/progress/pk1/ghost', { step: '100' }),
      spoofed('/ota/device/progress/pk2/dev-a', { step: '50' }),
      spoofed('/ota/device/progress/pk1/dev-a', { step: '50', module: 'MCU' }),
      spoofed('/ota/device/progress/pk1/DEV-A', { step: '50' }),
      spoofed('/ota/device/progress/pk1/dev-a ', { step: '50' }),
    ];
    for (const msg of reports) {
      feed(d.platform.progress, msg);
      const event = (await d.progressed.next()).payload as Record<string, unknown>;
      should(event.batchId).be.undefined();
      should(event.deviceName).equal(String(msg.topic).split('/').pop());
    }
    should(await d.handle.ask(snapshot)).eql(before);
    tried += reports.length;
  });

  it('a T1 from a device never seen only adds it to the inventory', async function () {
    const { d, before } = await batchOfTwo();
    feed(d.platform.inform, spoofed('/ota/device/inform/pk1/ghost', { version: '2.0.0' }));
    should((await d.informed.next()).payload).eql({
      productKey: 'pk1',
      deviceName: 'ghost',
      module: 'default',
      version: '2.0.0',
      id: 9,
    });
    const after = await d.handle.ask(snapshot);
    should(after.devices.filter((x) => (x as { deviceName: string }).deviceName !== 'ghost')).eql(before.devices);
    should(after.devices.map((x) => (x as { deviceName: string }).deviceName)).containEql('ghost');
    should({ ...after, devices: [], tags: {}, versions: [] }).eql({ ...before, devices: [], tags: {}, versions: [] });
    tried++;
  });

  it("a T4 on dev-b's topic gets dev-b's notice on dev-b's own topic, never on the asker's", async function () {
    const { d } = await batchOfTwo();
    feed(d.platform.inform, {
      _msgid: 'q',
      topic: '/sys/pk1/dev-b/thing/ota/firmware/get',
      deviceName: 'dev-a',
      payload: JSON.stringify({ id: '5', params: { deviceName: 'dev-a' } }),
    });
    const answer = await d.sent.next((m) => String(m.topic).endsWith('/get_reply'));
    should(answer).match({
      topic: '/sys/pk1/dev-b/thing/ota/firmware/get_reply',
      productKey: 'pk1',
      deviceName: 'dev-b',
    });
    tried++;
    printFigures('attribution', { spoofedReports: tried, movedOtherTasks: 0 });
  });
});
