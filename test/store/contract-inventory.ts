/** The contract's inventory part: meta, device versions, device lists and pages, the version distribution, tags. */
import should from 'should';
import type { AsyncFleetStore, DeviceKey, DeviceModule, DeviceQuery } from '../../src/fleet';
import { device, freshStore, names, sharedStore, type OpenStore } from './contract-fixtures';

type Report = [productKey: string, deviceName: string, module: string, version: string, at: number];

/** A small fleet of two products, one device with a second module. */
const FLEET: Report[] = [
  ['pk1', 'dev01', 'default', '1.0.0', 10],
  ['pk1', 'dev01', 'mcu', '0.1', 11],
  ['pk1', 'dev02', 'default', '1.0.0', 12],
  ['pk1', 'dev03', 'default', '1.1.0', 13],
  ['pk1', 'dev04', 'default', '1.0.0', 14],
  ['pk1', 'dev05', 'default', '2.0.0', 15],
  ['pk2', 'dev01', 'default', '1.0.0', 16],
  ['pk2', 'dev03', 'default', '3.0.0', 17],
];

const asModule = ([productKey, deviceName, module, version, at]: Report): DeviceModule => ({
  productKey,
  deviceName,
  module,
  version,
  firstSeen: at,
  lastSeen: at,
});

/** FLEET as the list orders it: product key, device name, module (already so). */
const LISTED = FLEET.map(asModule);

export async function report(store: AsyncFleetStore, reports: Report[]): Promise<void> {
  for (const [productKey, deviceName, module, version, at] of reports) {
    await store.recordVersion({ productKey, deviceName }, module, version, at);
  }
}

const keyOf = (d: DeviceModule): DeviceKey => ({
  productKey: d.productKey,
  deviceName: d.deviceName,
  module: d.module,
});

/** Every device a query matches, read by `listDevices` pages of `limit` from the last device of each. */
async function walkList(store: AsyncFleetStore, query: DeviceQuery, limit: number): Promise<DeviceModule[]> {
  const all: DeviceModule[] = [];
  for (let after: DeviceKey | undefined, pages = 0; ; pages++) {
    if (pages > 1000) throw new Error('the pages never end');
    const page = await store.listDevices({ ...query, limit, after });
    all.push(...page);
    if (page.length < limit) return all;
    after = keyOf(page[page.length - 1]);
  }
}

/**
 * Every device a query matches, read by `devicePage`: from `next` when the page stopped reading
 * early, from the last device when it is full, and done when it is short without `next`.
 */
async function walkPages(store: AsyncFleetStore, query: DeviceQuery, limit: number): Promise<DeviceModule[]> {
  const all: DeviceModule[] = [];
  for (let after: DeviceKey | undefined, pages = 0; ; pages++) {
    if (pages > 1000) throw new Error('the pages never end');
    const page = await store.devicePage({ ...query, limit, after });
    all.push(...page.devices);
    if (page.next) after = page.next;
    else if (page.devices.length >= limit) after = keyOf(page.devices[page.devices.length - 1]);
    else return all;
  }
}

export function describeInventory(open: OpenStore): void {
  describe('meta', function () {
    const store = freshStore(open);

    it('an unknown key has no value', async function () {
      should(await store().getMeta('nothing')).be.undefined();
    });

    it('a value set is read back, and a second set replaces it', async function () {
      await store().setMeta('secret', 'one');
      await store().setMeta('other', 'two');
      should(await store().getMeta('secret')).equal('one');
      await store().setMeta('secret', 'three');
      should(await store().getMeta('secret')).equal('three');
      should(await store().getMeta('other')).equal('two');
    });

    it('any text is kept as given: quotes, backslashes, new lines, other scripts, a long value', async function () {
      const odd = `it's "quoted" \\ back\nslash; 中文 ✓ ${'x'.repeat(10_000)}`;
      await store().setMeta('odd', odd);
      should(await store().getMeta('odd')).equal(odd);
    });
  });

  describe('device versions', function () {
    const store = freshStore(open);

    it('a device that never reported has no version and no modules', async function () {
      should(await store().deviceVersion(device('dev01'), 'default')).be.undefined();
      should(await store().deviceModules(device('dev01'))).eql([]);
    });

    it('a reported version is read back per product key, device name and module', async function () {
      await report(store(), FLEET);
      should(await store().deviceVersion(device('dev01'), 'default')).equal('1.0.0');
      should(await store().deviceVersion(device('dev01'), 'mcu')).equal('0.1');
      should(await store().deviceVersion(device('dev03', 'pk2'), 'default')).equal('3.0.0');
      should(await store().deviceVersion(device('dev02', 'pk2'), 'default')).be.undefined();
      should(await store().deviceVersion(device('dev02'), 'mcu')).be.undefined();
    });

    it('a new report moves the version and last seen, and keeps first seen', async function () {
      // Times in milliseconds since 1970: beyond 32 bits.
      const t = 1_700_000_000_000;
      await store().recordVersion(device('dev01'), 'default', '1.0.0', t + 10);
      await store().recordVersion(device('dev01'), 'default', '1.1.0', t + 20);
      await store().recordVersion(device('dev01'), 'default', '1.1.0', t + 30);
      should(await store().deviceModules(device('dev01'))).eql([
        {
          productKey: 'pk1',
          deviceName: 'dev01',
          module: 'default',
          version: '1.1.0',
          firstSeen: t + 10,
          lastSeen: t + 30,
        },
      ]);
    });

    it('a device list or page without a limit holds at most 1,000 devices', async function () {
      await store().transaction(async (tx) => {
        for (const name of names(1001)) await tx.recordVersion(device(name), 'default', '1.0.0', 1);
      });
      should(await store().listDevices({})).have.length(1000);
      should((await store().devicePage({ version: '1.0.0' })).devices).have.length(1000);
      should(await store().countDevices({})).equal(1001);
    });

    it("a device's modules are listed by module name, and only its own", async function () {
      await store().recordVersion(device('dev01'), 'mcu', '0.1', 5);
      await report(store(), FLEET);
      should(await store().deviceModules(device('dev01'))).eql([
        { productKey: 'pk1', deviceName: 'dev01', module: 'default', version: '1.0.0', firstSeen: 10, lastSeen: 10 },
        { productKey: 'pk1', deviceName: 'dev01', module: 'mcu', version: '0.1', firstSeen: 5, lastSeen: 11 },
      ]);
      should(await store().deviceModules(device('dev01', 'pk2'))).eql([LISTED[6]]);
    });
  });

  describe('device lists', function () {
    // These tests only read.
    const store = sharedStore(open);
    before(async function () {
      await report(store(), FLEET);
    });

    it('every device module is listed by product key, device name and module', async function () {
      should(await store().listDevices({})).eql(LISTED);
    });

    it('a product key, a module or a version filters the list, alone or together', async function () {
      should(await store().listDevices({ productKey: 'pk2' })).eql(LISTED.slice(6));
      should(await store().listDevices({ module: 'mcu' })).eql([LISTED[1]]);
      should(await store().listDevices({ version: '1.0.0' })).eql([LISTED[0], LISTED[2], LISTED[4], LISTED[6]]);
      should(await store().listDevices({ productKey: 'pk1', module: 'default', version: '1.0.0' })).eql([
        LISTED[0],
        LISTED[2],
        LISTED[4],
      ]);
      should(await store().listDevices({ productKey: 'pk3' })).eql([]);
    });

    it('a search lists the devices whose name contains the text', async function () {
      should(await store().listDevices({ search: '03' })).eql([LISTED[3], LISTED[7]]);
      should(await store().listDevices({ search: 'ev0' })).eql(LISTED);
      should(await store().listDevices({ productKey: 'pk1', search: 'dev01' })).eql(LISTED.slice(0, 2));
      should(await store().listDevices({ search: 'dev1' })).eql([]);
    });

    it('a limit and an offset cut a page out of the list', async function () {
      should(await store().listDevices({ limit: 3 })).eql(LISTED.slice(0, 3));
      should(await store().listDevices({ limit: 3, offset: 3 })).eql(LISTED.slice(3, 6));
      should(await store().listDevices({ limit: 3, offset: 6 })).eql(LISTED.slice(6));
      should(await store().listDevices({ offset: 8 })).eql([]);
      should(await store().listDevices({ productKey: 'pk1', version: '1.0.0', limit: 2, offset: 1 })).eql([
        LISTED[2],
        LISTED[4],
      ]);
    });

    it('a page after a device starts right after it, in the list order, across products', async function () {
      should(await store().listDevices({ after: keyOf(LISTED[1]), limit: 2 })).eql(LISTED.slice(2, 4));
      should(await store().listDevices({ after: keyOf(LISTED[5]) })).eql(LISTED.slice(6));
      should(await store().listDevices({ after: { productKey: 'pk1', deviceName: 'dev01', module: 'm' } })).eql(
        LISTED.slice(1),
      );
      should(await store().listDevices({ after: keyOf(LISTED[7]) })).eql([]);
    });

    it('a page after a device of another product keeps to the filtered product', async function () {
      should(await store().listDevices({ productKey: 'pk2', after: keyOf(LISTED[2]) })).eql(LISTED.slice(6));
      should(await store().listDevices({ productKey: 'pk1', after: keyOf(LISTED[6]) })).eql([]);
      should(await store().listDevices({ productKey: 'pk1', after: keyOf(LISTED[3]), limit: 1 })).eql([LISTED[4]]);
    });

    it('walking the fleet page by page after the last device lists every device once, in order', async function () {
      should(await walkList(store(), {}, 3)).eql(LISTED);
      should(await walkList(store(), {}, 1)).eql(LISTED);
      should(await walkList(store(), { productKey: 'pk1' }, 2)).eql(LISTED.slice(0, 6));
      should(await walkList(store(), { version: '1.0.0' }, 2)).eql(await store().listDevices({ version: '1.0.0' }));
    });

    it('a count answers how many devices match every filter, whatever the page', async function () {
      should(await store().countDevices({})).equal(8);
      should(await store().countDevices({ productKey: 'pk1' })).equal(6);
      should(await store().countDevices({ module: 'default' })).equal(7);
      should(await store().countDevices({ version: '1.0.0' })).equal(4);
      should(await store().countDevices({ productKey: 'pk1', version: '1.0.0' })).equal(3);
      should(await store().countDevices({ search: '03' })).equal(2);
      should(await store().countDevices({ productKey: 'pk3' })).equal(0);
      should(await store().countDevices({ productKey: 'pk1', limit: 1, offset: 2, after: keyOf(LISTED[3]) })).equal(6);
    });

    it('a page without a version or name filter is the same page of the list', async function () {
      const page = await store().devicePage({ productKey: 'pk1', limit: 4 });
      should(page.devices).eql(LISTED.slice(0, 4));
      should(page.next).be.undefined();
      const after = await store().devicePage({ after: keyOf(LISTED[3]), limit: 10 });
      should(after.devices).eql(LISTED.slice(4));
      should(after.next).be.undefined();
    });

    it('a page with an offset is the same page of the list', async function () {
      const page = await store().devicePage({ version: '1.0.0', offset: 1, limit: 2 });
      should(page.devices).eql([LISTED[2], LISTED[4]]);
      should(page.next).be.undefined();
    });

    it('a page of a version or a name in a small fleet holds every match up to the limit', async function () {
      const version = await store().devicePage({ version: '1.0.0' });
      should(version.devices).eql([LISTED[0], LISTED[2], LISTED[4], LISTED[6]]);
      should(version.next).be.undefined();
      const search = await store().devicePage({ productKey: 'pk2', search: '03', limit: 5 });
      should(search.devices).eql([LISTED[7]]);
      should(search.next).be.undefined();
      const limited = await store().devicePage({ version: '1.0.0', limit: 2, after: keyOf(LISTED[0]) });
      should(limited.devices).eql([LISTED[2], LISTED[4]]);
    });
  });

  describe('walking a larger fleet by pages', function () {
    // These tests only read.
    const store = sharedStore(open);
    before(async function () {
      await store().transaction(async (tx) => {
        for (const productKey of ['pka', 'pkb']) {
          for (const [i, name] of names(30).entries()) {
            await tx.recordVersion({ productKey, deviceName: name }, 'default', `1.${i % 3}.0`, i);
            if (i % 4 === 0) await tx.recordVersion({ productKey, deviceName: name }, 'mcu', '0.1', i);
          }
        }
      });
    });

    it('pages after the last device, by any filter, list what one full list lists', async function () {
      const all = await store().listDevices({});
      should(all).have.length(2 * (30 + 8));
      should(await walkList(store(), {}, 7)).eql(all);
      for (const query of [{ productKey: 'pkb' }, { version: '1.2.0' }, { module: 'mcu' }, { search: '1' }]) {
        should(await walkList(store(), query, 4)).eql(await store().listDevices(query));
      }
    });

    it('device pages by a version or a name, walked by their cursors, list what one full list lists', async function () {
      for (const query of [{ version: '1.1.0' }, { productKey: 'pka', search: '2' }, { version: '0.1' }, {}]) {
        should(await walkPages(store(), query, 3)).eql(await store().listDevices(query));
      }
    });
  });

  describe('text order and search', function () {
    // Names differing in case and punctuation: the list orders them by their bytes (code points),
    // as SQLite compares text, not by a language's collation.
    const odd = ['dev10', 'Dev9', 'dev_3', 'dev-2', 'dev2', 'dev%', 'dev1', 'DEV1'];

    // These tests only read.
    const store = sharedStore(open);
    before(async function () {
      for (const name of odd) await store().recordVersion(device(name), 'default', '1.0.0', 1);
    });

    it('device names are ordered by their code points: upper case first, then punctuation and digits by code', async function () {
      const listed = (await store().listDevices({})).map((d) => d.deviceName);
      should(listed).eql(['DEV1', 'Dev9', 'dev%', 'dev-2', 'dev1', 'dev10', 'dev2', 'dev_3']);
      should(listed).eql([...odd].sort());
      const walked = (await walkList(store(), {}, 3)).map((d) => d.deviceName);
      should(walked).eql(listed);
    });

    it('a search matches its text literally and by case: no wildcards', async function () {
      const search = async (text: string) =>
        (await store().listDevices({ search: text })).map((d) => d.deviceName).sort();
      should(await search('_')).eql(['dev_3']);
      should(await search('%')).eql(['dev%']);
      should(await search('dev1')).eql(['dev1', 'dev10']);
      should(await search('DEV')).eql(['DEV1']);
      should(await store().countDevices({ search: '_' })).equal(1);
    });
  });

  describe('the version distribution', function () {
    const store = freshStore(open);

    beforeEach(async function () {
      await report(store(), FLEET);
    });

    it('counts devices by product, module and version: by product, module, count (most first) and version', async function () {
      should(await store().versionDistribution()).eql([
        { productKey: 'pk1', module: 'default', version: '1.0.0', count: 3 },
        { productKey: 'pk1', module: 'default', version: '1.1.0', count: 1 },
        { productKey: 'pk1', module: 'default', version: '2.0.0', count: 1 },
        { productKey: 'pk1', module: 'mcu', version: '0.1', count: 1 },
        { productKey: 'pk2', module: 'default', version: '1.0.0', count: 1 },
        { productKey: 'pk2', module: 'default', version: '3.0.0', count: 1 },
      ]);
    });

    it("a product's distribution holds only its own counts", async function () {
      should(await store().versionDistribution('pk2')).eql([
        { productKey: 'pk2', module: 'default', version: '1.0.0', count: 1 },
        { productKey: 'pk2', module: 'default', version: '3.0.0', count: 1 },
      ]);
      should(await store().versionDistribution('pk3')).eql([]);
    });

    it('a changed version moves its device from one count to the other, and a count of none is left out', async function () {
      await store().recordVersion(device('dev05'), 'default', '1.1.0', 20);
      await store().recordVersion(device('dev01'), 'default', '1.1.0', 21);
      await store().recordVersion(device('dev02'), 'default', '1.1.0', 22);
      should(await store().versionDistribution('pk1')).eql([
        { productKey: 'pk1', module: 'default', version: '1.1.0', count: 4 },
        { productKey: 'pk1', module: 'default', version: '1.0.0', count: 1 },
        { productKey: 'pk1', module: 'mcu', version: '0.1', count: 1 },
      ]);
    });

    it('a report of the same version changes no count', async function () {
      const before = await store().versionDistribution();
      await report(
        store(),
        FLEET.map(([p, d, m, v, at]) => [p, d, m, v, at + 100]),
      );
      should(await store().versionDistribution()).eql(before);
    });
  });

  describe('tags', function () {
    const store = freshStore(open);

    it('tags are set, read back by name, and a second set replaces them all', async function () {
      await store().setTags(device('dev01'), ['lab', 'beta', 'lab']);
      should(await store().tagsOf(device('dev01'))).eql(['beta', 'lab']);
      await store().setTags(device('dev01'), ['roof']);
      should(await store().tagsOf(device('dev01'))).eql(['roof']);
      await store().setTags(device('dev01'), []);
      should(await store().tagsOf(device('dev01'))).eql([]);
    });

    it('a tag belongs to one device of one product, whether or not it ever reported', async function () {
      await store().setTags(device('dev01'), ['lab']);
      await store().setTags(device('dev02', 'pk2'), ['lab', 'roof']);
      should(await store().hasTag(device('dev01'), 'lab')).be.true();
      should(await store().hasTag(device('dev01'), 'roof')).be.false();
      should(await store().hasTag(device('dev01', 'pk2'), 'lab')).be.false();
      should(await store().hasTag(device('dev02'), 'lab')).be.false();
      should(await store().hasTag(device('dev02', 'pk2'), 'roof')).be.true();
      should(await store().tagsOf(device('dev03'))).eql([]);
    });
  });
}
