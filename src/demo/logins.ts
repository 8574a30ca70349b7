/**
 * The demo's logins when its embedded broker checks them (OTA_BROKER_AUTH): a random secret for
 * every simulated device, registered with the fleet through the admin API as Alibaba's console
 * would hand them out, and a random login for the platform's own client, the flow's
 * `mqtt-broker` node. Fresh on every start: nothing to leak between runs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

export function randomPlatformLogin(): PlatformLogin {
  return { username: 'ota-platform', password: randomBytes(18).toString('base64url') };
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
