/**
 * One PgLease in a process of its own, for the test that SIGKILLs a leader: the database and
 * the fleet name come in the environment (never the command line, where `ps` shows them); it
 * prints `acquired <epoch>` and `lost <reason>` as they happen.
 */
import { PgLease } from '../../src/fleet/pg-lease';

const lease = new PgLease(process.env.OTA_LEASE_DB ?? '', {
  name: process.env.OTA_LEASE_NAME ?? '',
  holder: process.env.OTA_LEASE_HOLDER,
});
lease.on('acquired', (epoch) => console.log(`acquired ${epoch}`));
lease.on('lost', (reason) => console.log(`lost ${reason}`));
lease.start();
// The lease's timers do not keep a process alive (a Node-RED runtime would): this does.
setInterval(() => {}, 60_000);
