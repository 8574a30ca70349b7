/**
 * The Aedes hooks: a client gets in with the platform's login or with a device's own signed
 * login (Alibaba IoT's: parsed and checked by src/identity, the secret known to an authority);
 * a device then publishes only its own reports and reads only its own notices (src/identity's
 * topic rights, checked here for the device its login proved). The platform may do everything
 * but publish on `$SYS/`. Other clients (a Home Assistant, a dashboard) may be given logins of
 * their own, each held to the topic filters it was given.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import { mayPublish, maySubscribe, MqttLogin, parseLogin } from '../identity';
import type { DeviceRef } from '../protocol';
import type { Authority } from './authority';
import {
  checkClientLogins,
  ClientLogin,
  mayClientPublish,
  mayClientReceive,
  mayClientSubscribe,
} from './client-logins';

/** Who a connected client proved to be. */
export type BrokerIdentity =
  { role: 'platform' } | { role: 'device'; device: DeviceRef } | { role: 'client'; username: string };

export interface AedesHooksOptions {
  /** Checks devices' logins: `localAuthority({ secretOf })` or `httpAuthority({ url })`. */
  authority: Authority;
  /** The login of the platform's own MQTT client (Node-RED's mqtt-broker node): allowed everything. */
  platform?: { username: string; password: string };
  /**
   * Logins of other clients (a Home Assistant, a dashboard), each allowed to publish and subscribe
   * only within its own topic filters. None may use the platform's user name or one of a device
   * login's shape (`<deviceName>&<productKey>`): createAedesHooks throws.
   */
  clients?: readonly ClientLogin[];
  /** Told one line per refusal (never a password or a secret). */
  log?: (line: string) => void;
}

type Handler<K extends keyof AedesOptions> = NonNullable<AedesOptions[K]>;

export interface AedesHooks {
  authenticate: Handler<'authenticate'>;
  authorizePublish: Handler<'authorizePublish'>;
  authorizeSubscribe: Handler<'authorizeSubscribe'>;
  authorizeForward: Handler<'authorizeForward'>;
  /** Who a connected client proved to be (undefined before its login was accepted). */
  identityOf(client: Client): BrokerIdentity | undefined;
}

/** CONNACK return codes of MQTT 3.1.1 that a refused login gets. */
const SERVER_UNAVAILABLE = 3;
const MALFORMED = 4; // "the data in the user name or password is malformed"
const NOT_AUTHORIZED = 5;

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function sameText(expected: string, given: Buffer | undefined): boolean {
  if (!given) return false;
  const want = Buffer.from(expected, 'utf8');
  return want.length === given.length && timingSafeEqual(want, given);
}

/** A value for a log line: quoted, and cut short (a log line is no place for a long blob). */
function shown(value: string | undefined): string {
  if (value === undefined) return 'none';
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

export function createAedesHooks(options: AedesHooksOptions): AedesHooks {
  const { authority, platform } = options;
  const clients = checkClientLogins(options.clients ?? [], platform?.username);
  const log = options.log ?? (() => undefined);
  const identities = new WeakMap<Client, BrokerIdentity>();

  async function identify(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<BrokerIdentity> {
    const who = `client ${shown(client.id)} (username ${shown(username)})`;
    if (platform && username === platform.username) {
      if (sameText(platform.password, password)) return { role: 'platform' };
      throw refusal(NOT_AUTHORIZED, `${who}: wrong platform password`);
    }
    const known = username === undefined ? undefined : clients.get(username);
    if (known) {
      if (sameText(known.password, password)) return { role: 'client', username: known.username };
      throw refusal(NOT_AUTHORIZED, `${who}: wrong password`);
    }
    if (username === undefined && password === undefined)
      throw refusal(NOT_AUTHORIZED, `${who}: anonymous logins are refused`);
    const login: MqttLogin = { clientId: client.id, username, password };
    const parsed = parseLogin(login);
    if (!parsed.ok) throw refusal(MALFORMED, `${who}: not a device login (${parsed.reason})`);
    const { productKey, deviceName } = parsed.claim;
    const verdict = await authority.check(parsed.claim, login);
    if (verdict.ok) return { role: 'device', device: { productKey, deviceName } };
    const what = `${who} as ${productKey}/${deviceName}`;
    const detail = verdict.detail ? `: ${verdict.detail}` : '';
    if (verdict.refusal === 'unavailable')
      throw refusal(SERVER_UNAVAILABLE, `${what}: ${authority.name} could not decide${detail}`);
    throw refusal(NOT_AUTHORIZED, `${what}: ${verdict.refusal}${detail}`);
  }

  function describe(client: Client): string {
    const identity = identities.get(client);
    const device = identity?.role === 'device' ? ` (${identity.device.productKey}/${identity.device.deviceName})` : '';
    const user = identity?.role === 'client' ? ` (user ${shown(identity.username)})` : '';
    return `client ${shown(client.id)}${device}${user}`;
  }

  return {
    authenticate(client, username, password, done) {
      identify(client, username, password).then(
        (identity) => {
          identities.set(client, identity);
          done(null, true);
        },
        (err: Error & { returnCode?: number }) => {
          const error = err.returnCode
            ? (err as AuthenticateError)
            : refusal(SERVER_UNAVAILABLE, `client ${shown(client.id)}: ${err.message}`);
          log(`login refused, ${error.message}`);
          done(error, false);
        },
      );
    },

    authorizePublish(client, packet, done) {
      if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS/ topics are reserved to the broker'));
      // A will left by a client of an earlier broker run: no login to hold it to.
      if (!client) return done(new Error(`a will on ${packet.topic} without its client is not delivered`));
      const identity = identities.get(client);
      if (identity?.role === 'platform') return done(null);
      if (identity?.role === 'device' && mayPublish(identity.device, packet.topic)) return done(null);
      if (identity?.role === 'client' && mayClientPublish(clients.get(identity.username), packet.topic))
        return done(null);
      // Aedes then closes the connection: MQTT 3.1.1 has no way to refuse one publish. (A will is
      // published after the client is gone: it is only dropped.)
      log(
        `publish refused, ${describe(client)} may not publish on ${shown(packet.topic)}: ${client.closed ? 'its will is dropped' : 'disconnected'}`,
      );
      done(new Error(`${client.id} may not publish on ${packet.topic}`));
    },

    authorizeSubscribe(client, sub, done) {
      const identity = identities.get(client);
      if (identity?.role === 'platform') return done(null, sub);
      if (identity?.role === 'device' && maySubscribe(identity.device, sub.topic)) return done(null, sub);
      if (identity?.role === 'client' && mayClientSubscribe(clients.get(identity.username), sub.topic))
        return done(null, sub);
      // A null subscription is a failure in the SUBACK (0x80): the client stays connected.
      log(`subscription refused, ${describe(client)} may not subscribe to ${shown(sub.topic)}`);
      done(null, null);
    },

    // Should a subscription ever slip through, a device is still handed nothing but its own.
    authorizeForward(client, packet) {
      const identity = identities.get(client);
      if (identity?.role === 'platform') return packet;
      if (identity?.role === 'device' && maySubscribe(identity.device, packet.topic)) return packet;
      if (identity?.role === 'client' && mayClientReceive(clients.get(identity.username), packet.topic)) return packet;
      return null;
    },

    identityOf(client) {
      return identities.get(client);
    },
  };
}
