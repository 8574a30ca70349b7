/**
 * ota-push bound to a fleet: batches started and controlled by message, the verification gate,
 * direct pushes recorded as batches, nothing lost without an ota-push, and live counts.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import {
  Deployed,
  deploy,
  eventually,
  feed,
  FleetSuite,
  fleetSuite,
  logged,
  noticeOf,
  platformFlow,
  reportVersions,
  t1,
  t3,
} from '../helpers/fleet-red';
import { assertNothingSent, assertRedRing, delay, Msg, recordStatuses } from '../helpers/red';
import type { NodeStatus } from 'node-red';

helper.init(require.resolve('node-red'));

const PACKAGE = Buffer.from('firmware 2.0.0 for pk1, hosted');
const EMPTY_COUNTS = { CONFIRM: 0, QUEUED: 0, NOTIFIED: 0, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 };

async function upload(
  d: Deployed,
  version = '2.0.0',
  bytes = PACKAGE,
): Promise<Record<string, unknown> & { id: string }> {
  const res = await helper
    .request()
    .post(`/ota/fleets/${d.platform.fleet.id}/firmware?productKey=pk1&version=${version}`)
    .set('Content-Type', 'application/octet-stream')
    .send(bytes)
    .expect(201);
  return res.body;
}

/** A deployed platform, devices at 1.0.0 and a hosted 2.0.0 that needs no verification. */
async function ready(
  suite: FleetSuite,
  devices: string[],
  fleetProps: Record<string, unknown> = { requireVerification: false },
) {
  const d = await deploy(platformFlow(suite, { fleetProps }));
  await reportVersions(d, 'pk1', devices, '1.0.0');
  const firmware = await upload(d);
  return { d, firmware };
}

function startBatch(d: Deployed, payload: Record<string, unknown>): void {
  feed(d.platform.push!, { _msgid: 'start', payload });
}

function control(d: Deployed, msg: Record<string, unknown>): void {
  feed(d.platform.push!, { _msgid: 'control', ...msg });
}

/** The next `n` messages of an inbox. */
async function take(box: Deployed['sent'], n: number): Promise<Msg[]> {
  const out: Msg[] = [];
  for (let i = 0; i < n; i++) out.push(await box.next());
  return out;
}

/** A task event without its time. */
function taskEvent(msg: Msg) {
  should(msg.topic).equal('task');
  const { at, taskId: _t, ...rest } = msg.payload as Record<string, unknown>;
  should(at).be.a.Number();
  return rest;
}

/** A batch event without its time. */
function batchEvent(msg: Msg) {
  should(msg.topic).equal('batch');
  const { at, ...rest } = msg.payload as Record<string, unknown>;
  should(at).be.a.Number();
  return rest;
}

async function getBatch(d: Deployed, id: number) {
  return (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches/${id}`).expect(200)).body;
}

const notified = (batchId: number, deviceName: string, attempts = 1) => ({
  batchId,
  productKey: 'pk1',
  deviceName,
  module: 'default',
  from: 'QUEUED',
  to: 'NOTIFIED',
  reason: null,
  step: null,
  attempts,
});

describe('ota-push with a fleet', function () {
  const suite = fleetSuite('push');

  describe('a batch started by message', function () {
    it('sends one T2 per target on output 1, with batchId, productKey, deviceName and QoS 1', async function () {
      const { d, firmware } = await ready(suite, ['dev1', 'dev2', 'dev3']);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' }, strategy: {} });
      const sent = await take(d.sent, 3);
      const batchId = sent[0].batchId as number;
      should(batchId).be.a.Number();
      should(
        sent.map((m) => ({
          topic: m.topic,
          qos: m.qos,
          productKey: m.productKey,
          deviceName: m.deviceName,
          batchId: m.batchId,
        })),
      ).eql(
        ['dev1', 'dev2', 'dev3'].map((dn) => ({
          topic: `/ota/device/upgrade/pk1/${dn}`,
          qos: 1,
          productKey: 'pk1',
          deviceName: dn,
          batchId,
        })),
      );
      for (const m of sent) {
        const notice = noticeOf(m);
        should(notice).eql({
          code: '1000',
          data: {
            size: PACKAGE.length,
            version: '2.0.0',
            url: notice.data.url,
            signMethod: 'Md5',
            sign: firmware.md5,
            md5: firmware.md5,
          },
          id: notice.id,
          message: 'success',
        });
        should(notice.data.url).match(
          new RegExp(`^${suite.nodeUrl}/ota/firmware/${d.platform.fleet.id}/${firmware.id}\\?e=\\d+&s=[\\w-]+$`),
        );
      }
      await delay(50);
      should(d.sent.messages).have.length(3);
    });

    it('sends the batch and task events on output 2', async function () {
      const { d, firmware } = await ready(suite, ['dev1', 'dev2']);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' }, strategy: {} });
      const [created, ...tasks] = await take(d.events, 3);
      const batchId = (created.payload as { batchId: number }).batchId;
      should(batchEvent(created)).eql({
        batchId,
        from: null,
        to: 'IN_PROGRESS',
        reason: null,
        counts: { ...EMPTY_COUNTS, QUEUED: 2 },
      });
      should(tasks.map(taskEvent)).eql([notified(batchId, 'dev1'), notified(batchId, 'dev2')]);
    });

    it('refuses an unverified firmware with an error that says how to go on', async function () {
      const { d, firmware } = await ready(suite, ['dev1'], { requireVerification: true });
      const statuses = recordStatuses(d.platform.push!.id);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' }, strategy: {} });
      const caught = await d.caught.next();
      const reason =
        `firmware ${firmware.id} (pk1/default 2.0.0) is unverified: verify it on up to 10 test devices first ` +
        '(a batch of type "verify", or ota-verify with test devices), or turn off "require verification" on the fleet';
      should((caught.error as { message: string; source: { id: string } }).message).equal(`FleetError: ${reason}`);
      should((caught.error as { source: { id: string } }).source.id).equal(d.platform.push!.id);
      assertRedRing(statuses, reason);
      await assertNothingSent([d.sent, d.events]);
      should((await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches`).expect(200)).body).eql([]);
    });

    it('refuses a batch request that names no firmware', async function () {
      const { d } = await ready(suite, ['dev1']);
      startBatch(d, { type: 'static', targets: { selection: 'ALL', productKey: 'pk1' } });
      const caught = await d.caught.next();
      should((caught.error as { message: string }).message).equal(
        'ProtocolError: firmwareId is required: the id of a firmware in the catalog (or a firmware descriptor in "firmware")',
      );
      await assertNothingSent([d.sent, d.events]);
    });
  });

  describe('controls', function () {
    it('cancel ends the batch and every open task', async function () {
      const { d, firmware } = await ready(suite, ['dev1', 'dev2']);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' } });
      const [created] = await take(d.events, 3);
      const batchId = (created.payload as { batchId: number }).batchId;
      control(d, { action: 'cancel', batchId });
      const events = await take(d.events, 3);
      const canceled = (dn: string) => ({
        batchId,
        productKey: 'pk1',
        deviceName: dn,
        module: 'default',
        from: 'NOTIFIED',
        to: 'CANCELED',
        reason: 'batch canceled',
        step: null,
        attempts: 1,
      });
      should(taskEvent(events[0])).eql(canceled('dev1'));
      should(taskEvent(events[1])).eql(canceled('dev2'));
      should(batchEvent(events[2])).eql({
        batchId,
        from: 'IN_PROGRESS',
        to: 'CANCELED',
        reason: 'canceled by a user',
        counts: { ...EMPTY_COUNTS, CANCELED: 2 },
      });
      should((await getBatch(d, batchId)).state).equal('CANCELED');
    });

    it('with needConfirm the tasks wait in CONFIRM, and confirm of one device pushes only that one', async function () {
      const { d, firmware } = await ready(suite, ['dev1', 'dev2']);
      startBatch(d, {
        firmwareId: firmware.id,
        type: 'static',
        targets: { selection: 'ALL' },
        strategy: { needConfirm: true },
      });
      const created = await d.events.next();
      const batchId = (created.payload as { batchId: number }).batchId;
      should(batchEvent(created)).eql({
        batchId,
        from: null,
        to: 'IN_PROGRESS',
        reason: null,
        counts: { ...EMPTY_COUNTS, CONFIRM: 2 },
      });
      await assertNothingSent([d.sent]);

      control(d, { action: 'confirm', batchId, deviceName: 'dev2' });
      const [confirmed, pushed] = await take(d.events, 2);
      should(taskEvent(confirmed)).eql({
        batchId,
        productKey: 'pk1',
        deviceName: 'dev2',
        module: 'default',
        from: 'CONFIRM',
        to: 'QUEUED',
        reason: null,
        step: null,
        attempts: 0,
      });
      should(taskEvent(pushed)).eql(notified(batchId, 'dev2'));
      const sent = await d.sent.next();
      should(sent.topic).equal('/ota/device/upgrade/pk1/dev2');
      await delay(50);
      should(d.sent.messages).have.length(1);
      should((await getBatch(d, batchId)).counts).eql({ ...EMPTY_COUNTS, CONFIRM: 1, NOTIFIED: 1 });
    });

    it('a paused batch pushes nothing until it is resumed', async function () {
      const { d, firmware } = await ready(suite, ['dev1', 'dev2']);
      startBatch(d, {
        firmwareId: firmware.id,
        type: 'static',
        targets: { selection: 'ALL' },
        strategy: { needConfirm: true },
      });
      const batchId = ((await d.events.next()).payload as { batchId: number }).batchId;
      control(d, { action: 'pause', batchId });
      should(batchEvent(await d.events.next())).eql({
        batchId,
        from: 'IN_PROGRESS',
        to: 'PAUSED',
        reason: 'paused by a user',
        counts: { ...EMPTY_COUNTS, CONFIRM: 2 },
      });
      control(d, { action: 'confirm', batchId });
      await take(d.events, 2); // CONFIRM → QUEUED, twice
      await assertNothingSent([d.sent], 100);
      should((await getBatch(d, batchId)).state).equal('PAUSED');

      control(d, { action: 'resume', batchId });
      should(batchEvent(await d.events.next())).eql({
        batchId,
        from: 'PAUSED',
        to: 'IN_PROGRESS',
        reason: null,
        counts: { ...EMPTY_COUNTS, QUEUED: 2 },
      });
      const sent = await take(d.sent, 2);
      should(sent.map((m) => m.topic)).eql(['/ota/device/upgrade/pk1/dev1', '/ota/device/upgrade/pk1/dev2']);
    });

    it('reupgrade after a failure queues the task again, reopens the batch and pushes a new notice', async function () {
      const { d, firmware } = await ready(suite, ['dev1']);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' } });
      const first = await d.sent.next();
      const batchId = first.batchId as number;
      feed(d.platform.progress, t3('pk1', 'dev1', -1, 'bad flash'));
      await d.progressed.next();
      should((await getBatch(d, batchId)).state).equal('COMPLETED');
      const seen = d.events.messages.length;

      control(d, { action: 'reupgrade', batchId, productKey: 'pk1', deviceName: 'dev1' });
      const again = await d.sent.next();
      should({ topic: again.topic, batchId: again.batchId }).eql({ topic: '/ota/device/upgrade/pk1/dev1', batchId });
      should(noticeOf(again).id).be.above(noticeOf(first).id);
      await eventually('the three events', () => d.events.messages.length >= seen + 3);
      const events = d.events.messages.slice(seen, seen + 3);
      should(taskEvent(events[0])).eql({
        batchId,
        productKey: 'pk1',
        deviceName: 'dev1',
        module: 'default',
        from: 'FAILED',
        to: 'QUEUED',
        reason: null,
        step: null,
        attempts: 1,
      });
      should(batchEvent(events[1])).eql({
        batchId,
        from: 'COMPLETED',
        to: 'IN_PROGRESS',
        reason: 're-upgrade of failed or canceled tasks',
        counts: { ...EMPTY_COUNTS, QUEUED: 1 },
      });
      should(taskEvent(events[2])).eql(notified(batchId, 'dev1', 2));
    });

    it('reupgrade of a task that did not fail is refused with the reason', async function () {
      const { d, firmware } = await ready(suite, ['dev1']);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' } });
      const batchId = (await d.sent.next()).batchId as number;
      control(d, { action: 'reupgrade', batchId, deviceName: 'dev1' });
      const caught = await d.caught.next();
      should((caught.error as { message: string }).message).equal(
        'FleetError: only FAILED or CANCELED tasks can be upgraded again',
      );
    });

    it('tag sets the tags a GROUP batch then selects', async function () {
      const { d, firmware } = await ready(suite, ['dev1', 'dev2', 'dev3']);
      control(d, { action: 'tag', tags: ['beta'], productKey: 'pk1', devices: ['dev2', 'dev3'] });
      const tagsOf = async (dn: string) =>
        (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/devices/pk1/${dn}`).expect(200)).body.tags;
      await eventually('dev2 to be tagged', async () => (await tagsOf('dev2')).length > 0);
      should([await tagsOf('dev1'), await tagsOf('dev2'), await tagsOf('dev3')]).eql([[], ['beta'], ['beta']]);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'GROUP', tag: 'beta' } });
      const sent = await take(d.sent, 2);
      should(sent.map((m) => m.deviceName)).eql(['dev2', 'dev3']);
      await delay(50);
      should(d.sent.messages).have.length(2);
      await assertNothingSent([d.caught], 0);
    });

    it('a control without a fleet batch id is refused naming msg.batchId', async function () {
      const { d } = await ready(suite, ['dev1']);
      control(d, { action: 'pause', batchId: 'seven' });
      const caught = await d.caught.next();
      should((caught.error as { message: string }).message).equal(
        'ProtocolError: msg.batchId must be the id of a batch (a positive integer), got "seven"',
      );
    });
  });

  describe('a direct push', function () {
    const URL = 'https://cdn.example.com/pk1/1.0.2.bin';
    const MD5 = 'fc3ff98e8c6a0d3087d515c0473f8677';
    /** These tests are about how a push is recorded, not the gate: the node allows unverified pushes. */
    const UNVERIFIED_OK = { pushProps: { allowUnverified: true } };

    it('of a package nobody verified is refused by default: done(err), no batch, no firmware, nothing sent', async function () {
      const d = await deploy(platformFlow(suite));
      feed(d.platform.push!, {
        _msgid: 'direct',
        payload: { version: '1.0.2', url: URL, size: 12, md5: MD5 },
        productKey: 'pk1',
        deviceName: 'dev7',
      });
      const caught = await d.caught.next();
      should(caught.error).match({
        code: 'OTA_REFUSED',
        message: /is unverified: verify it first .*"allow unverified direct pushes" on the ota-push node/,
      });
      should((await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches`).expect(200)).body).eql([]);
      should((await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/firmware`).expect(200)).body).eql([]);
      await assertNothingSent([d.sent]);
    });

    it('of an unverified catalog record (as ota-verify sends it) is refused by default', async function () {
      const d = await deploy(platformFlow(suite));
      const record = await upload(d);
      should(record.verification).equal('unverified');
      // ota-verify sends the record with its signed URL.
      const url = `http://127.0.0.1/ota/firmware/${d.platform.fleet.id}/${record.id}?e=1&s=x`;
      feed(d.platform.push!, { _msgid: 'direct', payload: { ...record, url }, productKey: 'pk1', deviceName: 'dev7' });
      const caught = await d.caught.next();
      should(caught.error).match({
        code: 'OTA_REFUSED',
        message: new RegExp(`firmware ${record.id} .* is unverified`),
      });
      await assertNothingSent([d.sent]);
    });

    it('with "allow unverified direct pushes", goes out, and the node says so in its status', async function () {
      const d = await deploy(platformFlow(suite, UNVERIFIED_OK));
      const statuses = recordStatuses(d.platform.push!.id);
      feed(d.platform.push!, {
        _msgid: 'direct',
        payload: { version: '1.0.2', url: URL, size: 12, md5: MD5 },
        productKey: 'pk1',
        deviceName: 'dev7',
      });
      should((await d.sent.next()).topic).equal('/ota/device/upgrade/pk1/dev7');
      const batches = (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches`).expect(200)).body;
      should(batches[0]).match({ direct: true, allowUnverified: true });
      await eventually('the status to warn', () =>
        statuses.some((s) => /^unverified pushes allowed · /.test(String(s.text)) && s.fill === 'yellow'),
      );
    });

    it('is recorded as a one-off batch (direct: true) and sends the notice at once', async function () {
      const d = await deploy(platformFlow(suite, UNVERIFIED_OK));
      feed(d.platform.push!, {
        _msgid: 'direct',
        payload: { version: '1.0.2', url: URL, size: 12, md5: MD5 },
        productKey: 'pk1',
        deviceName: 'dev7',
      });
      const sent = await d.sent.next();
      const batchId = sent.batchId as number;
      should({ topic: sent.topic, qos: sent.qos, productKey: sent.productKey, deviceName: sent.deviceName }).eql({
        topic: '/ota/device/upgrade/pk1/dev7',
        qos: 1,
        productKey: 'pk1',
        deviceName: 'dev7',
      });
      should(sent.payload).equal(
        `{"code":"1000","data":{"size":12,"version":"1.0.2","url":"${URL}","signMethod":"Md5","sign":"${MD5}","md5":"${MD5}"},"id":${noticeOf(sent).id},"message":"success"}`,
      );
      const batches = (await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches`).expect(200)).body;
      should(batches).have.length(1);
      should(batches[0]).match({
        id: batchId,
        type: 'static',
        state: 'IN_PROGRESS',
        direct: true,
        counts: { ...EMPTY_COUNTS, NOTIFIED: 1 },
      });
      const firmware = (
        await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/firmware/${batches[0].firmwareId}`).expect(200)
      ).body;
      should(firmware).match({
        productKey: 'pk1',
        module: 'default',
        version: '1.0.2',
        size: 12,
        md5: MD5,
        url: URL,
        hosted: false,
      });
    });

    it('pushing the same package again to the same device replaces the first task', async function () {
      const d = await deploy(platformFlow(suite, UNVERIFIED_OK));
      const payload = { version: '1.0.2', url: URL, size: 12, md5: MD5 };
      feed(d.platform.push!, { _msgid: 'direct', payload, productKey: 'pk1', deviceName: 'dev7' });
      const first = (await d.sent.next()).batchId as number;
      feed(d.platform.push!, { _msgid: 'direct', payload, productKey: 'pk1', deviceName: 'dev7' });
      const second = (await d.sent.next()).batchId as number;
      should(second).be.above(first);
      const tasks = (
        await helper.request().get(`/ota/fleets/${d.platform.fleet.id}/batches/${first}/tasks`).expect(200)
      ).body;
      should(tasks.map((t: { state: string; reason: string }) => [t.state, t.reason])).eql([
        ['CANCELED', `replaced by batch ${second}`],
      ]);
    });

    it('pushing the same version again with a freshly signed URL sends the new URL', async function () {
      const d = await deploy(platformFlow(suite, UNVERIFIED_OK));
      feed(d.platform.push!, {
        _msgid: 'direct',
        payload: { version: '1.0.2', url: `${URL}?Expires=1&Signature=a`, size: 12, md5: MD5 },
        productKey: 'pk1',
        deviceName: 'dev7',
      });
      await d.sent.next();
      feed(d.platform.push!, {
        _msgid: 'direct',
        payload: { version: '1.0.2', url: `${URL}?Expires=2&Signature=b`, size: 12, md5: MD5 },
        productKey: 'pk1',
        deviceName: 'dev7',
      });
      const again = await d.sent.next();
      should(noticeOf(again).data.url).equal(`${URL}?Expires=2&Signature=b`);
    });

    it('is tracked: the device reporting the version completes its task', async function () {
      const d = await deploy(platformFlow(suite, UNVERIFIED_OK));
      feed(d.platform.push!, {
        _msgid: 'direct',
        payload: { version: '1.0.2', url: URL, size: 12, md5: MD5 },
        productKey: 'pk1',
        deviceName: 'dev7',
      });
      const batchId = (await d.sent.next()).batchId as number;
      feed(d.platform.inform, t1('pk1', 'dev7', '1.0.2'));
      should((await d.informed.next()).payload).eql({
        productKey: 'pk1',
        deviceName: 'dev7',
        module: 'default',
        version: '1.0.2',
        id: 1,
        batchId,
        state: 'SUCCEEDED',
      });
      await eventually('the batch to complete', () =>
        d.events.messages.some((m) => m.topic === 'batch' && (m.payload as { to: string }).to === 'COMPLETED'),
      );
    });
  });

  describe('without an ota-push', function () {
    it('pushes nothing: tasks stay QUEUED until an ota-push is deployed, which then pushes them', async function () {
      const platform = platformFlow(suite, { fleetProps: { requireVerification: false }, push: false });
      const d = await deploy(platform);
      await reportVersions(d, 'pk1', ['dev1', 'dev2'], '1.0.0');
      const firmware = await upload(d);
      const fleetId = platform.fleet.id;
      const created = await helper
        .request()
        .post(`/ota/fleets/${fleetId}/batches`)
        .send({ firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' } })
        .expect(201);
      await delay(100);
      const queued = (
        await helper.request().get(`/ota/fleets/${fleetId}/batches/${created.body.id}/tasks?state=QUEUED`).expect(200)
      ).body;
      should(queued.map((t: { deviceName: string }) => t.deviceName)).eql(['dev1', 'dev2']);
      should((await getBatch(d, created.body.id)).counts).eql({ ...EMPTY_COUNTS, QUEUED: 2 });
      should(logged('WARN', platform.fleet.id)).eql([
        'fleet "test fleet" has messages to send but no ota-push node is deployed for it: tasks stay QUEUED until one is',
      ]);

      await helper.unload();
      const withPush = platformFlow(suite, { fleet: platform.fleet });
      const again = await deploy(withPush);
      const sent = await take(again.sent, 2);
      should(sent.map((m) => [m.topic, m.batchId])).eql([
        ['/ota/device/upgrade/pk1/dev1', created.body.id],
        ['/ota/device/upgrade/pk1/dev2', created.body.id],
      ]);
    });
  });

  describe('status', function () {
    it('shows live counts of the open batches', async function () {
      const { d, firmware } = await ready(suite, ['dev1', 'dev2', 'dev3']);
      const statuses = recordStatuses(d.platform.push!.id);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' } });
      await take(d.sent, 3);
      const shown = (text: string) => statuses.some((s: NodeStatus) => s.text === text);
      await eventually('"3 upgrading · 0 done · 0 failed"', () => shown('3 upgrading · 0 done · 0 failed'));
      feed(d.platform.inform, t1('pk1', 'dev1', '2.0.0'));
      feed(d.platform.progress, t3('pk1', 'dev2', -1));
      await eventually('"1 upgrading · 1 done · 1 failed"', () => shown('1 upgrading · 1 done · 1 failed'));
      should(statuses[statuses.length - 1]).eql({
        fill: 'yellow',
        shape: 'dot',
        text: '1 upgrading · 1 done · 1 failed',
      });
    });

    it('follows the tasks with nothing wired to output 2, which sends no events', async function () {
      const platform = platformFlow(suite, { fleetProps: { requireVerification: false } });
      const push = platform.flow.find((n) => n.id === platform.push!.id) as { wires: string[][] };
      push.wires = [push.wires[0], []];
      const d = await deploy(platform);
      await reportVersions(d, 'pk1', ['dev1', 'dev2'], '1.0.0');
      const firmware = await upload(d);
      const statuses = recordStatuses(d.platform.push!.id);
      startBatch(d, { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' } });
      await take(d.sent, 2);
      feed(d.platform.inform, t1('pk1', 'dev1', '2.0.0'));
      const shown = (text: string) => statuses.some((s: NodeStatus) => s.text === text);
      await eventually('"1 upgrading · 1 done · 0 failed"', () => shown('1 upgrading · 1 done · 0 failed'));
      await assertNothingSent([d.events]);
    });
  });
});
