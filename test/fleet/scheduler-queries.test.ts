import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { Fleet, ManualClock, SqliteStore } from '../../src/fleet';
import type { Task, TaskState } from '../../src/fleet';
import { externalFirmware, reportFleet } from '../helpers/fleet';

/** The store, noting the state of every scheduler query (due tasks, next due time) asked of it. */
class QueryLog extends SqliteStore {
  asked: TaskState[] = [];

  override dueTasks(batchId: number, state: TaskState, now: number, limit: number): Task[] {
    this.asked.push(state);
    return super.dueTasks(batchId, state, now, limit);
  }

  override nextDue(batchId: number, state: TaskState): number | undefined {
    this.asked.push(state);
    return super.nextDue(batchId, state);
  }
}

describe('fleet: a scheduler pass asks the store only about states its batch has tasks in', function () {
  let dir: string;
  let store: QueryLog;
  let fleet: Fleet;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-pass-queries-'));
    store = new QueryLog(join(dir, 'fleet.sqlite'));
    fleet = new Fleet({ store, clock: new ManualClock(), settings: { requireVerification: false }, name: 'test' });
    fleet.attachEgress('push-1');
  });

  afterEach(function () {
    fleet.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function notifiedBatch(): void {
    reportFleet(fleet, 3, '1.0.0');
    const fw = externalFirmware(fleet);
    const batch = fleet.createBatch({
      firmwareId: fw.id,
      type: 'static',
      targets: { selection: 'ALL', productKey: 'pk1' },
      strategy: { timeoutInMinutes: 30, retryCount: 1, retryInterval: 60 },
    });
    fleet.tick();
    should(fleet.batch(batch.id).counts).match({ QUEUED: 0, NOTIFIED: 3, IN_PROGRESS: 0, FAILED: 0 });
  }

  it('with every task NOTIFIED: only about NOTIFIED (re-notices)', function () {
    notifiedBatch();
    store.asked = [];
    fleet.tick();
    should([...new Set(store.asked)]).eql(['NOTIFIED']);
  });

  it('once a task is IN_PROGRESS: about its timeout too', function () {
    notifiedBatch();
    fleet.reportProgress({ productKey: 'pk1', deviceName: 'dev-000' }, { step: 5, module: 'default' });
    store.asked = [];
    fleet.tick();
    should([...new Set(store.asked)].sort()).eql(['IN_PROGRESS', 'NOTIFIED']);
  });
});
