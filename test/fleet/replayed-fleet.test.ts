import should from 'should';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisedStore, SqliteStore } from '../../src/fleet';
import { externalFirmware } from '../helpers/fleet';
import { devices, plainFleet, replayedFleet, scenario } from './replayed-scenario';

describe('a fleet whose store answers with promises (ReplayedFleet)', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ota-replayed-'));
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades a batch exactly as the fleet on the SQLite store does: notices, transitions, final state', async function () {
    const plain = plainFleet(dir);
    const expected = await scenario(plain);
    await plain.close();
    const replayed = replayedFleet(promisedStore(new SqliteStore(join(dir, 'replayed.sqlite'))));
    const actual = await scenario(replayed);
    await replayed.close();
    should(expected.state).equal('COMPLETED');
    should(expected.early).be.below(devices.length);
    should(expected.counts.SUCCEEDED).equal(9);
    should(expected.counts.FAILED).equal(3);
    should(actual).eql(expected);
  });

  it('a unit that makes a record with a random id and reads after it runs again with the same id', async function () {
    const replayed = replayedFleet(promisedStore(new SqliteStore(join(dir, 'ids.sqlite'))));
    const [firmware, versions] = await replayed.ask((f) => {
      const fw = externalFirmware(f);
      return [fw, f.versions('pk1'), f.listBatches()] as const;
    });
    should(versions).eql([]);
    should((await replayed.ask((f) => f.listFirmware())).map((fw) => fw.id)).eql([firmware.id]);
    await replayed.close();
  });
});
