/**
 * ota-fleet: one device fleet — inventory, firmware catalog, batches, scheduler, SQLite store,
 * hosted packages — shared by the OTA nodes bound to it. Also mounts the admin API and the
 * firmware download route (once per Node-RED).
 */
import type { NodeAPI, NodeDef } from 'node-red';
import { randomBytes } from 'node:crypto';
import { networkInterfaces, homedir } from 'node:os';
import { join } from 'node:path';
import {
  claimPackageDir,
  ensurePackageDir,
  FirmwareHost,
  Fleet,
  PackageFiles,
  packageDirSetting,
  promisedStore,
  ReplayedFleet,
  resolvePackageDir,
  SqliteStore,
  storeIdentity,
} from '../fleet';
import { recoveryDelayFor } from '../fleet/recovery';
import { readPrivateKey } from '../protocol';
import { mountAdminApi } from './admin-api';
import { mountFirmwareRoute } from './firmware-route';
import { askNow, FleetHandle, OtaFleetNode, registerFleet, unregisterFleet } from './registry';

interface OtaFleetDef extends NodeDef {
  requireVerification?: boolean | string;
  publicUrl?: string;
  urlExpiryHours?: number | string;
  maxPackageMB?: number | string;
  publicKey?: string;
  synchronous?: string;
  packageDir?: string;
}

interface Credentials {
  urlSecret?: string;
  signingKey?: string;
}

interface Settings {
  requireVerification: boolean;
  publicUrl?: string;
  urlExpiryHours: number;
  maxPackageBytes: number;
  publicKey?: string;
  synchronous: Synchronous;
  /** The directory of the hosted packages as the user named it; undefined: `<fleet dir>/firmware`. */
  packageDir?: string;
}

/** SQLite's durability levels a fleet may use: NORMAL survives a killed process, FULL also a power cut. */
const SYNCHRONOUS = ['NORMAL', 'FULL'] as const;
type Synchronous = (typeof SYNCHRONOUS)[number];

function synchronousSetting(value: unknown): Synchronous {
  if (value === undefined || value === null || value === '') return 'NORMAL';
  if (SYNCHRONOUS.includes(value as Synchronous)) return value as Synchronous;
  throw new Error(
    `synchronous must be NORMAL (survives a killed process) or FULL (also a power cut), got ${JSON.stringify(value)}`,
  );
}

function numberSetting(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function readSettings(config: OtaFleetDef): Settings {
  const publicUrl = (config.publicUrl ?? '').trim();
  if (publicUrl && !/^https?:\/\/[^\s/]+/i.test(publicUrl))
    throw new Error(`publicUrl must be an http:// or https:// base URL, got ${JSON.stringify(publicUrl)}`);
  return {
    requireVerification: config.requireVerification !== false && config.requireVerification !== 'false',
    publicUrl: publicUrl || undefined,
    urlExpiryHours: numberSetting('urlExpiryHours', config.urlExpiryHours, 24, 1, 720),
    maxPackageBytes: Math.round(numberSetting('maxPackageMB', config.maxPackageMB, 1000, 1, 100_000) * 1024 * 1024),
    publicKey: config.publicKey?.trim() || undefined,
    synchronous: synchronousSetting(config.synchronous),
    packageDir: packageDirSetting(config.packageDir),
  };
}

/** Node-RED's own HTTP address as devices on the LAN would reach it. */
function defaultPublicUrl(RED: NodeAPI): string {
  const s = RED.settings as unknown as { https?: unknown; uiPort?: number; httpNodeRoot?: string | false };
  const lan = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  const root = typeof s.httpNodeRoot === 'string' ? s.httpNodeRoot : '/';
  return `${s.https ? 'https' : 'http'}://${lan?.address ?? 'localhost'}:${s.uiPort ?? 1880}${root}`.replace(
    /\/+$/,
    '',
  );
}

function userDirOf(RED: NodeAPI): string {
  return (RED.settings as unknown as { userDir?: string }).userDir ?? join(homedir(), '.node-red');
}

/** Where a fleet keeps its store, and its packages unless told otherwise: `<userDir>/ota/<fleet id>/`. */
function fleetDir(RED: NodeAPI, id: string): string {
  return join(userDirOf(RED), 'ota', id.replace(/[^A-Za-z0-9_-]/g, '_'));
}

export = function (RED: NodeAPI) {
  function OtaFleetNode(this: OtaFleetNode, config: OtaFleetDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const credentials = (node.credentials ?? {}) as Credentials;
    let fleet: Fleet | undefined;
    let replayed: ReplayedFleet | undefined;
    let store: SqliteStore | undefined;
    try {
      const settings = readSettings(config);
      const dir = fleetDir(RED, node.id);
      const packageDir = settings.packageDir && resolvePackageDir(settings.packageDir, userDirOf(RED));
      // A path that is a file or cannot be created is refused before the store is opened.
      if (packageDir) ensurePackageDir(packageDir);
      store = new SqliteStore(join(dir, 'fleet.sqlite'), { synchronous: settings.synchronous });
      // Without a secret in the credentials (an imported flow), keep one in the store so URLs survive restarts.
      let secret = credentials.urlSecret?.trim();
      if (!secret) {
        secret = store.getMeta('urlSecret') ?? randomBytes(32).toString('hex');
        store.setMeta('urlSecret', secret);
      }
      const files = new PackageFiles(packageDir || join(dir, 'firmware'));
      const host = new FirmwareHost(files, {
        fleetId: node.id,
        publicUrl: settings.publicUrl ?? defaultPublicUrl(RED),
        secret,
        expiryHours: settings.urlExpiryHours,
        signingKey: credentials.signingKey ? readPrivateKey('signingKey', credentials.signingKey) : undefined,
      });
      const options = {
        host,
        settings: { requireVerification: settings.requireVerification },
        name: config.name || node.id,
        // After a restart the recovery notices wait until the flows' core mqtt nodes can have connected.
        recoveryDelayMs: recoveryDelayFor(
          (RED.settings as unknown as { mqttReconnectTime?: unknown }).mqttReconnectTime,
        ),
      };
      // A named directory is claimed for this store, or refused as another store's, before any use.
      if (packageDir)
        claimPackageDir(packageDir, { storeId: storeIdentity(store), fleet: config.name || node.id }, Date.now());
      let ask: FleetHandle['ask'];
      if (process.env.OTA_FLEET_ENGINE === 'replayed') {
        // The engine of a store on a server, on this SQLite file: every unit of work replayed (tests).
        replayed = new ReplayedFleet({ ...options, server: promisedStore(store) });
        fleet = replayed.fleet;
        ask = (fn) => (replayed as ReplayedFleet).ask(fn);
      } else {
        fleet = new Fleet({ ...options, store });
        ask = askNow(fleet);
      }
      const running: Fleet = fleet;
      running.on('warning', (text) => node.warn(text));
      const handle: FleetHandle = {
        id: node.id,
        name: config.name || node.id,
        fleet: running,
        ask,
        files,
        host,
        secret,
        maxPackageBytes: settings.maxPackageBytes,
        publicKey: settings.publicKey,
      };
      node.handle = handle;
      registerFleet(handle);
    } catch (err) {
      if (fleet) fleet.close();
      else store?.close();
      fleet = undefined;
      replayed = undefined;
      const message = (err as Error).message;
      node.failure = new Error(`the fleet "${config.name || node.id}" could not start: ${message}`);
      node.error(node.failure.message);
    }

    node.on('close', (removed: boolean, done: () => void) => {
      unregisterFleet(node.id);
      if (replayed) void replayed.close().then(done, done);
      else {
        fleet?.close();
        done();
      }
    });
  }

  RED.nodes.registerType('ota-fleet', OtaFleetNode, {
    credentials: { urlSecret: { type: 'password' }, signingKey: { type: 'password' } },
  });
  mountAdminApi(RED);
  mountFirmwareRoute(RED);
};
