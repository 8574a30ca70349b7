/**
 * ota-fleet: one device fleet — inventory, firmware catalog, batches, scheduler, store (SQLite,
 * or PostgreSQL shared with other instances), hosted packages — shared by the OTA nodes bound to
 * it. Also mounts the admin API and the firmware download route (once per Node-RED).
 */
import type { NodeAPI, NodeDef } from 'node-red';
import { networkInterfaces, homedir } from 'node:os';
import { join } from 'node:path';
import { ensurePackageDir, packageDirSetting, resolvePackageDir } from '../fleet';
import { recoveryDelayFor } from '../fleet/recovery';
import { readPrivateKey } from '../protocol';
import { mountAdminApi } from './admin-api';
import { mountFirmwareRoute } from './firmware-route';
import { Engine, EngineSettings, leaseText, localEngine, sharedEngine, storeUrlSetting } from './fleet-engine';
import { FleetHandle, OtaFleetNode, registerFleet, unregisterFleet } from './registry';

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
  /** A postgres:// connection string: the fleet lives in that database, shared with other instances. */
  storeUrl?: string;
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
    let engine: Engine | undefined;
    try {
      const settings = readSettings(config);
      const storeUrl = storeUrlSetting(credentials.storeUrl);
      const packageDir = settings.packageDir && resolvePackageDir(settings.packageDir, userDirOf(RED));
      // A path that is a file or cannot be created is refused before the store is opened.
      if (packageDir) ensurePackageDir(packageDir);
      const name = config.name || node.id;
      const engineSettings: EngineSettings = {
        dir: fleetDir(RED, node.id),
        packageDir,
        synchronous: settings.synchronous,
        urlSecret: credentials.urlSecret?.trim() || undefined,
        host: {
          fleetId: node.id,
          publicUrl: settings.publicUrl ?? defaultPublicUrl(RED),
          expiryHours: settings.urlExpiryHours,
          signingKey: credentials.signingKey ? readPrivateKey('signingKey', credentials.signingKey) : undefined,
        },
        fleet: {
          settings: { requireVerification: settings.requireVerification },
          name,
          // After a restart the recovery notices wait until the flows' core mqtt nodes can have connected.
          recoveryDelayMs: recoveryDelayFor(
            (RED.settings as unknown as { mqttReconnectTime?: unknown }).mqttReconnectTime,
          ),
        },
        warn: (text) => node.warn(text),
      };
      engine = storeUrl ? sharedEngine(storeUrl, engineSettings) : localEngine(engineSettings);
      const running = engine;
      running.fleet.on('warning', (text) => node.warn(text));
      const handle: FleetHandle = {
        id: node.id,
        name,
        fleet: running.fleet,
        ask: running.ask,
        files: running.files,
        host: running.host,
        get secret() {
          return running.host.settings.secret;
        },
        maxPackageBytes: settings.maxPackageBytes,
        publicKey: settings.publicKey,
      };
      running.ready.catch((err: Error) => node.error(`the fleet "${name}" could not start: ${err.message}`));
      running.lease?.on('status', (status) => node.log(`scheduler lease: ${leaseText(status)}`));
      node.handle = handle;
      registerFleet(handle);
    } catch (err) {
      const message = (err as Error).message;
      node.failure = new Error(`the fleet "${config.name || node.id}" could not start: ${message}`);
      node.error(node.failure.message);
    }

    node.on('close', (removed: boolean, done: () => void) => {
      unregisterFleet(node.id);
      if (!engine) return done();
      engine.close().then(
        () => done(),
        () => done(),
      );
    });
  }

  RED.nodes.registerType('ota-fleet', OtaFleetNode, {
    credentials: { urlSecret: { type: 'password' }, signingKey: { type: 'password' }, storeUrl: { type: 'password' } },
  });
  mountAdminApi(RED);
  mountFirmwareRoute(RED);
};
