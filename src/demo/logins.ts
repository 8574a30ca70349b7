/**
 * The demo's logins when its embedded broker checks them (OTA_BROKER_AUTH): a random secret for
 * every simulated device, registered with the fleet through the admin API as Alibaba's console
 * would hand them out, and a random login for the platform's own client, the flow's
 * `mqtt-broker` node; with OTA_HOMEASSISTANT=on, a login for Home Assistant held to its own
 * topics, written to a file only the user may read. Fresh on every start: nothing to leak between runs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientLogin } from '../broker';
import { postJson } from './node-red';

export interface PlatformLogin {
  username: string;
  password: string;
}

export interface DeviceSecret {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
}

/** 144 random bits, in characters that need no quoting in a URL, a shell or a YAML file. */
function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

export function randomPlatformLogin(): PlatformLogin {
  return { username: 'ota-platform', password: randomPassword() };
}

/** Home Assistant's user name at the demo's broker. */
export const HOMEASSISTANT_USER = 'homeassistant';
/** Where the demo writes Home Assistant's login, in its directory. */
export const HOMEASSISTANT_LOGIN_FILE = 'homeassistant-login.json';

/**
 * Home Assistant's login at the demo's broker: it reads the discovery topics and the node's own
 * (state, attributes, availability), and publishes its birth and will (`<prefix>/status`) and
 * Install presses (`<base>/<object id>/install`). Nothing of the devices' OTA topics.
 */
export function homeAssistantLogin(topics: { prefix: string; base: string }, password = randomPassword()): ClientLogin {
  const { prefix, base } = topics;
  return {
    username: HOMEASSISTANT_USER,
    password,
    subscribe: [`${prefix}/#`, `${base}/#`],
    publish: [`${prefix}/status`, `${base}/+/install`],
  };
}

/** What the login file holds: what Home Assistant's MQTT integration asks for. */
export interface HomeAssistantLoginFile {
  broker: string;
  port: number;
  username: string;
  password: string;
  discoveryPrefix: string;
}

/**
 * Writes Home Assistant's login to `<dir>/homeassistant-login.json`, readable by the user only
 * (0600, also when an older file was not), or only removes an older file when there is no login;
 * returns the file's path.
 */
export function storeHomeAssistantLogin(dir: string, login?: HomeAssistantLoginFile): string {
  const file = join(dir, HOMEASSISTANT_LOGIN_FILE);
  // Removed first: a file of an older run keeps its mode when written over, and may be readable.
  rmSync(file, { force: true });
  if (login) writeFileSync(file, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return file;
}

/** A device secret of the length Alibaba gives (32 characters). */
export function randomDeviceSecret(): string {
  return randomBytes(16).toString('hex');
}

/** Registers the devices' secrets with the fleet (`POST …/credentials`); the fleet replaces older ones. */
export async function registerSecrets(fleetApi: string, secrets: DeviceSecret[]): Promise<void> {
  if (secrets.length === 0) return;
  const answer = await postJson<{ registered?: number }>(`${fleetApi}/credentials`, secrets);
  if (answer.registered !== secrets.length)
    throw new Error(`the fleet registered ${answer.registered} of ${secrets.length} device secrets`);
}

/**
 * Gives the flow's `mqtt-broker` nodes the platform's login as their credentials, or takes it
 * away. Node-RED keeps node credentials in flows_cred.json, in clear here (credentialSecret false).
 */
export function storePlatformLogin(
  userDir: string,
  flows: { id: string; type: string }[],
  login?: PlatformLogin,
): void {
  const file = join(userDir, 'flows_cred.json');
  const credentials = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>)
    : {};
  for (const node of flows.filter((n) => n.type === 'mqtt-broker')) {
    const { user: _user, password: _password, ...others } = credentials[node.id] ?? {};
    credentials[node.id] = login ? { ...others, user: login.username, password: login.password } : others;
  }
  writeFileSync(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
}
