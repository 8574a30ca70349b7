/**
 * What one process sharing a fleet on PostgreSQL changed, told to the others (replayed-fleet.ts
 * `FleetChannel`): NOTIFY after each committed unit, LISTEN on one connection of its own.
 *
 * Only a live view: the store holds the truth, and every unit reads what it needs from it. A
 * notification is at most 8,000 bytes, so a large change goes as several; one sent while the
 * connection is down is lost (the other processes' events miss it; their counts are read again at
 * their next unit, and at once when the connection comes back).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { systemClock, type Clock, type TimerHandle } from './clock';
import type { FleetChannel, SharedChange } from './replayed-fleet';
import { secretsOf } from './pg-lease';

/** PostgreSQL's limit is 8,000 bytes per payload; some room is left for the encoding. */
export const NOTIFY_BYTES = 7_500;

/** How long after a lost connection the channel connects again. */
const RECONNECT_MS = 1_000;

/** The channel of a fleet: a name PostgreSQL accepts whatever the fleet's name (an identifier of 63 bytes at most). */
export function channelName(fleet: string): string {
  return `ota_fleet_${createHash('sha256').update(fleet).digest('hex').slice(0, 32)}`;
}

/** The change as payloads of at most `limit` bytes each, every item in exactly one of them. */
export function splitChange(change: SharedChange, limit = NOTIFY_BYTES): string[] {
  const whole = JSON.stringify(change);
  if (Buffer.byteLength(whole) <= limit) return [whole];
  const payloads: string[] = [];
  const empty = (): SharedChange => ({
    origin: change.origin,
    created: [],
    transitions: [],
    batches: [],
    devices: [],
    firmware: [],
  });
  let part = empty();
  let size = Buffer.byteLength(JSON.stringify(part));
  const keys = ['created', 'transitions', 'batches', 'devices', 'firmware'] as const;
  for (const key of keys) {
    for (const item of change[key]) {
      const bytes = Buffer.byteLength(JSON.stringify(item)) + 1;
      if (size + bytes > limit && size > Buffer.byteLength(JSON.stringify(empty()))) {
        payloads.push(JSON.stringify(part));
        part = empty();
        size = Buffer.byteLength(JSON.stringify(part));
      }
      (part[key] as unknown[]).push(item);
      size += bytes;
    }
  }
  payloads.push(JSON.stringify(part));
  return payloads;
}

export interface PgChannelOptions {
  /** The fleet's name: processes of the same fleet share its channel. */
  fleet: string;
  clock?: Clock;
  /** Told when the connection fails or comes back (a node shows it as a warning). */
  onTrouble?: (text: string) => void;
}

export class PgChannel implements FleetChannel {
  readonly name: string;
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private sending: Promise<void> = Promise.resolve();
  private closed = false;
  /** Listened before: a connection made again may have missed changes, which listeners are told. */
  private listened = false;
  private readonly listeners = new Set<(change: SharedChange) => void>();
  private readonly clock: Clock;
  private readonly secrets: string[];

  constructor(
    private readonly connectionString: string,
    private readonly options: PgChannelOptions,
  ) {
    this.name = channelName(options.fleet);
    this.clock = options.clock ?? systemClock;
    this.secrets = secretsOf(connectionString);
    this.connect();
  }

  /** Resolves once the channel listens (or its first connection failed: it keeps trying). */
  ready(): Promise<void> {
    return this.connecting ?? Promise.resolve();
  }

  publish(change: SharedChange): void {
    const client = this.client;
    if (!client) return;
    // One statement at a time on the connection, in order.
    for (const payload of splitChange(change)) {
      this.sending = this.sending
        .then(() => client.query('SELECT pg_notify($1, $2)', [this.name, payload]))
        .then(
          () => undefined,
          (err: Error) => this.lost(err, client),
        );
    }
  }

  subscribe(listener: (change: SharedChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.clock.clearTimer(this.timer);
    await this.connecting?.catch(() => undefined);
    await this.sending;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(): void {
    if (this.closed || this.connecting) return;
    const client = new pg.Client({ connectionString: this.connectionString, connectionTimeoutMillis: 5_000 });
    client.on('error', (err) => this.lost(err, client));
    client.on('end', () => this.lost(new Error('the connection ended'), client));
    client.on('notification', (n) => {
      if (n.channel !== this.name || !n.payload) return;
      let change: SharedChange;
      try {
        change = JSON.parse(n.payload) as SharedChange;
      } catch {
        return; // not ours
      }
      this.tell(change);
    });
    this.connecting = client
      .connect()
      .then(() => client.query(`LISTEN ${this.name}`))
      .then(() => {
        if (this.closed) return void client.end().catch(() => undefined);
        this.client = client;
        // Back after a loss: changes told meanwhile were missed; an empty change makes listeners read again.
        if (this.listened)
          this.tell({ origin: '', created: [], transitions: [], batches: [], devices: [], firmware: [] });
        this.listened = true;
      })
      .catch((err: Error) => this.lost(err, client))
      .finally(() => {
        this.connecting = undefined;
      });
  }

  private tell(change: SharedChange): void {
    for (const listener of this.listeners) listener(change);
  }

  private lost(err: Error, client = this.client): void {
    if (client && client === this.client) this.client = undefined;
    client?.end().catch(() => undefined);
    if (this.closed || this.timer) return;
    this.options.onTrouble?.(`the fleet's change channel lost PostgreSQL (${this.scrub(err.message)}); reconnecting`);
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.connect();
    }, RECONNECT_MS);
  }

  private scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) if (s) out = out.split(s).join('***');
    return out;
  }
}
