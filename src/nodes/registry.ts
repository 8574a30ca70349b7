/**
 * The fleets deployed in this Node-RED, by config node id: what the admin API, the firmware
 * route and the nodes bound to a fleet look up. One entry per running ota-fleet node.
 */
import type { Node } from 'node-red';
import type { Fleet, FirmwareHost, PackageFiles } from '../fleet';

export interface FleetHandle {
  id: string;
  name: string;
  /** The fleet: its events, egress, and what it keeps in memory (totals). Ask through `ask` for the rest. */
  fleet: Fleet;
  /**
   * Runs `fn` on the fleet as one unit of work and resolves with its result: at once on the SQLite
   * store; inside one transaction of a server store (replayed-fleet.ts), perhaps run more than once
   * (so `fn` only calls the fleet). Every call that reads or writes the store goes through here.
   */
  ask<T>(fn: (fleet: Fleet) => T): Promise<T>;
  files: PackageFiles;
  host: FirmwareHost;
  secret: string;
  maxPackageBytes: number;
  publicKey?: string;
}

/** The config node as the other nodes see it. */
export interface OtaFleetNode extends Node {
  handle?: FleetHandle;
  /** Why the fleet could not start, for the nodes that use it. */
  failure?: Error;
}

const fleets = new Map<string, FleetHandle>();

export function registerFleet(handle: FleetHandle): void {
  fleets.set(handle.id, handle);
}

export function unregisterFleet(id: string): void {
  fleets.delete(id);
}

export function fleetById(id: string): FleetHandle | undefined {
  return fleets.get(id);
}

export function allFleets(): FleetHandle[] {
  return [...fleets.values()];
}

/** `ask` for a fleet on the SQLite store: the call runs now; its result or error comes as a promise. */
export function askNow(fleet: Fleet): FleetHandle['ask'] {
  return <T>(fn: (fleet: Fleet) => T): Promise<T> => {
    try {
      return Promise.resolve(fn(fleet));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };
}
