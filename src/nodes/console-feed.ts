/**
 * What the OTA console in the editor hears from the runtime: the events of every deployed fleet,
 * coalesced per fleet into at most one comms message per interval, and sent only to the editor
 * sessions whose user may read OTA data. A storm of progress reports costs a Set.add each here
 * and one small message per fleet per interval on the socket.
 *
 * Topics: `ota/<fleet id>` carries a FleetUpdate; `ota/fleets` the fleet list after a deploy
 * changed it. The editor refetches from the admin API what a message says changed.
 */
import type { EventEmitter } from 'node:events';
import { FleetError } from '../fleet';
import type { BatchChange, BatchCreation, BatchState, BatchView, Fleet, TaskCounts, Transition } from '../fleet';
import { allFleets, FleetHandle } from './registry';

export interface FleetUpdate {
  fleetId: string;
  /** The batches whose state or task counts changed, as they are now. */
  batches: { id: number; state: BatchState; counts: TaskCounts; creation?: BatchCreation }[];
  /** A device reported (inventory, version distribution). */
  devicesChanged: boolean;
  /** A firmware was added, deleted, or its verification changed. */
  firmwareChanged: boolean;
  /** Batches with a task that changed (state, step, attempts). */
  tasksChanged: number[];
}

export interface FleetsUpdate {
  fleets: { id: string; name: string }[];
}

/** The part of Node-RED's runtime event bus (RED.events) the feed listens to. */
export type RuntimeEvents = Pick<EventEmitter, 'on' | 'removeListener'>;

/** An editor connection as Node-RED announces it on `comms:connection-added`. */
interface Connection {
  session?: string;
  user?: { permissions?: string | string[] } | null;
}

export interface FeedOptions {
  events: RuntimeEvents;
  /** Sends one comms message: to one editor session, or to every session when none is given. */
  publish(topic: string, data: FleetUpdate | FleetsUpdate, session?: string): void;
  /**
   * Without adminAuth every editor user reads everything: messages are broadcast. With it, they
   * go only to the sessions whose user has `ota.read`.
   */
  adminAuth: boolean;
  fleets?: () => FleetHandle[];
  intervalMs?: number;
}

type Unsubscribe = () => void;

const READ_ANY = /^((.+)\.)?read$/;

/** Node-RED's permission rule ("*", "read", "ota.read", lists of them) for one permission. */
export function hasPermission(scope: unknown, permission: string): boolean {
  if (Array.isArray(scope)) return scope.some((s) => hasPermission(s, permission));
  if (scope === '*' || scope === permission) return true;
  if (scope === 'read' || scope === '*.read') return READ_ANY.test(permission);
  if (scope === 'write' || scope === '*.write') return /^((.+)\.)?write$/.test(permission);
  return false;
}

/**
 * Calls `listener` with the deployed fleets after each deploy (and stop) that changed them: a
 * fleet added, removed, or restarted as a new Fleet by a redeploy. Returns the unsubscribe.
 */
export function onFleetsChanged(
  events: RuntimeEvents,
  listener: (fleets: FleetHandle[]) => void,
  fleets: () => FleetHandle[] = allFleets,
): Unsubscribe {
  let known: FleetHandle[] = [];
  const check = () => {
    const now = fleets();
    const same = now.length === known.length && now.every((h, i) => h === known[i] && h.fleet === known[i].fleet);
    known = now;
    if (!same) listener(now);
  };
  events.on('flows:started', check);
  events.on('flows:stopped', check);
  check();
  return () => {
    events.removeListener('flows:started', check);
    events.removeListener('flows:stopped', check);
  };
}

interface Pending {
  batches: Set<number>;
  tasks: Set<number>;
  devices: boolean;
  firmware: boolean;
}

/** The batches as they are now; one deleted meanwhile is left out. */
function batchesNow(f: Fleet, ids: number[]): FleetUpdate['batches'] {
  return ids.flatMap((id) => {
    let b: BatchView;
    try {
      b = f.batch(id);
    } catch (err) {
      if (err instanceof FleetError) return [];
      throw err; // a unit of work stopping to run again (replay-store.ts)
    }
    // A batch being created also says how far it got.
    return [
      b.creation
        ? { id, state: b.state, counts: b.counts, creation: b.creation }
        : { id, state: b.state, counts: b.counts },
    ];
  });
}

export class ConsoleFeed {
  private readonly intervalMs: number;
  private readonly fleets: () => FleetHandle[];
  /** Listeners on each watched fleet, to take off exactly what was put on. */
  private readonly watched = new Map<FleetHandle, Unsubscribe>();
  private readonly pending = new Map<string, Pending>();
  /** Editor sessions allowed to read OTA data (only used with adminAuth). */
  private readonly readers = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private stopWatching: Unsubscribe | undefined;

  constructor(private readonly options: FeedOptions) {
    this.intervalMs = options.intervalMs ?? 500;
    this.fleets = options.fleets ?? allFleets;
  }

  private readonly connectionAdded = (c: Connection) => {
    if (!c?.session) return;
    if (c.user && hasPermission(c.user.permissions, 'ota.read')) this.readers.add(c.session);
    else this.readers.delete(c.session);
  };

  private readonly connectionRemoved = (c: Connection) => {
    if (c?.session) this.readers.delete(c.session);
  };

  start(): void {
    if (this.stopWatching) return;
    const { events } = this.options;
    events.on('comms:connection-added', this.connectionAdded);
    events.on('comms:connection-removed', this.connectionRemoved);
    this.stopWatching = onFleetsChanged(events, (handles) => this.watch(handles), this.fleets);
  }

  /** Takes off every listener and timer the feed added. */
  stop(): void {
    const { events } = this.options;
    this.stopWatching?.();
    this.stopWatching = undefined;
    events.removeListener('comms:connection-added', this.connectionAdded);
    events.removeListener('comms:connection-removed', this.connectionRemoved);
    for (const unwatch of this.watched.values()) unwatch();
    this.watched.clear();
    this.pending.clear();
    this.readers.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** How many fleets the feed listens to (tests: nothing leaks across redeploys). */
  get watchedCount(): number {
    return this.watched.size;
  }

  private watch(handles: FleetHandle[]): void {
    for (const [handle, unwatch] of this.watched) {
      if (!handles.includes(handle)) {
        unwatch();
        this.watched.delete(handle);
        this.pending.delete(handle.id);
      }
    }
    for (const handle of handles) if (!this.watched.has(handle)) this.watched.set(handle, this.listen(handle));
    this.send('ota/fleets', { fleets: handles.map((h) => ({ id: h.id, name: h.name })) });
  }

  private listen(handle: FleetHandle): Unsubscribe {
    const { fleet } = handle;
    const onTask = (t: Transition) => {
      const p = this.pendingOf(handle.id);
      p.tasks.add(t.batchId);
      if (t.from !== t.to) p.batches.add(t.batchId);
    };
    const onBatch = (b: BatchChange) => {
      const p = this.pendingOf(handle.id);
      p.batches.add(b.batchId);
      p.tasks.add(b.batchId);
    };
    const onDevice = () => {
      this.pendingOf(handle.id).devices = true;
    };
    const onFirmware = () => {
      this.pendingOf(handle.id).firmware = true;
    };
    fleet.on('task', onTask);
    fleet.on('batch', onBatch);
    fleet.on('device', onDevice);
    fleet.on('firmware', onFirmware);
    return () => {
      fleet.off('task', onTask);
      fleet.off('batch', onBatch);
      fleet.off('device', onDevice);
      fleet.off('firmware', onFirmware);
    };
  }

  private pendingOf(fleetId: string): Pending {
    let p = this.pending.get(fleetId);
    if (!p) this.pending.set(fleetId, (p = { batches: new Set(), tasks: new Set(), devices: false, firmware: false }));
    this.schedule();
    return p;
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastSent + this.intervalMs - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
    this.timer.unref?.();
  }

  /** Sends what piled up since the last message, one message per fleet (once its batches are read). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastSent = Date.now();
    const byId = new Map(this.fleets().map((h) => [h.id, h]));
    for (const [fleetId, p] of this.pending) {
      const handle = byId.get(fleetId);
      if (!handle) continue;
      const ids = [...p.batches];
      const update = (batches: FleetUpdate['batches']): FleetUpdate => ({
        fleetId,
        batches,
        devicesChanged: p.devices,
        firmwareChanged: p.firmware,
        tasksChanged: [...p.tasks],
      });
      // Nothing to read: sent at once. A fleet that stopped meanwhile sends nothing more.
      if (ids.length === 0) this.send(`ota/${fleetId}`, update([]));
      else
        void handle
          .ask((f) => batchesNow(f, ids))
          .then(
            (batches) => {
              if (this.watched.has(handle)) this.send(`ota/${fleetId}`, update(batches));
            },
            () => undefined,
          );
    }
    this.pending.clear();
  }

  private send(topic: string, data: FleetUpdate | FleetsUpdate): void {
    if (!this.options.adminAuth) return this.options.publish(topic, data);
    for (const session of this.readers) this.options.publish(topic, data, session);
  }
}
