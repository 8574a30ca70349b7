/** The contract's transaction part: all or nothing, its own writes seen inside, other operations apart. */
import should from 'should';
import { emptyCounts } from '../../src/fleet';
import { device, firmware, freshStore, names, newBatch, newTask, type OpenStore } from './contract-fixtures';
import { entries } from './contract-batches';

/** A promise and the function that settles it: a step a test holds a transaction at. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

export function describeTransactions(open: OpenStore): void {
  const store = freshStore(open);

  it('a transaction that resolves keeps every write and answers its value', async function () {
    const answer = await store().transaction(async (tx) => {
      await tx.setMeta('k', 'v');
      await tx.recordVersion(device('dev01'), 'default', '1.0.0', 10);
      const batchId = await tx.insertBatch(newBatch());
      await tx.insertTasks(names(3).map((n) => newTask(batchId, n)));
      return { batchId };
    });
    should(await store().getMeta('k')).equal('v');
    should(await store().deviceVersion(device('dev01'), 'default')).equal('1.0.0');
    should((await store().listBatches()).map((b) => b.id)).eql([answer.batchId]);
    should(entries(await store().countsByBatch())).eql([[answer.batchId, { ...emptyCounts(), QUEUED: 3 }]]);
  });

  it('a transaction that rejects leaves nothing of its writes, and rejects with its error', async function () {
    await store().setMeta('k', 'before');
    await store().recordVersion(device('dev01'), 'default', '1.0.0', 10);
    const distribution = await store().versionDistribution();
    const failing = store().transaction(async (tx) => {
      await tx.setMeta('k', 'after');
      await tx.recordVersion(device('dev01'), 'default', '2.0.0', 20);
      await tx.recordVersion(device('dev02'), 'default', '2.0.0', 20);
      await tx.setTags(device('dev01'), ['lab']);
      const batchId = await tx.insertBatch(newBatch());
      await tx.insertTasks(names(150).map((n) => newTask(batchId, n)));
      await tx.putCredentials([{ productKey: 'pk1', deviceName: 'dev01', deviceSecret: 's' }], 20);
      await tx.insertFirmware(firmware('fw1', { sequence: await tx.nextReleaseSequence('pk1', 'default') }));
      throw new Error('changed my mind');
    });
    await should(failing).be.rejectedWith('changed my mind');
    should(await store().getMeta('k')).equal('before');
    should(await store().deviceModules(device('dev01'))).eql([
      { productKey: 'pk1', deviceName: 'dev01', module: 'default', version: '1.0.0', firstSeen: 10, lastSeen: 10 },
    ]);
    should(await store().deviceVersion(device('dev02'), 'default')).be.undefined();
    should(await store().versionDistribution()).eql(distribution);
    should(await store().tagsOf(device('dev01'))).eql([]);
    should(await store().listBatches()).eql([]);
    should(entries(await store().countsByBatch())).eql([]);
    should(await store().listCredentials({})).eql([]);
    should(await store().listFirmware()).eql([]);
    should(await store().nextReleaseSequence('pk1', 'default')).equal(1);
  });

  it("reads inside a transaction see the transaction's own writes", async function () {
    await store().transaction(async (tx) => {
      await tx.setMeta('k', 'v');
      should(await tx.getMeta('k')).equal('v');
      await tx.recordVersion(device('dev01'), 'default', '1.0.0', 10);
      await tx.recordVersion(device('dev01'), 'default', '1.1.0', 20);
      should(await tx.deviceVersion(device('dev01'), 'default')).equal('1.1.0');
      should(await tx.versionDistribution('pk1')).eql([
        { productKey: 'pk1', module: 'default', version: '1.1.0', count: 1 },
      ]);
      const batchId = await tx.insertBatch(newBatch());
      should(await tx.batch(batchId)).eql({ id: batchId, ...newBatch() });
      await tx.insertTasks([newTask(batchId, 'dev01')]);
      const [task] = await tx.tasksOf(batchId, {});
      await tx.saveTask({ ...task, state: 'NOTIFIED' });
      should(await tx.activeTask(device('dev01'), 'default')).eql({ ...task, state: 'NOTIFIED' });
      should(entries(await tx.countsByBatch(batchId))).eql([[batchId, { ...emptyCounts(), NOTIFIED: 1 }]]);
    });
  });

  it('an operation outside a transaction never sees its writes before the commit, and its own write stands alone', async function () {
    const hold = gate();
    const written = gate();
    const failing = store().transaction(async (tx) => {
      await tx.setMeta('k', 'inside');
      written.open();
      await hold.wait;
      throw new Error('rolled back');
    });
    await written.wait;
    // Not awaited while the transaction is open: a store may run them at once or after it ends.
    const read = store().getMeta('k');
    const write = store().setMeta('outside', 'kept');
    hold.open();
    await should(failing).be.rejectedWith('rolled back');
    should(await read).be.undefined();
    await write;
    should(await store().getMeta('outside')).equal('kept');
    should(await store().getMeta('k')).be.undefined();
  });

  it('a transaction reading while another commits sees all of its writes or none', async function () {
    const hold = gate();
    const written = gate();
    const committing = store().transaction(async (tx) => {
      await tx.setMeta('a', '1');
      await tx.setMeta('b', '1');
      written.open();
      await hold.wait;
      return 'done';
    });
    await written.wait;
    const read = store().transaction(async (tx) => [await tx.getMeta('a'), await tx.getMeta('b')]);
    hold.open();
    should(await committing).equal('done');
    const seen = await read;
    should([JSON.stringify([null, null]), JSON.stringify(['1', '1'])]).containEql(JSON.stringify(seen));
    should([await store().getMeta('a'), await store().getMeta('b')]).eql(['1', '1']);
  });

  it('transactions that read a value and write it back, started together, lose no update', async function () {
    await store().setMeta('n', '0');
    const increment = () =>
      store().transaction(async (tx) => {
        const n = Number(await tx.getMeta('n'));
        await tx.setMeta('n', String(n + 1));
        return n;
      });
    const seen = await Promise.all(Array.from({ length: 5 }, increment));
    should(await store().getMeta('n')).equal('5');
    should([...seen].sort((x, y) => x - y)).eql([0, 1, 2, 3, 4]);
  });

  it('a store goes on after a rejected transaction, and its next one commits', async function () {
    await should(
      store().transaction(async () => {
        throw new Error('first');
      }),
    ).be.rejectedWith('first');
    should(await store().transaction(async (tx) => tx.nextReleaseSequence('pk1', 'default'))).equal(1);
    should(await store().nextReleaseSequence('pk1', 'default')).equal(2);
  });
}
