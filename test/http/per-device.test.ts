/**
 * Per device, over the admin API: `POST …/batches/:id/tasks/:productKey/:deviceName/cancel |
 * confirm | reupgrade`. Each answers the batch (with its live counts) or a 4xx `{error}`; only the
 * named task changes, and notices go to exactly the named device.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Response } from 'supertest';
import {
  assertNoStackTrace,
  Deployed,
  deploy,
  feed,
  fleetSuite,
  platformFlow,
  reportVersions,
  t1,
  t3,
} from '../helpers/fleet-red';
import { delay, Msg } from '../helpers/red';

helper.init(require.resolve('node-red'));

const PACKAGE = Buffer.from('firmware 2.0.0 of pk1, per device over HTTP');
const EMPTY_COUNTS = { CONFIRM: 0, QUEUED: 0, NOTIFIED: 0, IN_PROGRESS: 0, SUCCEEDED: 0, FAILED: 0, CANCELED: 0 };

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** Every answer is checked for stack traces on the way. */
function answer(res: Response): Answer {
  assertNoStackTrace(res.text ?? '');
  return { status: res.status, body: res.body };
}

const api = {
  get: async (path: string) => answer(await helper.request().get(path)),
  post: async (path: string, body?: object) =>
    answer(await (body === undefined ? helper.request().post(path) : helper.request().post(path).send(body))),
};

describe('admin API: per-device task controls', function () {
  const suite = fleetSuite('per-device-http');
  let d: Deployed;
  let base: string;
  let batch: Record<string, unknown> & { id: number };

  /**
   * Devices at 1.0.0, a hosted 2.0.0 that needs no verification, and a static batch to all of
   * them created through the API. retryCount stays 0 (the default): a failure is final at once.
   * Without needConfirm, returns once every first notice went out.
   */
  async function started(names: string[], strategy: Record<string, unknown> = {}): Promise<void> {
    d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
    base = `/ota/fleets/${d.platform.fleet.id}`;
    await reportVersions(d, 'pk1', names, '1.0.0');
    const firmware = answer(
      await helper
        .request()
        .post(`${base}/firmware?productKey=pk1&version=2.0.0`)
        .set('Content-Type', 'application/octet-stream')
        .send(PACKAGE),
    );
    should(firmware.status).equal(201);
    const created = await api.post(`${base}/batches`, {
      firmwareId: firmware.body.id,
      type: 'static',
      targets: { selection: 'ALL' },
      strategy,
    });
    should(created.status).equal(201);
    batch = created.body as typeof batch;
    if (strategy.needConfirm !== true) for (let i = 0; i < names.length; i++) await d.sent.next();
  }

  /** POST …/batches/:id/tasks/pk/dn/action. */
  const task = (action: string, deviceName: string, productKey = 'pk1') =>
    api.post(`${base}/batches/${batch.id}/tasks/${productKey}/${deviceName}/${action}`);

  /** The batch as created, as it is now: its state, reason, counts and update time as answered. */
  function batchNow(body: Record<string, unknown>, state: string, counts: Record<string, number>, reason?: string) {
    return {
      ...batch,
      state,
      updatedAt: body.updatedAt,
      counts: { ...EMPTY_COUNTS, ...counts },
      ...(reason === undefined ? {} : { reason }),
    };
  }

  /** [deviceName, state, reason, attempts] of every task of the batch. */
  async function tasks(): Promise<[string, string, string | null, number][]> {
    const res = await api.get(`${base}/batches/${batch.id}/tasks`);
    should(res.status).equal(200);
    return (
      res.body as unknown as { deviceName: string; state: string; reason: string | null; attempts: number }[]
    ).map((t) => [t.deviceName, t.state, t.reason, t.attempts]);
  }

  /** The T2 notices sent from now on, waited for until `n` arrived, then nothing more for a moment. */
  async function noticesTo(n: number, since: number): Promise<string[]> {
    for (let i = 0; i < n; i++) await d.sent.next();
    await delay(50);
    return d.sent.messages.slice(since).map((m: Msg) => String(m.topic));
  }

  async function report(deviceName: string, version: string): Promise<void> {
    feed(d.platform.inform, t1('pk1', deviceName, version));
    await d.informed.next((m) => (m.payload as { deviceName: string }).deviceName === deviceName);
  }

  async function failByProgress(deviceName: string): Promise<void> {
    feed(d.platform.progress, t3('pk1', deviceName, -1, 'bad flash'));
    await d.progressed.next();
  }

  describe('cancel', function () {
    it('cancels only the named task and answers the batch, still IN_PROGRESS; it completes when the others succeed', async function () {
      await started(['dev1', 'dev2', 'dev3']);
      const res = await task('cancel', 'dev2');
      should(res).eql({ status: 200, body: batchNow(res.body, 'IN_PROGRESS', { NOTIFIED: 2, CANCELED: 1 }) });
      should(await tasks()).eql([
        ['dev1', 'NOTIFIED', null, 1],
        ['dev2', 'CANCELED', 'canceled by a user', 1],
        ['dev3', 'NOTIFIED', null, 1],
      ]);
      await report('dev1', '2.0.0');
      await report('dev3', '2.0.0');
      const now = await api.get(`${base}/batches/${batch.id}`);
      should(now).eql({ status: 200, body: batchNow(now.body, 'COMPLETED', { SUCCEEDED: 2, CANCELED: 1 }) });
    });

    it('of the last open task completes the batch, and the answer says so', async function () {
      await started(['dev1', 'dev2']);
      await report('dev1', '2.0.0');
      const res = await task('cancel', 'dev2');
      should(res).eql({ status: 200, body: batchNow(res.body, 'COMPLETED', { SUCCEEDED: 1, CANCELED: 1 }) });
    });

    it('of a device not in the batch is a 404 naming it', async function () {
      await started(['dev1']);
      should(await task('cancel', 'ghost')).eql({
        status: 404,
        body: { error: `pk1/ghost is not in batch ${batch.id}` },
      });
      should(await task('cancel', 'dev1', 'pk2')).eql({
        status: 404,
        body: { error: `pk2/dev1 is not in batch ${batch.id}` },
      });
      should(await tasks()).eql([['dev1', 'NOTIFIED', null, 1]]);
    });

    it('of a task that already succeeded answers the batch and changes nothing', async function () {
      await started(['dev1', 'dev2']);
      await report('dev1', '2.0.0');
      const res = await task('cancel', 'dev1');
      should(res).eql({ status: 200, body: batchNow(res.body, 'IN_PROGRESS', { SUCCEEDED: 1, NOTIFIED: 1 }) });
      should(await tasks()).eql([
        ['dev1', 'SUCCEEDED', null, 1],
        ['dev2', 'NOTIFIED', null, 1],
      ]);
    });
  });

  describe('confirm', function () {
    it('moves only the named task CONFIRM → QUEUED, answers the batch and pushes only that device', async function () {
      await started(['dev1', 'dev2', 'dev3'], { needConfirm: true });
      const res = await task('confirm', 'dev2');
      should(res).eql({ status: 200, body: batchNow(res.body, 'IN_PROGRESS', { CONFIRM: 2, QUEUED: 1 }) });
      should(await noticesTo(1, 0)).eql(['/ota/device/upgrade/pk1/dev2']);
      should(await tasks()).eql([
        ['dev1', 'CONFIRM', null, 0],
        ['dev2', 'NOTIFIED', null, 1],
        ['dev3', 'CONFIRM', null, 0],
      ]);
    });

    it('of a device not in the batch is a 404 naming it', async function () {
      await started(['dev1'], { needConfirm: true });
      should(await task('confirm', 'ghost')).eql({
        status: 404,
        body: { error: `pk1/ghost is not in batch ${batch.id}` },
      });
      should(await tasks()).eql([['dev1', 'CONFIRM', null, 0]]);
    });

    it('of a task no longer in CONFIRM answers the batch and changes nothing', async function () {
      await started(['dev1', 'dev2'], { needConfirm: true });
      should(await task('confirm', 'dev1')).match({ status: 200 });
      await d.sent.next();
      const res = await task('confirm', 'dev1');
      should(res).eql({ status: 200, body: batchNow(res.body, 'IN_PROGRESS', { CONFIRM: 1, NOTIFIED: 1 }) });
      should(await noticesTo(0, 1)).eql([]);
    });

    it('in a batch that ended is a 422 saying so', async function () {
      await started(['dev1'], { needConfirm: true });
      should(await api.post(`${base}/batches/${batch.id}/cancel`)).match({ status: 200, body: { state: 'CANCELED' } });
      should(await task('confirm', 'dev1')).eql({
        status: 422,
        body: { error: `batch ${batch.id} is CANCELED: nothing to confirm` },
      });
    });
  });

  describe('reupgrade', function () {
    it('of a task failed by a T3 -1 queues it again, re-opens the completed batch and pushes only that device', async function () {
      await started(['dev1', 'dev2']);
      await failByProgress('dev1');
      await report('dev2', '2.0.0');
      should((await api.get(`${base}/batches/${batch.id}`)).body.state).equal('COMPLETED');
      const res = await task('reupgrade', 'dev1');
      should(res).eql({
        status: 200,
        body: batchNow(res.body, 'IN_PROGRESS', { QUEUED: 1, SUCCEEDED: 1 }, 're-upgrade of failed or canceled tasks'),
      });
      should(await noticesTo(1, 2)).eql(['/ota/device/upgrade/pk1/dev1']);
      should(await tasks()).eql([
        ['dev1', 'NOTIFIED', null, 2],
        ['dev2', 'SUCCEEDED', null, 1],
      ]);
    });

    it('of a task failed by a version mismatch queues it again in the open batch', async function () {
      await started(['dev1', 'dev2']);
      await report('dev1', '1.5.0');
      should((await tasks())[0]).eql([
        'dev1',
        'FAILED',
        'version mismatch: the device reported 1.5.0, expected 2.0.0 (was 1.0.0)',
        1,
      ]);
      const res = await task('reupgrade', 'dev1');
      should(res).eql({ status: 200, body: batchNow(res.body, 'IN_PROGRESS', { QUEUED: 1, NOTIFIED: 1 }) });
      should(await noticesTo(1, 2)).eql(['/ota/device/upgrade/pk1/dev1']);
      should(await tasks()).eql([
        ['dev1', 'NOTIFIED', null, 2],
        ['dev2', 'NOTIFIED', null, 1],
      ]);
    });

    it('of a task a user canceled queues it again', async function () {
      await started(['dev1', 'dev2']);
      should(await task('cancel', 'dev1')).match({ status: 200 });
      const res = await task('reupgrade', 'dev1');
      should(res).eql({ status: 200, body: batchNow(res.body, 'IN_PROGRESS', { QUEUED: 1, NOTIFIED: 1 }) });
      should(await noticesTo(1, 2)).eql(['/ota/device/upgrade/pk1/dev1']);
    });

    it('of a task that did not fail is a 422 and changes nothing', async function () {
      await started(['dev1', 'dev2']);
      should(await task('reupgrade', 'dev2')).eql({
        status: 422,
        body: { error: 'only FAILED or CANCELED tasks can be upgraded again' },
      });
      should(await tasks()).eql([
        ['dev1', 'NOTIFIED', null, 1],
        ['dev2', 'NOTIFIED', null, 1],
      ]);
      should(await noticesTo(0, 2)).eql([]);
    });

    it('of a device not in the batch is a 404 naming it', async function () {
      await started(['dev1']);
      await failByProgress('dev1');
      should(await task('reupgrade', 'dev1', 'pk2')).eql({
        status: 404,
        body: { error: `pk2/dev1 is not in batch ${batch.id}` },
      });
      should(await tasks()).eql([['dev1', 'FAILED', 'step -1 (upgrade failed): bad flash', 1]]);
    });

    it('of a device with an active task in a later batch is a 409 naming that batch', async function () {
      await started(['dev1']);
      await failByProgress('dev1');
      const later = await api.post(`${base}/batches`, {
        firmwareId: batch.firmwareId,
        type: 'static',
        targets: { selection: 'ALL' },
      });
      should(later.status).equal(201);
      should(await task('reupgrade', 'dev1')).eql({
        status: 409,
        body: { error: `pk1/dev1 has an active task in batch ${later.body.id}` },
      });
      should(await tasks()).eql([['dev1', 'FAILED', 'step -1 (upgrade failed): bad flash', 1]]);
    });
  });

  it('an action other than cancel, confirm or reupgrade is a 404 listing them', async function () {
    await started(['dev1']);
    should(await task('pause', 'dev1')).eql({
      status: 404,
      body: { error: 'unknown task action "pause": use reupgrade, confirm or cancel' },
    });
  });
});
