/**
 * Faults: the disk refuses writes under a running fleet — the store turned read-only, or full
 * (its file may not grow) — in the middle of a batch. Every message that needs a write ends in
 * done(err) with the store's error (OTA_STORE) and a red status, the nodes keep running and work
 * again once the disk does, and the store, opened again from its file, still holds everything
 * it held before the fault.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import { Fleet, SqliteStore } from '../../src/fleet';
import { snapshot } from '../helpers/fleet-state';
import {
  Deployed,
  deploy,
  eventually,
  feed,
  fleetSuite,
  httpRequest,
  platformFlow,
  reportVersions,
  startBatchToAll,
  t1,
  t3,
} from '../helpers/fleet-red';
import { printFigures } from '../helpers/fuzz-run';
import type { FlowNode } from '../helpers/flow';
import { assertRedRing, Inbox, Msg, recordStatuses } from '../helpers/red';

helper.init(require.resolve('node-red'));

const NAMES = Array.from({ length: 10 }, (_, i) => `dev-${i}`);

/** Ten devices at 1.0.0, a batch to 2.0.0 that notified them all: dev-0..4 upgrading, dev-0 done. */
async function midBatch(d: Deployed): Promise<number> {
  await reportVersions(d, 'pk1', NAMES, '1.0.0');
  startBatchToAll(d, { retryCount: 0 });
  const batchId = (await d.sent.next()).batchId as number;
  await eventually('the notices', () => d.handle.fleet.batch(batchId).counts.NOTIFIED === NAMES.length);
  for (const name of NAMES.slice(0, 5)) {
    feed(d.platform.progress, t3('pk1', name, 50));
    await d.progressed.next();
  }
  feed(d.platform.inform, t1('pk1', 'dev-0', '2.0.0'));
  await d.informed.next();
  should(d.handle.fleet.batch(batchId).counts).match({ NOTIFIED: 5, IN_PROGRESS: 4, SUCCEEDED: 1 });
  return batchId;
}

/** The store's own refusal, as a Catch node gets it. */
function assertStoreRefusal(caught: Msg, source: FlowNode): void {
  const error = caught.error as { message: string; code?: string; source: { id: string } };
  should(error.source.id).equal(source.id);
  should(error.code).equal('OTA_STORE');
  should(error.message).match(
    /^FleetError: the fleet's store refused the change \(SQLITE_[A-Z_]+: .+\); nothing was changed$/,
  );
}

/** Feeds one report and returns what came of it: the event, or what the Catch node got. */
async function answerTo(d: Deployed, node: FlowNode, msg: Msg): Promise<Msg> {
  const seen = [d.informed, d.progressed, d.caught].map((box) => box.messages.length);
  feed(node, msg);
  await eventually(
    'an answer',
    () => [d.informed, d.progressed, d.caught].some((box, i) => box.messages.length > seen[i]),
    5000,
  );
  const box = [d.informed, d.progressed, d.caught].find((b, i) => b.messages.length > seen[i]) as Inbox;
  return box.messages[box.messages.length - 1];
}

/** The store file opened again by a fresh fleet, as after a restart. */
function reopened(d: Deployed): Fleet {
  const file = (d.handle.fleet.store as SqliteStore).file;
  return new Fleet({ store: new SqliteStore(file), name: 'reopened' });
}

describe('reliability: the disk refuses writes', function () {
  this.timeout(60_000);
  const suite = fleetSuite('disk');

  it('with the store read-only, every write is refused with OTA_STORE, the nodes keep running, and nothing stored is lost', async function () {
    const d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
    const batchId = await midBatch(d);
    const fleet = d.handle.fleet;
    const store = fleet.store as SqliteStore;
    const before = snapshot(fleet);
    const statuses = [d.platform.inform, d.platform.progress, d.platform.push!].map((n) => recordStatuses(n.id));

    store.setReadOnly(true);
    const refused: [Msg, FlowNode][] = [
      [t1('pk1', 'dev-new', '1.0.0'), d.platform.inform],
      [t1('pk1', 'dev-1', '2.0.0'), d.platform.inform],
      [t3('pk1', 'dev-5', 10), d.platform.progress],
      [t3('pk1', 'dev-2', -1, 'flash'), d.platform.progress],
      [{ _msgid: 'c', action: 'cancel', batchId }, d.platform.push!],
      [{ _msgid: 'p', action: 'pause', batchId }, d.platform.push!],
      [
        {
          _msgid: 'n',
          payload: {
            firmwareId: before.batches.length ? (before.firmware[0] as { id: string }).id : '',
            targets: { selection: 'ALL' },
          },
        },
        d.platform.push!,
      ],
    ];
    for (const [msg, node] of refused) {
      feed(node, msg);
      assertStoreRefusal(await d.caught.next(), node);
    }
    for (const s of statuses) should(s.some((x) => x.fill === 'red')).be.true();
    assertRedRing(
      statuses[0],
      (d.caught.messages[1].error as { message: string }).message.replace(/^FleetError: /, ''),
    );
    const api = await httpRequest(`${suite.adminUrl}/ota/fleets/${d.platform.fleet.id}/batches/${batchId}/cancel`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{}'),
    });
    should(api.status).equal(503);
    should(JSON.parse(api.body.toString()).error).match(/store refused the change/);
    should((await httpRequest(`${suite.adminUrl}/ota/fleets/${d.platform.fleet.id}/batches/${batchId}`)).status).equal(
      200,
    );
    should(d.informed.messages.length + d.progressed.messages.length).equal(NAMES.length + 6);
    should(snapshot(fleet)).eql(before);

    // The disk is back: the same nodes take the same messages.
    store.setReadOnly(false);
    feed(d.platform.progress, t3('pk1', 'dev-5', 10));
    should((await d.progressed.next()).payload).match({ deviceName: 'dev-5', state: 'IN_PROGRESS', batchId });
    feed(d.platform.inform, t1('pk1', 'dev-1', '2.0.0'));
    should((await d.informed.next()).payload).match({ deviceName: 'dev-1', state: 'SUCCEEDED', batchId });
    should(fleet.batch(batchId).counts).match({ NOTIFIED: 4, IN_PROGRESS: 4, SUCCEEDED: 2 });

    // Everything stored before the fault is in the file, as a restart finds it.
    await helper.unload();
    const again = reopened(d);
    try {
      const after = snapshot(again);
      const untouched = (list: unknown[]) =>
        (list as { deviceName: string }[]).filter((x) => x.deviceName !== 'dev-5' && x.deviceName !== 'dev-1');
      should(untouched(after.devices)).eql(untouched(before.devices));
      should(untouched(after.tasks[batchId])).eql(untouched(before.tasks[batchId]));
      should(after.firmware).eql(before.firmware);
      should(after.transitions).equal(before.transitions + 2);
      should(again.batch(batchId).counts).match({ NOTIFIED: 4, IN_PROGRESS: 4, SUCCEEDED: 2 });
    } finally {
      again.close();
    }
    printFigures('disk read-only', {
      refusedMessages: refused.length + 1,
      refusedCodes: 'OTA_STORE / HTTP 503',
      storedBefore: before.transitions,
      lost: 0,
    });
  });

  it('with the disk full, reports past the limit are refused with OTA_STORE, the nodes keep running, and every accepted report is kept', async function () {
    const d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
    const batchId = await midBatch(d);
    const fleet = d.handle.fleet;
    const store = fleet.store as SqliteStore;
    const before = snapshot(fleet);

    // New devices with long names, until the file may not grow any more.
    store.limitGrowth(0);
    const accepted: string[] = [];
    const refusedNames: string[] = [];
    for (let i = 0; i < 5000 && refusedNames.length < 20; i++) {
      const name = `device-${String(i).padStart(5, '0')}-${'x'.repeat(50)}`;
      const outcome = await answerTo(d, d.platform.inform, t1('pk1', name, `1.0.${i}`));
      if (outcome.error) {
        assertStoreRefusal(outcome, d.platform.inform);
        refusedNames.push(name);
      } else accepted.push(name);
    }
    should(refusedNames.length).equal(20, 'the store never filled up');
    // A task report needs a write too: refused the same way, the task unchanged.
    const full = await answerTo(d, d.platform.progress, t3('pk1', 'dev-6', 30));
    const progressRefused = full.error !== undefined;
    if (progressRefused) assertStoreRefusal(full, d.platform.progress);

    const inventory = new Set(fleet.devices({ limit: 100_000 }).map((x) => x.deviceName));
    should(accepted.filter((n) => !inventory.has(n))).eql([], 'accepted reports missing from the inventory');
    should(refusedNames.filter((n) => inventory.has(n))).eql([], 'refused reports in the inventory');

    // Room again: the same node takes the next report.
    store.limitGrowth(undefined);
    should((await answerTo(d, d.platform.inform, t1('pk1', 'after-the-fault', '1.0.0'))).payload).match({
      deviceName: 'after-the-fault',
    });

    await helper.unload();
    const again = reopened(d);
    try {
      const names = new Set(again.devices({ limit: 100_000 }).map((x) => x.deviceName));
      should([...NAMES, ...accepted, 'after-the-fault'].filter((n) => !names.has(n))).eql([]);
      should(refusedNames.filter((n) => names.has(n))).eql([]);
      should(again.tasks(batchId, { limit: 1000 }).filter((t) => t.deviceName !== 'dev-6' || progressRefused)).eql(
        (before.tasks[batchId] as { deviceName: string }[]).filter((t) => t.deviceName !== 'dev-6' || progressRefused),
      );
      should(again.transitions({ limit: 100_000 }).length).equal(before.transitions + (progressRefused ? 0 : 1));
    } finally {
      again.close();
    }
    printFigures('disk full', {
      accepted: accepted.length,
      refused: refusedNames.length,
      progressAtFull: progressRefused ? 'refused' : 'fitted in free space',
      lost: 0,
    });
  });
});
