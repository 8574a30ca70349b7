import should from 'should';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PgStore } from '../../src/fleet/pg-store';
import { freshDatabase, needPostgres, type Postgres } from '../helpers/postgres';
import { devices, plainFleet, replayedFleet, scenario } from '../fleet/replayed-scenario';

describe('the fleet on PostgreSQL (ReplayedFleet over PgStore)', function () {
  this.timeout(120_000);
  let server: Postgres;
  let dir: string;

  before(async function () {
    server = await needPostgres(this);
  });

  beforeEach(function () {
    dir = mkdtempSync(`${tmpdir()}/ota-replayed-pg-`);
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades a batch exactly as the fleet on the SQLite store does: notices, transitions, final state', async function () {
    const plain = plainFleet(dir);
    const expected = await scenario(plain);
    await plain.close();
    const replayed = replayedFleet(PgStore.open(await freshDatabase(server, 'replayed')));
    const actual = await scenario(replayed);
    await replayed.close();
    should(expected.counts.SUCCEEDED).equal(9);
    should(actual.tasks).have.length(devices.length);
    should(actual).eql(expected);
  });
});
