/**
 * One Home Assistant update entity per selected device and module: its object id (what the
 * discovery topic and unique_id are made of) and its topics under the node's base topic.
 */
import { createHash } from 'node:crypto';
import type { DeviceRef } from '../../protocol';

export interface EntityRef extends DeviceRef {
  module: string;
}

export interface EntityTopics {
  config: string;
  state: string;
  attributes: string;
  command: string;
}

/** HA accepts only these characters in a discovery topic's object id. */
const UNSAFE = /[^A-Za-z0-9_-]/g;

/**
 * `ota_<productKey>_<deviceName>_<module>_<hash>`: readable, with characters HA does not take
 * replaced by `_`, and a short hash of the node's base topic and the exact names, so names that
 * read alike once joined (`a_b` + `c`, `a` + `b_c`, `a.b`, `a_b`) stay distinct entities, and two
 * nodes (each with its own base topic) showing the same device never share a unique_id or a
 * discovery topic. Stable: the same base, device and module always get the same id.
 */
export function objectIdOf(e: EntityRef, base: string): string {
  const readable = `ota_${e.productKey}_${e.deviceName}_${e.module}`.replace(UNSAFE, '_');
  const hash = createHash('sha256')
    .update(`${base}\u0000${entityKey(e)}`)
    .digest('hex');
  return `${readable}_${hash.slice(0, 8)}`;
}

/** The key an entity is kept under in memory: exact names, not the object id. */
export function entityKey(e: EntityRef): string {
  return `${e.productKey}\u0000${e.deviceName}\u0000${e.module}`;
}

export function entityTopics(prefix: string, base: string, objectId: string): EntityTopics {
  return {
    config: `${prefix}/update/${objectId}/config`,
    state: `${base}/${objectId}/state`,
    attributes: `${base}/${objectId}/attributes`,
    command: `${base}/${objectId}/install`,
  };
}

/** The node's availability: online while it runs, offline when it stops. */
export function availabilityTopic(base: string): string {
  return `${base}/availability`;
}

/** HA's birth and last-will topic. */
export function birthTopic(prefix: string): string {
  return `${prefix}/status`;
}
