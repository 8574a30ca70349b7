/**
 * How an ota-fleet runs its fleet: on a SQLite file of this Node-RED (the default), or on a
 * PostgreSQL database that several Node-RED instances share (docs/scaling-out.md). Either way the
 * nodes get a `Fleet` for its events and an `ask` for everything that reads or writes the store.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  claimPackageDir,
  FirmwareHost,
  Fleet,
  PackageFiles,
  promisedStore,
  ReplayedFleet,
  SqliteStore,
  storeIdentity,
  type FleetOptions,
  type HostSettings,
} from '../fleet';
import { PgChannel } from '../fleet/pg-channel';
import { PgLease, type LeaseStatus } from '../fleet/pg-lease';
import { PgStore } from '../fleet/pg-store';
import { askNow, type FleetHandle } from './registry';

/** What every engine is given. */
export interface EngineSettings {
  /** The fleet's own directory: its SQLite file, and its packages unless `packageDir` names others. */
  dir: string;
  packageDir?: string;
  synchronous: 'NORMAL' | 'FULL';
  /** The URL signing secret from the node's credentials; none: one kept in the store. */
  urlSecret?: string;
  host: Omit<HostSettings, 'secret'>;
  fleet: Omit<FleetOptions, 'store' | 'units' | 'host'>;
  warn: (text: string) => void;
}

/** A fleet as the nodes reach it, and how it stops. */
export interface Engine {
  fleet: Fleet;
  ask: FleetHandle['ask'];
  files: PackageFiles;
  host: FirmwareHost;
  /** The scheduler's lease, when several instances share the store. */
  lease?: PgLease;
  /** Resolves once the fleet can serve (a shared store connected and migrated); rejects with why it cannot. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** A connection string the PostgreSQL store accepts, or a refusal that names what is wrong (never the string itself). */
export function storeUrlSetting(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  if (!text) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('the PostgreSQL store must be a connection string such as postgres://user:password@host/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new Error(`the PostgreSQL store must be a postgres:// connection string, not ${url.protocol}//…`);
  if (!url.pathname || url.pathname === '/')
    throw new Error('the PostgreSQL store connection string names no database: add /<database> after the host');
  return text;
}

/** The fleet on the SQLite file of this Node-RED. */
export function localEngine(settings: EngineSettings): Engine {
  const store = new SqliteStore(join(settings.dir, 'fleet.sqlite'), { synchronous: settings.synchronous });
  try {
    // Without a secret in the credentials (an imported flow), keep one in the store so URLs survive restarts.
    let secret = settings.urlSecret;
    if (!secret) {
      secret = store.getMeta('urlSecret') ?? randomBytes(32).toString('hex');
      store.setMeta('urlSecret', secret);
    }
    const files = new PackageFiles(settings.packageDir || join(settings.dir, 'firmware'));
    const host = new FirmwareHost(files, { ...settings.host, secret });
    // A named directory is claimed for this store, or refused as another store's, before any use.
    if (settings.packageDir)
      claimPackageDir(
        settings.packageDir,
        { storeId: storeIdentity(store), fleet: settings.fleet.name ?? '' },
        Date.now(),
      );
    if (process.env.OTA_FLEET_ENGINE === 'replayed') {
      // The engine of a shared store, on this SQLite file: every unit of work replayed (tests).
      const replayed = new ReplayedFleet({ ...settings.fleet, host, server: promisedStore(store) });
      return {
        fleet: replayed.fleet,
        ask: (fn) => replayed.ask(fn),
        files,
        host,
        ready: Promise.resolve(),
        close: async () => {
          await replayed.close();
          await store.whenClosed();
        },
      };
    }
    const fleet = new Fleet({ ...settings.fleet, host, store });
    const close = async () => {
      fleet.close();
      // The store's checkpoint thread makes the last checkpoint off the event loop: deploy after it.
      await store.whenClosed();
    };
    return { fleet, ask: askNow(fleet), files, host, ready: Promise.resolve(), close };
  } catch (err) {
    store.close();
    throw err;
  }
}

/** The fleet on a PostgreSQL database shared with other instances: one of them schedules (the lease). */
export function sharedEngine(url: string, settings: EngineSettings): Engine {
  const files = new PackageFiles(settings.packageDir || join(settings.dir, 'firmware'));
  // Signed URLs need the secret every instance shares: it comes from the store once connected.
  const host = new FirmwareHost(files, { ...settings.host, secret: settings.urlSecret ?? '' });
  // One fleet per database: its instances share one lease and one channel.
  const lease = new PgLease(url, { name: 'fleet' });
  const channel = new PgChannel(url, { fleet: 'fleet', onTrouble: settings.warn });
  // A unit of work cut off from the database fails within 10 s (a report is refused, with the reason) rather than waiting.
  // A transaction left open by an instance cut off from the database holds its row locks until the
  // server ends it: after 5 s idle (a unit of work is idle in its transaction for milliseconds), so
  // the instance that takes over is not held up for long.
  const server = PgStore.open(url, {
    queryTimeoutMs: 10_000,
    idleInTransactionTimeoutMs: 5_000,
    onError: (err) => settings.warn(err.message),
  });
  const replayed = new ReplayedFleet({ ...settings.fleet, host, server, lease, channel });
  // Random candidates made once, outside the unit: a unit that runs again must ask the same.
  const candidates = { secret: randomHex(), id: randomBytes(16).toString('hex') };
  const ready = replayed
    .ask((f) => ({
      secret: settings.urlSecret || f.keptSecret('urlSecret', candidates.secret),
      id: f.identity(candidates.id),
    }))
    .then(({ secret, id }) => {
      host.settings.secret = secret;
      if (settings.packageDir)
        claimPackageDir(settings.packageDir, { storeId: id, fleet: settings.fleet.name ?? '' }, Date.now());
      lease.start();
    });
  ready.catch(() => undefined);
  return {
    fleet: replayed.fleet,
    ask: (fn) => ready.then(() => replayed.ask(fn)),
    files,
    host,
    lease,
    ready,
    async close() {
      await lease.stop();
      await replayed.close();
      await channel.close();
    },
  };
}

/** What a lease's status says, for a log line. */
export function leaseText(status: LeaseStatus): string {
  return status.reason ? `${status.role}: ${status.reason}` : status.role;
}

function randomHex(): string {
  return randomBytes(32).toString('hex');
}
