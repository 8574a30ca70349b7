import { PgStore } from '../../src/fleet/pg-store';
import { describeStoreContract } from './contract';
import { freshDatabase, needPostgres, type Postgres } from '../helpers/postgres';

describe('the store contract on PostgreSQL', function () {
  let server: Postgres;
  before(async function () {
    server = await needPostgres(this);
  });
  describeStoreContract('PgStore', async () => PgStore.open(await freshDatabase(server, 'contract')));
});
