/**
 * A device's MQTT session, behind a small interface so a device does not care whether it has its
 * own client (as in the field) or shares one connection with many others (for load tests with
 * 10,000 devices). Only this file and simulation.ts touch mqtt.js.
 */
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import { DeviceRef, MqttMessage } from '../protocol';
import { Interrupted, unlessAborted } from './timers';

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface MqttLink {
  /** Subscribes the device to exact topics (never a wildcard), at QoS 1. */
  subscribe(topics: string[]): Promise<void>;
  publish(message: MqttMessage): Promise<void>;
  /**
   * Ends the device's session. `reboot` first delivers what was published, as a device that
   * finishes its reports before restarting; `vanish` drops the connection without a word.
   */
  end(how: 'reboot' | 'vanish'): Promise<void>;
}

/** Opens one device's session and resolves once it is connected. */
export type LinkOpener = (device: DeviceRef, onMessage: MessageHandler, signal: AbortSignal) => Promise<MqttLink>;

/** What one MQTT client logs in with; without a user name, the broker settings' user name and password. */
export interface ClientLogin {
  clientId: string;
  username?: string;
  password?: string;
}

/** A device's own login (signed), or undefined for the broker settings' one. */
export type LoginOf = (device: DeviceRef) => ClientLogin | undefined;

export interface BrokerSettings {
  broker: string;
  username?: string;
  password?: string;
  insecure: boolean;
}

/** Every MQTT client the simulator opened, so a stop can end them all. */
export class Connections {
  private readonly clients = new Set<MqttClient>();

  constructor(
    private readonly settings: BrokerSettings,
    private readonly onError: (clientId: string, err: Error) => void,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** A connected client; a client that cannot connect keeps trying until `signal` aborts. */
  async connect(login: ClientLogin, signal: AbortSignal): Promise<MqttClient> {
    const options: IClientOptions = {
      ...credentials(this.settings, login),
      clean: true,
      keepalive: 60,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      rejectUnauthorized: !this.settings.insecure,
    };
    const client = mqtt.connect(this.settings.broker, options);
    this.clients.add(client);
    // A signed client id carries its login parameters after "|": warnings name the device only.
    const name = login.clientId.split('|')[0];
    client.on('error', (err) => this.onError(name, err));
    try {
      await unlessAborted(new Promise<void>((resolve) => client.once('connect', () => resolve())), signal);
      return client;
    } catch (err) {
      await this.close(client, 'vanish');
      throw err;
    }
  }

  async close(client: MqttClient, how: 'reboot' | 'vanish'): Promise<void> {
    if (!this.clients.delete(client)) return;
    if (how === 'vanish') {
      await client.endAsync(true);
      return;
    }
    // A graceful end waits for unacknowledged messages; a broker that went away must not hang it.
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => resolve(client.endAsync(true)), 2000);
    });
    await Promise.race([client.endAsync(false), forced]);
    clearTimeout(timer);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.clients].map((client) => this.close(client, 'vanish')));
  }
}

/** The client id, user name and password of a client: its own login, or the broker settings'. */
function credentials(
  settings: BrokerSettings,
  login: ClientLogin,
): Pick<IClientOptions, 'clientId' | 'username' | 'password'> {
  if (login.username !== undefined)
    return { clientId: login.clientId, username: login.username, password: login.password };
  const options: Pick<IClientOptions, 'clientId' | 'username' | 'password'> = { clientId: login.clientId };
  if (settings.username !== undefined) options.username = settings.username;
  if (settings.password !== undefined) options.password = settings.password;
  return options;
}

/** One client per device, with the client id `${productKey}.${deviceName}`, or its signed login. */
export function directLinks(connections: Connections, loginOf: LoginOf = () => undefined): LinkOpener {
  return async (device, onMessage, signal) => {
    const login = loginOf(device) ?? { clientId: `${device.productKey}.${device.deviceName}` };
    const client = await connections.connect(login, signal);
    client.on('message', (topic, payload) => onMessage(topic, payload));
    return {
      subscribe: async (topics) => {
        await client.subscribeAsync(topics, { qos: 1 });
      },
      publish: async (m) => {
        await client.publishAsync(m.topic, m.payload, { qos: m.qos });
      },
      end: (how) => connections.close(client, how),
    };
  };
}

/**
 * Many devices over one client. Messages are routed by exact topic to the device that subscribed;
 * ending a device's session unsubscribes its topics and leaves the connection to the others.
 */
export class SharedConnection {
  private client?: Promise<MqttClient>;
  private readonly routes = new Map<string, MessageHandler>();
  private readonly life = new AbortController();
  private corked = false;

  constructor(
    private readonly connections: Connections,
    private readonly clientId: string,
  ) {}

  readonly open: LinkOpener = async (_device, onMessage, signal) => {
    const client = await unlessAborted(this.connected(), signal);
    const mine = new Set<string>();
    let ended = false;
    return {
      subscribe: async (topics) => {
        if (ended) throw new Interrupted();
        for (const topic of topics) {
          mine.add(topic);
          this.routes.set(topic, onMessage);
        }
        await client.subscribeAsync(topics, { qos: 1 });
      },
      publish: async (m) => {
        if (ended) throw new Interrupted();
        await client.publishAsync(m.topic, m.payload, { qos: m.qos });
      },
      end: async () => {
        if (ended) return;
        ended = true;
        const topics = [...mine];
        for (const topic of topics) this.routes.delete(topic);
        if (topics.length > 0 && client.connected) await client.unsubscribeAsync(topics).catch(() => undefined);
      },
    };
  };

  private connected(): Promise<MqttClient> {
    this.client ??= this.connections.connect({ clientId: this.clientId }, this.life.signal).then((client) => {
      client.on('message', (topic, payload) => this.routes.get(topic)?.(topic, payload));
      // mqtt.js emits this just before it writes a packet (PUBLISH, PUBACK, SUBSCRIBE, UNSUBSCRIBE…).
      client.on('packetsend', () => this.coalesce(client));
      return client;
    });
    return this.client;
  }

  /**
   * The packets of one turn of the event loop leave in one write: the socket is corked before the
   * first packet and uncorked at the next turn. The devices on a connection publish, acknowledge,
   * subscribe and unsubscribe in bursts, and without this each packet is a system call of its own
   * (mqtt.js uncorks after every packet; the simulator's largest cost at a thousand devices a
   * second). Nothing waits longer than the rest of the turn.
   */
  private coalesce(client: MqttClient): void {
    const stream = client.stream;
    if (this.corked || !stream?.writable) return;
    this.corked = true;
    stream.cork();
    setImmediate(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  /** Gives up a connection still being made; Connections.closeAll ends an open one. */
  abort(): void {
    this.life.abort();
  }
}

/**
 * Connects once and disconnects, so a wrong URL or password is one clear error instead of endless
 * retries. `login` is a signed login of the first device, with a client id of its own.
 */
export async function probeBroker(settings: BrokerSettings, timeoutMs = 10_000, login?: ClientLogin): Promise<void> {
  const options: IClientOptions = {
    ...credentials(settings, login ?? { clientId: `ota-sim-probe-${process.pid}-${Date.now()}` }),
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    rejectUnauthorized: !settings.insecure,
  };
  const client = mqtt.connect(settings.broker, options);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error(`no connection within ${timeoutMs / 1000} s`)));
    });
  } catch (err) {
    throw new Error(`ota-sim cannot connect to ${withoutCredentials(settings.broker)}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    await client.endAsync(true);
  }
}

/** The broker URL without a password in it, for messages. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
