/**
 * `npm start` as one instance of several sharing a fleet: its PostgreSQL store (OTA_STORE_URL),
 * the broker they all use (MQTT_URL: shared subscriptions spread the device reports), the group
 * of their subscriptions and the directory all serve packages from.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface ClusterSettings {
  /** The PostgreSQL connection string (with its password: never printed). */
  storeUrl: string;
  /** The shared subscriptions' group (OTA_SHARE_GROUP). */
  group: string;
  /** The package directory every instance uses (OTA_PACKAGE_DIR). */
  packageDir: string;
}

/** The cluster settings of the environment, or undefined when OTA_STORE_URL is not set. */
export function readClusterSettings(env: NodeJS.ProcessEnv, mqttUrl: string | undefined): ClusterSettings | undefined {
  const storeUrl = env.OTA_STORE_URL || undefined;
  if (!storeUrl) return undefined;
  // The URL carries a password: a refusal never repeats it.
  if (!/^postgres(ql)?:\/\/[^/]+\/[^/?#]+/.test(storeUrl))
    throw new Error('OTA_STORE_URL must look like postgres://user:password@host:5432/database');
  if (!mqttUrl)
    throw new Error(
      'OTA_STORE_URL shares the fleet with other instances, which must all use one broker with shared subscriptions: ' +
        'set MQTT_URL too (e.g. mqtt://localhost:1883 of a Mosquitto); the embedded broker has none',
    );
  const group = env.OTA_SHARE_GROUP || 'ota';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group))
    throw new Error(`OTA_SHARE_GROUP must be 1 to 64 letters, digits, - or _, got "${group}"`);
  return { storeUrl, group, packageDir: resolve(env.OTA_PACKAGE_DIR || '.ota-packages') };
}

/**
 * Gives the flow's ota-fleet its PostgreSQL store as a credential, or takes it away. Node-RED
 * keeps node credentials in flows_cred.json (0600, in clear here: credentialSecret false).
 */
export function storeFleetStore(userDir: string, flows: { id: string; type: string }[], storeUrl?: string): void {
  const file = join(userDir, 'flows_cred.json');
  const credentials = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>)
    : {};
  for (const node of flows.filter((n) => n.type === 'ota-fleet')) {
    const { storeUrl: _old, ...others } = credentials[node.id] ?? {};
    credentials[node.id] = storeUrl ? { ...others, storeUrl } : others;
  }
  writeFileSync(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
}
