/**
 * The fleets deployed in this Node-RED, by config node id: what the admin API, the firmware
 * route and the nodes bound to a fleet look up. One entry per running ota-fleet node.
 */
import type { Node } from 'node-red';
import type { Fleet, FirmwareHost, PackageFiles } from '../fleet';

export interface FleetHandle {
  id: string;
  name: string;
  fleet: Fleet;
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
