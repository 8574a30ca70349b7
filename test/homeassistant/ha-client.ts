/**
 * An mqtt.js client that plays Home Assistant: it subscribes to the discovery topics, and for
 * each entity found to its state, attributes and availability topics, as HA does; keeps what it
 * saw, with arrival times; and presses Install or announces HA's birth. Like HA, it takes a config
 * or a state only when HA's schema does (ha-schema.ts): what HA would refuse or drop is kept in
 * `problems` instead, and is not an entity or a state here either.
 */
import mqtt, { MqttClient } from 'mqtt';
import { delay } from '../helpers/red';
import { discoveryProblems, stateProblems } from './ha-schema';

export interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

type Json = Record<string, unknown>;

export class FakeHomeAssistant {
  /** Every message, in order of arrival. */
  readonly log: Seen[] = [];
  /** The current discovery config of each entity, by object id (removed when cleared). */
  readonly configs = new Map<string, Json>();
  /** Every config ever received, by object id, to validate them all. */
  readonly allConfigs: Json[] = [];
  /** Object ids whose config was cleared (an empty retained message). */
  readonly cleared: string[] = [];
  /** What HA would refuse (a config) or drop (a state), with the topic: empty while all is well. */
  readonly problems: string[] = [];
  private readonly subscribed = new Set<string>();

  private constructor(
    private readonly client: MqttClient,
    readonly prefix: string,
  ) {}

  static async connect(url: string, prefix = 'homeassistant'): Promise<FakeHomeAssistant> {
    const client = await mqtt.connectAsync(url, {
      clientId: `fake-ha-${process.pid}-${Date.now()}`,
      reconnectPeriod: 200,
    });
    const ha = new FakeHomeAssistant(client, prefix);
    client.on('message', (topic, payload, packet) => ha.receive(topic, payload.toString(), packet.retain));
    await client.subscribeAsync(`${prefix}/update/+/config`, { qos: 1 });
    return ha;
  }

  private receive(topic: string, payload: string, retain: boolean): void {
    this.log.push({ topic, payload, retain, at: Date.now() });
    const config = new RegExp(`^${this.prefix}/update/([^/]+)/config$`).exec(topic);
    if (!config) return;
    const objectId = config[1];
    if (payload === '') {
      this.configs.delete(objectId);
      this.cleared.push(objectId);
      return;
    }
    const parsed = JSON.parse(payload) as Json;
    const wrong = discoveryProblems(parsed);
    if (wrong.length) return void this.problems.push(...wrong.map((p) => `${topic}: ${p}`));
    this.configs.set(objectId, parsed);
    this.allConfigs.push(parsed);
    const topics = [
      parsed.state_topic,
      parsed.json_attributes_topic,
      ...((parsed.availability as { topic: string }[] | undefined) ?? []).map((a) => a.topic),
    ];
    for (const t of topics) {
      if (typeof t !== 'string' || this.subscribed.has(t)) continue;
      this.subscribed.add(t);
      void this.client.subscribeAsync(t, { qos: 1 });
    }
  }

  /** Subscribes to a topic no config named (yet). */
  async watch(topic: string): Promise<void> {
    this.subscribed.add(topic);
    await this.client.subscribeAsync(topic, { qos: 1 });
  }

  /** The JSON messages seen on `topic`, in order (empty payloads left out). */
  jsonOn(topic: string): Json[] {
    return this.log.filter((m) => m.topic === topic && m.payload !== '').map((m) => JSON.parse(m.payload) as Json);
  }

  /** The states of an entity so far, in order: those HA takes (what it drops is in `problems`). */
  states(objectId: string): Json[] {
    const config = this.configs.get(objectId);
    if (!config) return [];
    const topic = String(config.state_topic);
    return this.jsonOn(topic).filter((state) => {
      const wrong = stateProblems(state);
      for (const p of wrong) if (!this.problems.includes(`${topic}: ${p}`)) this.problems.push(`${topic}: ${p}`);
      return wrong.length === 0;
    });
  }

  lastState(objectId: string): Json | undefined {
    return this.states(objectId).at(-1);
  }

  attributes(objectId: string): Json[] {
    const config = this.configs.get(objectId);
    return config ? this.jsonOn(String(config.json_attributes_topic)) : [];
  }

  /** Presses Install: payload_install on the entity's command topic. */
  async install(objectId: string, payload?: string): Promise<void> {
    const config = this.configs.get(objectId);
    if (!config) throw new Error(`no entity ${objectId} discovered`);
    await this.client.publishAsync(String(config.command_topic), payload ?? String(config.payload_install), { qos: 1 });
  }

  publish(topic: string, payload: string): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { qos: 1 });
  }

  /** HA's birth message, as HA sends it when it (re)starts. */
  birth(): Promise<unknown> {
    return this.publish(`${this.prefix}/status`, 'online');
  }

  /** Waits until `check` holds, polling. */
  async until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
      await delay(25);
    }
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}
