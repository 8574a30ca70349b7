import should from 'should';
import pg from 'pg';
import { freshDatabase, needPostgres, Postgres } from './helpers/postgres';

describe('PostgreSQL for the tests (test/helpers/postgres.ts)', function () {
  this.timeout(60_000);
  let server: Postgres;

  before(async function () {
    server = await needPostgres(this);
  });

  it('answers on 127.0.0.1 with the password it was made with, in a database of the suite', async function () {
    const url = await freshDatabase(server, 'part');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; addr: string | null }>(
        'SELECT current_database() AS db, host(inet_server_addr()) AS addr',
      );
      should(rows).eql([{ db: new URL(url).pathname.slice(1), addr: '127.0.0.1' }]);
    } finally {
      await client.end();
    }
  });

  it('refuses a wrong password', async function () {
    const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', password: 'wrong' });
    await should(client.connect()).be.rejectedWith(/password authentication failed/);
    await client.end().catch(() => undefined);
  });

  it('listens on no address but loopback', function () {
    should(server.psql('postgres', 'SHOW listen_addresses')).equal('127.0.0.1');
  });

  it('fails with what the program said, and no password in it', function () {
    let message = '';
    try {
      server.psql('postgres', 'SELECT * FROM no_such_table');
    } catch (err) {
      message = (err as Error).message;
    }
    should(message).match(/psql failed \(exit \d\): .*relation "no_such_table" does not exist/);
    should(message).not.containEql(server.password);
  });
});
