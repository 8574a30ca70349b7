/**
 * Per device, through ota-push: cancel, confirm and re-upgrade of one named device of a batch
 * (`msg.action` with `msg.batchId` and `msg.productKey`/`msg.deviceName`, or `msg.devices`).
 * Only the named tasks change; the notices on output 1 go to exactly the named devices; refusals
 * reach a Catch node with their reason and change nothing.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import {
  Deployed,
  deploy,
  feed,
  FleetSuite,
  fleetSuite,
  noticeOf,
  platformFlow,
  reportVersions,
  t1,
  t3,
} from '../helpers/fleet-red';
import { assertNothingSent, delay, Inbox, Msg } from '../helpers/red';

helper.init(require.resolve('node-red'));

const PACKAGE = Buffer.from('firmware 2.0.0 for pk1, per device');
const EMPTY_COUNTS = { CONFIRM: 0, QUEUED: 0, NOTIFIED: 0, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 };

interface Started {
  d: Deployed;
  batchId: number;
  firmware: { id: string; md5: string };
}

/**
 * Devices at 1.0.0, a hosted 2.0.0 that needs no verification, and a static batch to all of them
 * started through ota-push. retryCount stays 0 (the default): a failure is final at once, so no
 * test waits for a retry. Returns once every setup event was read from output 2.
 */
async function started(suite: FleetSuite, devices: string[], strategy: Record<string, unknown> = {}): Promise<Started> {
  const d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
  await reportVersions(d, 'pk1', devices, '1.0.0');
  const upload = await helper
    .request()
    .post(`/ota/fleets/${d.platform.fleet.id}/firmware?productKey=pk1&version=2.0.0`)
    .set('Content-Type', 'application/octet-stream')
    .send(PACKAGE)
    .expect(201);
  const firmware = upload.body as { id: string; md5: string };
  feed(d.platform.push!, {
    _msgid: 'start',
    payload: { firmwareId: firmware.id, type: 'static', targets: { selection: 'ALL' }, strategy },
  });
  const created = await d.events.next((m) => m.topic === 'batch');
  const batchId = (created.payload as { batchId: number }).batchId;
  if (strategy.needConfirm !== true) {
    // The last notice of the batch: every event before it is read.
    const last = devices[devices.length - 1];
    await d.events.next(
      (m) => m.topic === 'task' && (m.payload as { deviceName: string; to: string }).deviceName === last,
    );
    await take(d.sent, devices.length);
  }
  return { d, batchId, firmware };
}

function control(d: Deployed, msg: Record<string, unknown>): void {
  feed(d.platform.push!, { _msgid: 'control', ...msg });
}

/** The next `n` messages of an inbox. */
async function take(box: Inbox, n: number): Promise<Msg[]> {
  const out: Msg[] = [];
  for (let i = 0; i < n; i++) out.push(await box.next());
  return out;
}

/** The next `n` messages of an inbox, and nothing after them. */
async function takeExactly(box: Inbox, n: number): Promise<Msg[]> {
  const out = await take(box, n);
  await delay(50);
  should(box.messages.slice(box.messages.indexOf(out[n - 1]) + 1)).eql(
    [],
    `node ${box.nodeId} received more than ${n} message(s)`,
  );
  return out;
}

/** How many messages an inbox holds once what is under way arrived: a mark for `assertNothingSince`. */
async function mark(box: Inbox): Promise<number> {
  await delay(50);
  return box.messages.length;
}

async function assertNothingSince(box: Inbox, marked: number): Promise<void> {
  await delay(50);
  should(box.messages.slice(marked)).eql([], `node ${box.nodeId} received a message`);
}

/** A task event without its time and task id. */
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

/** A task event of pk1's `deviceName` in the default module. */
function transition(
  batchId: number,
  deviceName: string,
  from: string,
  to: string,
  more: { reason?: string | null; step?: number | null; attempts?: number } = {},
) {
  return {
    batchId,
    productKey: 'pk1',
    deviceName,
    module: 'default',
    from,
    to,
    reason: null,
    step: null,
    attempts: 1,
    ...more,
  };
}

/** The whole ota-push output-1 message of a T2 notice of the hosted 2.0.0 to pk1's `deviceName`. */
function assertNotice(msg: Msg, s: Started, deviceName: string): void {
  const { _msgid, payload: _p, ...rest } = msg;
  should(_msgid).be.a.String();
  should(rest).eql({
    topic: `/ota/device/upgrade/pk1/${deviceName}`,
    qos: 1,
    productKey: 'pk1',
    deviceName,
    batchId: s.batchId,
  });
  const notice = noticeOf(msg);
  should(notice).eql({
    code: '1000',
    data: {
      size: PACKAGE.length,
      version: '2.0.0',
      url: notice.data.url,
      signMethod: 'Md5',
      sign: s.firmware.md5,
      md5: s.firmware.md5,
    },
    id: notice.id,
    message: 'success',
  });
}

/** [deviceName, state, reason, attempts] of every task of the batch, through the admin API. */
async function tasksOf(s: Started): Promise<[string, string, string | null, number][]> {
  const res = await helper.request().get(`/ota/fleets/${s.d.platform.fleet.id}/batches/${s.batchId}/tasks`).expect(200);
  return (res.body as { deviceName: string; state: string; reason: string | null; attempts: number }[]).map((t) => [
    t.deviceName,
    t.state,
    t.reason,
    t.attempts,
  ]);
}

async function batchOf(s: Started): Promise<{ state: string; counts: Record<string, number> }> {
  const res = await helper.request().get(`/ota/fleets/${s.d.platform.fleet.id}/batches/${s.batchId}`).expect(200);
  return { state: res.body.state, counts: res.body.counts };
}

/** What a Catch node got for a refusal by the ota-push node. */
function assertCaught(caught: Msg, s: Started, code: string, message: string): void {
  const error = caught.error as { message: string; code: string; source: { id: string; type: string } };
  should({ message: error.message, code: error.code, source: { id: error.source.id, type: error.source.type } }).eql({
    message: `FleetError: ${message}`,
    code,
    source: { id: s.d.platform.push!.id, type: 'ota-push' },
  });
}

/** Fails pk1's `deviceName` with a T3 -1 and waits for its FAILED event. */
async function failByProgress(s: Started, deviceName: string): Promise<void> {
  feed(s.d.platform.progress, t3('pk1', deviceName, -1, 'bad flash'));
  await s.d.progressed.next();
  await s.d.events.next((m) => m.topic === 'task' && (m.payload as { deviceName: string; to: string }).to === 'FAILED');
}

/** pk1's `deviceName` reports `version`; waits until ota-inform passed the report on. */
async function report(s: Started, deviceName: string, version: string): Promise<Msg> {
  feed(s.d.platform.inform, t1('pk1', deviceName, version));
  return s.d.informed.next((m) => (m.payload as { deviceName: string }).deviceName === deviceName);
}

describe('ota-push: per-device controls', function () {
  const suite = fleetSuite('per-device-node');

  describe('cancel', function () {
    it('of one named device cancels only its task; the others go on and the batch completes when they succeed', async function () {
      const s = await started(suite, ['dev1', 'dev2', 'dev3']);
      control(s.d, { action: 'cancel', batchId: s.batchId, productKey: 'pk1', deviceName: 'dev2' });
      const [canceled] = await takeExactly(s.d.events, 1);
      should(taskEvent(canceled)).eql(
        transition(s.batchId, 'dev2', 'NOTIFIED', 'CANCELED', { reason: 'canceled by a user' }),
      );
      should(await batchOf(s)).eql({ state: 'IN_PROGRESS', counts: { ...EMPTY_COUNTS, NOTIFIED: 2, CANCELED: 1 } });

      await report(s, 'dev1', '2.0.0');
      await report(s, 'dev3', '2.0.0');
      const events = await takeExactly(s.d.events, 3);
      should(taskEvent(events[0])).eql(transition(s.batchId, 'dev1', 'NOTIFIED', 'SUCCEEDED'));
      should(taskEvent(events[1])).eql(transition(s.batchId, 'dev3', 'NOTIFIED', 'SUCCEEDED'));
      should(batchEvent(events[2])).eql({
        batchId: s.batchId,
        from: 'IN_PROGRESS',
        to: 'COMPLETED',
        reason: null,
        counts: { ...EMPTY_COUNTS, SUCCEEDED: 2, CANCELED: 1 },
      });
      should(await tasksOf(s)).eql([
        ['dev1', 'SUCCEEDED', null, 1],
        ['dev2', 'CANCELED', 'canceled by a user', 1],
        ['dev3', 'SUCCEEDED', null, 1],
      ]);
      should(s.d.sent.messages).have.length(3); // the three first notices, none since
      await assertNothingSent([s.d.caught], 0);
    });

    it('with msg.devices cancels exactly the listed devices', async function () {
      const s = await started(suite, ['dev1', 'dev2', 'dev3']);
      control(s.d, { action: 'cancel', batchId: s.batchId, productKey: 'pk1', devices: ['dev1', 'dev3'] });
      const events = await takeExactly(s.d.events, 2);
      should(events.map(taskEvent)).eql([
        transition(s.batchId, 'dev1', 'NOTIFIED', 'CANCELED', { reason: 'canceled by a user' }),
        transition(s.batchId, 'dev3', 'NOTIFIED', 'CANCELED', { reason: 'canceled by a user' }),
      ]);
      should(await batchOf(s)).eql({ state: 'IN_PROGRESS', counts: { ...EMPTY_COUNTS, NOTIFIED: 1, CANCELED: 2 } });
    });

    it('of the last open task completes the batch at once', async function () {
      const s = await started(suite, ['dev1', 'dev2']);
      await report(s, 'dev1', '2.0.0');
      await s.d.events.next((m) => m.topic === 'task');
      control(s.d, { action: 'cancel', batchId: s.batchId, deviceName: 'dev2' });
      const events = await takeExactly(s.d.events, 2);
      should(taskEvent(events[0])).eql(
        transition(s.batchId, 'dev2', 'NOTIFIED', 'CANCELED', { reason: 'canceled by a user' }),
      );
      should(batchEvent(events[1])).eql({
        batchId: s.batchId,
        from: 'IN_PROGRESS',
        to: 'COMPLETED',
        reason: null,
        counts: { ...EMPTY_COUNTS, SUCCEEDED: 1, CANCELED: 1 },
      });
    });

    it('of a device not in the batch is refused naming it, and cancels nothing', async function () {
      const s = await started(suite, ['dev1', 'dev2']);
      const events = await mark(s.d.events);
      control(s.d, { action: 'cancel', batchId: s.batchId, productKey: 'pk1', devices: ['dev1', 'ghost'] });
      assertCaught(await s.d.caught.next(), s, 'OTA_NOT_FOUND', `pk1/ghost is not in batch ${s.batchId}`);
      await assertNothingSince(s.d.events, events);
      should(await tasksOf(s)).eql([
        ['dev1', 'NOTIFIED', null, 1],
        ['dev2', 'NOTIFIED', null, 1],
      ]);
    });
  });

  describe('confirm', function () {
    it('of one named device in a needConfirm batch moves only that task CONFIRM → QUEUED and notifies only it', async function () {
      const s = await started(suite, ['dev1', 'dev2', 'dev3'], { needConfirm: true });
      await assertNothingSent([s.d.sent]);
      control(s.d, { action: 'confirm', batchId: s.batchId, productKey: 'pk1', deviceName: 'dev2' });
      const [sent] = await takeExactly(s.d.sent, 1);
      assertNotice(sent, s, 'dev2');
      const events = await takeExactly(s.d.events, 2);
      should(events.map(taskEvent)).eql([
        transition(s.batchId, 'dev2', 'CONFIRM', 'QUEUED', { attempts: 0 }),
        transition(s.batchId, 'dev2', 'QUEUED', 'NOTIFIED'),
      ]);
      should(await tasksOf(s)).eql([
        ['dev1', 'CONFIRM', null, 0],
        ['dev2', 'NOTIFIED', null, 1],
        ['dev3', 'CONFIRM', null, 0],
      ]);
    });

    it('with msg.devices confirms exactly the listed devices', async function () {
      const s = await started(suite, ['dev1', 'dev2', 'dev3'], { needConfirm: true });
      control(s.d, { action: 'confirm', batchId: s.batchId, productKey: 'pk1', devices: ['dev1', 'dev3'] });
      const sent = await takeExactly(s.d.sent, 2);
      assertNotice(sent[0], s, 'dev1');
      assertNotice(sent[1], s, 'dev3');
      should(await tasksOf(s)).eql([
        ['dev1', 'NOTIFIED', null, 1],
        ['dev2', 'CONFIRM', null, 0],
        ['dev3', 'NOTIFIED', null, 1],
      ]);
    });

    it('of a device not in the batch is refused naming it, and confirms nothing', async function () {
      const s = await started(suite, ['dev1', 'dev2'], { needConfirm: true });
      control(s.d, { action: 'confirm', batchId: s.batchId, productKey: 'pk2', deviceName: 'dev1' });
      assertCaught(await s.d.caught.next(), s, 'OTA_NOT_FOUND', `pk2/dev1 is not in batch ${s.batchId}`);
      await assertNothingSent([s.d.sent]);
      should(await tasksOf(s)).eql([
        ['dev1', 'CONFIRM', null, 0],
        ['dev2', 'CONFIRM', null, 0],
      ]);
    });
  });

  describe('reupgrade', function () {
    it('of one named device failed by a T3 -1 queues it again, notifies only it and re-opens the completed batch', async function () {
      const s = await started(suite, ['dev1', 'dev2']);
      const first = s.d.sent.messages[0];
      await failByProgress(s, 'dev1');
      await report(s, 'dev2', '2.0.0');
      await s.d.events.next((m) => m.topic === 'batch' && (m.payload as { to: string }).to === 'COMPLETED');
      should(await tasksOf(s)).eql([
        ['dev1', 'FAILED', 'step -1 (upgrade failed): bad flash', 1],
        ['dev2', 'SUCCEEDED', null, 1],
      ]);

      control(s.d, { action: 'reupgrade', batchId: s.batchId, productKey: 'pk1', deviceName: 'dev1' });
      const [again] = await takeExactly(s.d.sent, 1);
      assertNotice(again, s, 'dev1');
      should(noticeOf(again).id).be.above(noticeOf(first).id);
      const events = await takeExactly(s.d.events, 3);
      should(taskEvent(events[0])).eql(transition(s.batchId, 'dev1', 'FAILED', 'QUEUED'));
      should(batchEvent(events[1])).eql({
        batchId: s.batchId,
        from: 'COMPLETED',
        to: 'IN_PROGRESS',
        reason: 're-upgrade of failed or canceled tasks',
        counts: { ...EMPTY_COUNTS, QUEUED: 1, SUCCEEDED: 1 },
      });
      should(taskEvent(events[2])).eql(transition(s.batchId, 'dev1', 'QUEUED', 'NOTIFIED', { attempts: 2 }));
      should(await tasksOf(s)).eql([
        ['dev1', 'NOTIFIED', null, 2],
        ['dev2', 'SUCCEEDED', null, 1],
      ]);
      should(await batchOf(s)).eql({ state: 'IN_PROGRESS', counts: { ...EMPTY_COUNTS, NOTIFIED: 1, SUCCEEDED: 1 } });
    });

    it('with msg.devices, of a device failed by a version mismatch, queues it again in the open batch', async function () {
      const s = await started(suite, ['dev1', 'dev2']);
      should((await report(s, 'dev1', '1.5.0')).payload).match({ batchId: s.batchId, state: 'FAILED' });
      await s.d.events.next((m) => m.topic === 'task');
      should((await tasksOf(s))[0]).eql([
        'dev1',
        'FAILED',
        'version mismatch: the device reported 1.5.0, expected 2.0.0 (was 1.0.0)',
        1,
      ]);

      control(s.d, { action: 'reupgrade', batchId: s.batchId, productKey: 'pk1', devices: ['dev1'] });
      const [again] = await takeExactly(s.d.sent, 1);
      assertNotice(again, s, 'dev1');
      const events = await takeExactly(s.d.events, 2);
      should(events.map(taskEvent)).eql([
        transition(s.batchId, 'dev1', 'FAILED', 'QUEUED'),
        transition(s.batchId, 'dev1', 'QUEUED', 'NOTIFIED', { attempts: 2 }),
      ]);
      should(await batchOf(s)).eql({ state: 'IN_PROGRESS', counts: { ...EMPTY_COUNTS, NOTIFIED: 2 } });
    });

    it('of a device failed by a version mismatch takes the version it now runs as its source: a reboot before answering pushes it again', async function () {
      const s = await started(suite, ['dev1']);
      await report(s, 'dev1', '1.5.0');
      await s.d.events.next((m) => m.topic === 'batch');
      control(s.d, { action: 'reupgrade', batchId: s.batchId, deviceName: 'dev1' });
      await s.d.sent.next();
      await s.d.events.next((m) => m.topic === 'task' && (m.payload as { to: string }).to === 'NOTIFIED');
      // The device boots (still at 1.5.0, where it was when re-upgraded) before it answers the notice.
      should((await report(s, 'dev1', '1.5.0')).payload).match({
        batchId: s.batchId,
        state: 'QUEUED',
        reason: 'the device rebooted before answering; pushed again',
      });
      assertNotice(await s.d.sent.next(), s, 'dev1');
    });

    it('of a device whose task did not fail is refused through done(err), and re-upgrades none of the listed devices', async function () {
      const s = await started(suite, ['dev1', 'dev2']);
      await failByProgress(s, 'dev1');
      const [events, sent] = [await mark(s.d.events), await mark(s.d.sent)];
      control(s.d, { action: 'reupgrade', batchId: s.batchId, productKey: 'pk1', devices: ['dev1', 'dev2'] });
      assertCaught(await s.d.caught.next(), s, 'OTA_REFUSED', 'only FAILED or CANCELED tasks can be upgraded again');
      await assertNothingSince(s.d.events, events);
      await assertNothingSince(s.d.sent, sent);
      should(await tasksOf(s)).eql([
        ['dev1', 'FAILED', 'step -1 (upgrade failed): bad flash', 1],
        ['dev2', 'NOTIFIED', null, 1],
      ]);
    });

    it('of a device not in the batch is refused naming it', async function () {
      const s = await started(suite, ['dev1']);
      await failByProgress(s, 'dev1');
      const [events, sent] = [await mark(s.d.events), await mark(s.d.sent)];
      control(s.d, { action: 'reupgrade', batchId: s.batchId, productKey: 'pk1', deviceName: 'stranger' });
      assertCaught(await s.d.caught.next(), s, 'OTA_NOT_FOUND', `pk1/stranger is not in batch ${s.batchId}`);
      await assertNothingSince(s.d.events, events);
      await assertNothingSince(s.d.sent, sent);
      should(await tasksOf(s)).eql([['dev1', 'FAILED', 'step -1 (upgrade failed): bad flash', 1]]);
    });
  });
});
