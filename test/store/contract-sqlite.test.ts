import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/fleet';
import { promisedStore } from '../../src/fleet/async-store';
import { describeStoreContract } from './contract';

/** Each store in a fresh temp dir, removed when the store closes. */
describeStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-contract-'));
  const store = promisedStore(new SqliteStore(join(dir, 'fleet.sqlite')));
  return {
    ...store,
    async close() {
      try {
        await store.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
});
