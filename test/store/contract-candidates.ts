/** The contract's candidates part: the devices a new batch may target, whole or a page at a time. */
import should from 'should';
import type { AsyncFleetStore, CandidatePage, CandidateQuery } from '../../src/fleet';
import { device, freshStore, insertAndRead, newBatch, newTask, type OpenStore } from './contract-fixtures';
import { report } from './contract-inventory';

const Q = { productKey: 'pk1', module: 'default' };

/** Every candidate of a query, read a page at a time by the pages' cursors. */
async function walk(store: AsyncFleetStore, query: CandidateQuery, limit: number) {
  const all: CandidatePage['candidates'] = [];
  for (let after: string | null = null, pages = 0; ; pages++) {
    if (pages > 100) throw new Error('the pages never end');
    const page: CandidatePage = await store.candidatePage(query, after, limit);
    all.push(...page.candidates);
    if (page.next === null) return all;
    after = page.next;
  }
}

export function describeCandidates(open: OpenStore): void {
  const store = freshStore(open);

  beforeEach(async function () {
    await report(store(), [
      ['pk1', 'dev01', 'default', '1.0.0', 10],
      ['pk1', 'dev01', 'mcu', '0.1', 11],
      ['pk1', 'dev02', 'default', '1.0.0', 12],
      ['pk1', 'dev03', 'default', '1.1.0', 13],
      ['pk1', 'dev04', 'default', '1.0.0', 14],
      ['pk1', 'dev05', 'default', '2.0.0', 15],
      ['pk2', 'dev01', 'default', '1.0.0', 16],
    ]);
  });

  describe('candidates', function () {
    it("are the product's devices with the module, by name, but those already at the version", async function () {
      should(await store().candidates({ ...Q, excludeVersion: '2.0.0' })).eql([
        { deviceName: 'dev01', version: '1.0.0' },
        { deviceName: 'dev02', version: '1.0.0' },
        { deviceName: 'dev03', version: '1.1.0' },
        { deviceName: 'dev04', version: '1.0.0' },
      ]);
      should(await store().candidates({ ...Q, module: 'mcu', excludeVersion: '2.0.0' })).eql([
        { deviceName: 'dev01', version: '0.1' },
      ]);
      should(await store().candidates({ productKey: 'pk3', module: 'default', excludeVersion: '2.0.0' })).eql([]);
    });

    it('source versions keep the devices at one of them; an empty list keeps all', async function () {
      should(await store().candidates({ ...Q, excludeVersion: '2.0.0', srcVersions: ['1.1.0', '9.9.9'] })).eql([
        { deviceName: 'dev03', version: '1.1.0' },
      ]);
      should(await store().candidates({ ...Q, excludeVersion: '1.1.0', srcVersions: [] })).eql([
        { deviceName: 'dev01', version: '1.0.0' },
        { deviceName: 'dev02', version: '1.0.0' },
        { deviceName: 'dev04', version: '1.0.0' },
        { deviceName: 'dev05', version: '2.0.0' },
      ]);
    });

    it('listed devices come in their order, a device that never reported with no version', async function () {
      const devices = ['dev05', 'ghost', 'dev02', 'dev01'];
      should(await store().candidates({ ...Q, excludeVersion: '2.0.0', devices })).eql([
        { deviceName: 'ghost', version: null },
        { deviceName: 'dev02', version: '1.0.0' },
        { deviceName: 'dev01', version: '1.0.0' },
      ]);
    });

    it('a device that never reported has no source version, so source versions leave it out', async function () {
      const devices = ['dev05', 'ghost', 'dev02'];
      should(await store().candidates({ ...Q, excludeVersion: '2.0.0', devices, srcVersions: ['1.0.0'] })).eql([
        { deviceName: 'dev02', version: '1.0.0' },
      ]);
    });

    it('a direct push excludes no version: a NUL character, which no version holds, excludes none', async function () {
      const all = await store().candidates({ ...Q, excludeVersion: '\u0000' });
      should(all.map((c) => c.deviceName)).eql(['dev01', 'dev02', 'dev03', 'dev04', 'dev05']);
      const page = await store().candidatePage(
        { ...Q, excludeVersion: '\u0000', devices: ['dev05', 'ghost'] },
        null,
        10,
      );
      should(page).eql({
        candidates: [
          { deviceName: 'dev05', version: '2.0.0', activeTaskId: null },
          { deviceName: 'ghost', version: null, activeTaskId: null },
        ],
        next: null,
      });
    });

    it('a tag keeps the tagged devices of the product that reported the module', async function () {
      await store().setTags(device('dev02'), ['lab']);
      await store().setTags(device('dev05'), ['lab']);
      await store().setTags(device('dev09'), ['lab']);
      await store().setTags(device('dev01', 'pk2'), ['lab']);
      await store().setTags(device('dev03'), ['roof']);
      should(await store().candidates({ ...Q, excludeVersion: '2.0.0', tag: 'lab' })).eql([
        { deviceName: 'dev02', version: '1.0.0' },
      ]);
      should(await store().candidates({ ...Q, excludeVersion: '9', tag: 'lab' })).eql([
        { deviceName: 'dev02', version: '1.0.0' },
        { deviceName: 'dev05', version: '2.0.0' },
      ]);
      should(await store().candidates({ ...Q, module: 'mcu', excludeVersion: '9', tag: 'lab' })).eql([]);
    });
  });

  describe('candidate pages', function () {
    it('a page reads up to the limit by name after the cursor; its next cursor is the last device it read, even one left out', async function () {
      const query = { ...Q, excludeVersion: '2.0.0' };
      should(await store().candidatePage(query, null, 2)).eql({
        candidates: [
          { deviceName: 'dev01', version: '1.0.0', activeTaskId: null },
          { deviceName: 'dev02', version: '1.0.0', activeTaskId: null },
        ],
        next: 'dev02',
      });
      should(await store().candidatePage({ ...query, srcVersions: ['1.1.0'] }, 'dev02', 2)).eql({
        candidates: [{ deviceName: 'dev03', version: '1.1.0', activeTaskId: null }],
        next: 'dev04',
      });
      should(await store().candidatePage(query, 'dev04', 2)).eql({ candidates: [], next: null });
      should(await store().candidatePage(query, 'dev05', 2)).eql({ candidates: [], next: null });
    });

    it('walking the pages by their cursors gives the candidates of one query', async function () {
      for (const query of [
        { ...Q, excludeVersion: '2.0.0' },
        { ...Q, excludeVersion: '1.0.0' },
        { ...Q, excludeVersion: '2.0.0', srcVersions: ['1.0.0'] },
      ]) {
        for (const limit of [1, 2, 3, 5, 10]) {
          const walked = await walk(store(), query, limit);
          should(walked.map(({ deviceName, version }) => ({ deviceName, version }))).eql(
            await store().candidates(query),
          );
        }
      }
    });

    it('a tagged page reads the tagged devices by name after the cursor', async function () {
      for (const name of ['dev01', 'dev03', 'dev04', 'dev05', 'dev07']) await store().setTags(device(name), ['lab']);
      const query = { ...Q, excludeVersion: '2.0.0', tag: 'lab' };
      should(await store().candidatePage(query, 'dev01', 2)).eql({
        candidates: [
          { deviceName: 'dev03', version: '1.1.0', activeTaskId: null },
          { deviceName: 'dev04', version: '1.0.0', activeTaskId: null },
        ],
        next: 'dev04',
      });
      should((await walk(store(), query, 1)).map((c) => c.deviceName)).eql(['dev01', 'dev03', 'dev04']);
    });

    it('listed devices are one page in their order, unknown names included, with no next page', async function () {
      const query = { ...Q, excludeVersion: '2.0.0', devices: ['dev04', 'dev05', 'nobody', 'dev01'] };
      should(await store().candidatePage(query, null, 2)).eql({
        candidates: [
          { deviceName: 'dev04', version: '1.0.0', activeTaskId: null },
          { deviceName: 'nobody', version: null, activeTaskId: null },
          { deviceName: 'dev01', version: '1.0.0', activeTaskId: null },
        ],
        next: null,
      });
    });

    it('each candidate names the newest active task of its module, of any batch; a finished one is none', async function () {
      const first = await store().insertBatch(newBatch());
      const second = await store().insertBatch(newBatch({ firmwareId: 'fw2' }));
      const [old01, done02] = await insertAndRead(store(), first, [
        newTask(first, 'dev01', { state: 'QUEUED' }),
        newTask(first, 'dev02', { state: 'SUCCEEDED' }),
        newTask(first, 'dev03', { module: 'mcu', state: 'NOTIFIED' }),
        newTask(first, 'dev04', { state: 'FAILED' }),
      ]);
      const [new01, confirm05, progress04] = await insertAndRead(store(), second, [
        newTask(second, 'dev01', { state: 'NOTIFIED' }),
        newTask(second, 'dev05', { state: 'CONFIRM' }),
        newTask(second, 'dev04', { state: 'IN_PROGRESS' }),
      ]);
      should(new01.id).be.above(old01.id);
      should(done02.state).equal('SUCCEEDED');
      const expected = [
        { deviceName: 'dev01', version: '1.0.0', activeTaskId: new01.id },
        { deviceName: 'dev02', version: '1.0.0', activeTaskId: null },
        { deviceName: 'dev03', version: '1.1.0', activeTaskId: null },
        { deviceName: 'dev04', version: '1.0.0', activeTaskId: progress04.id },
        { deviceName: 'dev05', version: '2.0.0', activeTaskId: confirm05.id },
      ];
      should(await store().candidatePage({ ...Q, excludeVersion: '9' }, null, 10)).eql({
        candidates: expected,
        next: null,
      });
      const listed = await store().candidatePage(
        { ...Q, excludeVersion: '9', devices: ['dev05', 'dev01', 'ghost'] },
        null,
        10,
      );
      should(listed.candidates).eql([
        expected[4],
        expected[0],
        { deviceName: 'ghost', version: null, activeTaskId: null },
      ]);
    });
  });
}
