/**
 * Per-device access control for an embedded Aedes broker (docs/broker-acl.md): a device logs in
 * with username = its product key, client id = its device name (or `<productKey>.<deviceName>`,
 * as the simulator does) and its own password, and may then only publish its own reports (T1,
 * T3, T4, T6, T8) and subscribe to its own notices (T2, T5, T7, T8) — exact topics, no
 * wildcards. The platform's client logs in as a platform account and may do everything but
 * publish on `$SYS/`. The recipe for brokers without credentials; with device secrets, the
 * shipped hooks in src/broker replace it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AedesOptions, Client } from 'aedes';
import { startAedes, TestBroker } from './broker';

export interface OtaAccounts {
  /** Platform logins (Node-RED's mqtt-broker node, tools): full access. */
  platform: { username: string; password: string }[];
  /** The password of a device, or undefined when there is no such device. */
  devicePassword(productKey: string, deviceName: string): string | undefined;
}

type Identity = { role: 'platform' } | { role: 'device'; productKey: string; deviceName: string };

/** The topics a device publishes on (device → platform) and reads (platform → device). */
export function deviceTopics(productKey: string, deviceName: string): { publish: string[]; subscribe: string[] } {
  const pk = productKey;
  const dn = deviceName;
  return {
    publish: [
      `/ota/device/inform/${pk}/${dn}`, // T1
      `/ota/device/progress/${pk}/${dn}`, // T3
      `/sys/${pk}/${dn}/thing/ota/firmware/get`, // T4
      `/sys/${pk}/${dn}/thing/file/download`, // T6
      `/ota/device/request/${pk}/${dn}`, // T8 (both ways)
    ],
    subscribe: [
      `/ota/device/upgrade/${pk}/${dn}`, // T2
      `/sys/${pk}/${dn}/thing/ota/firmware/get_reply`, // T5
      `/sys/${pk}/${dn}/thing/file/download_reply`, // T7
      `/ota/device/request/${pk}/${dn}`, // T8
    ],
  };
}

function same(a: string, b: Buffer | undefined): boolean {
  if (!b) return false;
  const x = Buffer.from(a);
  return x.length === b.length && timingSafeEqual(x, b);
}

/** A product key or device name usable as one topic level. */
function isLevel(s: string | undefined): s is string {
  // eslint-disable-next-line no-control-regex -- NUL is refused
  return typeof s === 'string' && s.length > 0 && s.length <= 64 && !/[/+#\u0000]/.test(s);
}

/** The Aedes handlers that enforce the accounts. */
export function otaAcl(
  accounts: OtaAccounts,
): Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>> {
  const who = new WeakMap<Client, Identity>();
  const refuse = (returnCode: 1 | 2 | 3 | 4 | 5) => Object.assign(new Error('not authorized'), { returnCode });

  function identify(client: Client, username: string | undefined, password: Buffer | undefined): Identity | undefined {
    if (accounts.platform.some((p) => p.username === username && same(p.password, password)))
      return { role: 'platform' };
    if (!isLevel(username)) return undefined;
    const id = client.id;
    const names = [id, id.startsWith(`${username}.`) ? id.slice(username.length + 1) : undefined];
    for (const deviceName of names) {
      if (!isLevel(deviceName)) continue;
      const expected = accounts.devicePassword(username, deviceName);
      if (expected !== undefined)
        return same(expected, password) ? { role: 'device', productKey: username, deviceName } : undefined;
    }
    return undefined;
  }

  return {
    authenticate(client, username, password, callback) {
      const identity = identify(client, username, password);
      if (!identity) return callback(refuse(4), false); // 4: bad user name or password
      who.set(client, identity);
      callback(null, true);
    },
    authorizePublish(client, packet, callback) {
      if (packet.topic.startsWith('$SYS/')) return callback(new Error('$SYS/ topics are reserved'));
      if (!client) return callback(null); // the broker's own will messages
      const identity = who.get(client);
      if (identity?.role === 'platform') return callback(null);
      if (
        identity?.role === 'device' &&
        deviceTopics(identity.productKey, identity.deviceName).publish.includes(packet.topic)
      )
        return callback(null);
      // Aedes disconnects a client whose publish is refused: a device that tries is cut off.
      callback(new Error(`${client.id} may not publish on ${packet.topic}`));
    },
    authorizeSubscribe(client, sub, callback) {
      const identity = who.get(client);
      if (identity?.role === 'platform') return callback(null, sub);
      const allowed =
        identity?.role === 'device' &&
        deviceTopics(identity.productKey, identity.deviceName).subscribe.includes(sub.topic);
      // A refused subscription is negated (SUBACK 0x80); the client stays connected.
      callback(null, allowed ? sub : null);
    },
    authorizeForward(client, packet) {
      const identity = who.get(client);
      if (identity?.role === 'platform') return packet;
      if (
        identity?.role === 'device' &&
        deviceTopics(identity.productKey, identity.deviceName).subscribe.includes(packet.topic)
      )
        return packet;
      return null;
    },
  };
}

/** An Aedes broker on a free port on 127.0.0.1 that enforces `accounts`. */
export function startAedesWithAcl(accounts: OtaAccounts): Promise<TestBroker> {
  return startAedes(otaAcl(accounts));
}

/**
 * The Mosquitto `acl_file` of docs/broker-acl.md: devices log in with username = product key
 * (%u) and client id = device name (%c); the platform's login reads and writes every OTA topic.
 */
export function mosquittoAclFile(platformUser = 'ota-platform'): string {
  return [
    '# Devices log in with username = product key (%u) and client id = device name (%c).',
    '# What a device publishes: T1, T3, T4, T6, and T8 (which goes both ways).',
    'pattern write /ota/device/inform/%u/%c',
    'pattern write /ota/device/progress/%u/%c',
    'pattern write /sys/%u/%c/thing/ota/firmware/get',
    'pattern write /sys/%u/%c/thing/file/download',
    'pattern readwrite /ota/device/request/%u/%c',
    '# What a device reads: T2, T5, T7.',
    'pattern read /ota/device/upgrade/%u/%c',
    'pattern read /sys/%u/%c/thing/ota/firmware/get_reply',
    'pattern read /sys/%u/%c/thing/file/download_reply',
    '',
    "# The platform (Node-RED's mqtt-broker node) reads and writes every OTA topic.",
    `user ${platformUser}`,
    'topic readwrite /ota/device/#',
    'topic readwrite /sys/+/+/thing/#',
    '',
  ].join('\n');
}
