/**
 * A package directory named by the user, and its guard. Deleting a firmware removes its package
 * file when no record of the same store uses it, so two stores sharing a directory could delete
 * each other's packages. The first store to use a directory therefore writes a marker holding its
 * identity (a random id, no secret); a store with another identity is refused there, before
 * anything is written or deleted in it. Processes sharing one store share its identity, and so
 * the directory.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FleetStore } from './store';

/** The marker's file name: not a SHA-256, so the download route (files by digest only) never serves it. */
export const PACKAGE_DIR_MARKER = '.ota-fleet.json';

/** The meta key under which a store keeps its identity. */
const STORE_ID_KEY = 'storeId';

export interface PackageDirMarker {
  what: string;
  storeId: string;
  /** The name of the fleet that claimed the directory, to say whose it is in a refusal. */
  fleet: string;
  claimedAt: string;
}

/** How a fleet stands with a directory: it claimed it now, or it was already its own. */
export type PackageDirClaim = 'claimed' | 'own';

/**
 * The `packageDir` setting: undefined when empty (the default directory), else the text as
 * written. `~` is refused: Node-RED would not expand it, and a `~` folder would silently appear.
 */
export function packageDirSetting(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Error(`packageDir must be a path, got ${JSON.stringify(value)}`);
  const text = value.trim();
  if (!text) return undefined;
  if (text.includes('\0')) throw new Error('packageDir must be a path, got a text with a NUL character');
  if (text === '~' || text.startsWith('~/') || text.startsWith('~\\'))
    throw new Error(`packageDir is not expanded from "~": write the whole path, got ${JSON.stringify(text)}`);
  return text;
}

/** A named directory as an absolute path: a relative one is under the Node-RED user directory. */
export function resolvePackageDir(named: string, userDir: string): string {
  return resolve(userDir, named);
}

/** The store's identity, made (and kept with the fleet) the first time it is asked for. */
export function storeIdentity(
  store: Pick<FleetStore, 'getMeta' | 'setMeta'>,
  make: () => string = () => randomBytes(16).toString('hex'),
): string {
  let id = store.getMeta(STORE_ID_KEY);
  if (!id) {
    id = make();
    store.setMeta(STORE_ID_KEY, id);
  }
  return id;
}

function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOTDIR: 'a part of the path is a file, not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    ENOENT: 'a part of the path does not exist',
    ELOOP: 'too many symbolic links',
  };
  return e.code && reasons[e.code] ? `${reasons[e.code]} (${e.code})` : e.message;
}

/**
 * Makes sure `dir` is a directory, creating it (and its parents) when missing. Refuses a path that
 * exists as anything else, or that cannot be created. Writes nothing into an existing directory.
 */
export function ensurePackageDir(dir: string): void {
  let isDirectory: boolean | undefined;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (err) {
    // Missing, or under a file (ENOTDIR): mkdir below says which.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      throw new Error(`packageDir "${dir}" cannot be read: ${why(err)}`, { cause: err });
  }
  if (isDirectory === false) throw new Error(`packageDir "${dir}" exists and is not a directory: name a directory`);
  if (isDirectory) return;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new Error(`packageDir "${dir}" could not be created: ${why(err)}`, { cause: err });
  }
}

function readMarker(dir: string): PackageDirMarker | undefined {
  const path = join(dir, PACKAGE_DIR_MARKER);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`packageDir "${dir}": ${path} cannot be read: ${why(err)}`, { cause: err });
  }
  let marker: Partial<PackageDirMarker> | undefined;
  try {
    marker = JSON.parse(text) as Partial<PackageDirMarker>;
  } catch {
    marker = undefined;
  }
  if (!marker || typeof marker.storeId !== 'string' || !marker.storeId)
    throw new Error(
      `packageDir "${dir}": ${path} is not a fleet store's marker; remove it if no other fleet uses this directory`,
    );
  return marker as PackageDirMarker;
}

function refuseOther(dir: string, marker: PackageDirMarker, storeId: string): void {
  if (marker.storeId === storeId) return;
  const whose = typeof marker.fleet === 'string' && marker.fleet ? ` (fleet ${JSON.stringify(marker.fleet)})` : '';
  throw new Error(
    `packageDir "${dir}" is the package directory of another fleet store${whose}; name another directory, or remove ${join(dir, PACKAGE_DIR_MARKER)} if that store is gone`,
  );
}

/** Writes and removes an empty file: the only sure test, since root passes every permission check. */
function probeWritable(dir: string): void {
  const probe = join(dir, `.ota-fleet-probe-${randomBytes(8).toString('hex')}`);
  try {
    writeFileSync(probe, '', { flag: 'wx' });
  } catch (err) {
    throw new Error(`packageDir "${dir}" is not writable: ${why(err)}`, { cause: err });
  }
  rmSync(probe, { force: true });
}

/**
 * Claims `dir` for the store `storeId` (of the fleet named `fleet`), or confirms it is already
 * its own; refuses a directory that is not, or that cannot be written. `at`: the time of the claim.
 */
export function claimPackageDir(dir: string, owner: { storeId: string; fleet: string }, at: number): PackageDirClaim {
  ensurePackageDir(dir);
  const found = readMarker(dir);
  if (found) {
    refuseOther(dir, found, owner.storeId);
    probeWritable(dir);
    return 'own';
  }
  const marker: PackageDirMarker = {
    what: 'the package directory of one ota-fleet store (node-red-contrib-mqtt-ota)',
    storeId: owner.storeId,
    fleet: owner.fleet,
    claimedAt: new Date(at).toISOString(),
  };
  const text = `${JSON.stringify(marker, null, 2)}\n`;
  const path = join(dir, PACKAGE_DIR_MARKER);
  const temp = join(dir, `.ota-fleet-${randomBytes(8).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, text, { flag: 'wx' });
  } catch (err) {
    throw new Error(`packageDir "${dir}" is not writable: ${why(err)}`, { cause: err });
  }
  try {
    // A link appears whole and only if no marker is there: of two stores starting together, one claims.
    linkMarker(temp, path, text);
    return 'claimed';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new Error(`packageDir "${dir}" is not writable: ${why(err)}`, { cause: err });
    const other = readMarker(dir);
    if (!other)
      throw new Error(`packageDir "${dir}": its marker changed while the fleet started; deploy again`, {
        cause: err,
      });
    refuseOther(dir, other, owner.storeId);
    return 'own';
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Links the written marker into place; where the file system has no hard links, creates it exclusively. */
function linkMarker(temp: string, path: string, text: string): void {
  try {
    linkSync(temp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
    writeFileSync(path, text, { flag: 'wx' });
  }
}
