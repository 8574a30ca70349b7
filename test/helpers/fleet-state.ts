/**
 * Everything a fleet has stored, read through its own API, and the events that announce a change:
 * "zero state changes" is a snapshot that compares equal and an event counter that stays at 0.
 */
import type { Fleet } from '../../src/fleet';

export interface FleetSnapshot {
  devices: unknown[];
  tags: Record<string, string[]>;
  versions: unknown[];
  firmware: unknown[];
  batches: unknown[];
  tasks: Record<number, unknown[]>;
  transitions: number;
}

/** The whole stored state of a fleet (devices with lastSeen, firmware, batches with counts, tasks, transitions). */
export function snapshot(fleet: Fleet): FleetSnapshot {
  const devices = fleet.devices({ limit: 1_000_000 });
  const batches = fleet.listBatches();
  const tags: Record<string, string[]> = {};
  for (const d of devices) tags[`${d.productKey}/${d.deviceName}`] = fleet.device(d).tags;
  const tasks: Record<number, unknown[]> = {};
  for (const b of batches) tasks[b.id] = fleet.tasks(b.id, { limit: 1_000_000 });
  return {
    devices,
    tags,
    versions: fleet.versions(),
    firmware: fleet.listFirmware(),
    batches,
    tasks,
    transitions: fleet.transitions({ limit: 1_000_000 }).length,
  };
}

const CHANGES = ['device', 'task', 'batch', 'firmware', 'send'] as const;

/** Counts every event by which a fleet announces a change (or a message to send), until stopped. */
export function countChanges(fleet: Fleet): {
  readonly count: number;
  readonly kinds: Record<string, number>;
  stop(): void;
} {
  const kinds: Record<string, number> = {};
  const listeners = CHANGES.map((kind) => {
    const listener = () => {
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    };
    fleet.on(kind, listener);
    return [kind, listener] as const;
  });
  return {
    get count() {
      return Object.values(kinds).reduce((a, b) => a + b, 0);
    },
    kinds,
    stop() {
      for (const [kind, listener] of listeners) fleet.off(kind, listener);
    },
  };
}

/**
 * Records uncaught exceptions and unhandled rejections while it is armed (they would otherwise
 * crash Node-RED: red.js exits on an uncaught exception).
 */
export function watchUncaught(): { readonly errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onError = (err: unknown) => errors.push(err);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    errors,
    stop() {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}
