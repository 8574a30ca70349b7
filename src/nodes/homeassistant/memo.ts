/**
 * What the ota-homeassistant nodes remember with their fleet (in its SQLite store, which outlives
 * a restart, unlike Node-RED's default context): per node, the object ids it published and the
 * prefix and base topic they were published under; and an index of those notes, so that the
 * entities of a node deleted from the flows can be cleared by any other node of the fleet later.
 */
import type { Fleet } from '../../fleet';

export type MemoFleet = Pick<Fleet, 'memo' | 'setMemo'>;

export interface Published {
  prefix: string;
  base: string;
  ids: string[];
}

/** The note listing every node's note. */
export const INDEX_KEY = 'homeassistant:index';

/** The key of a node's note. */
export function memoKeyOf(nodeId: string): string {
  return `homeassistant:${nodeId}`;
}

/** The node id a note belongs to (undefined for a key that is not a node's note). */
export function nodeIdOf(memoKey: string): string | undefined {
  return memoKey.startsWith('homeassistant:') && memoKey !== INDEX_KEY
    ? memoKey.slice('homeassistant:'.length)
    : undefined;
}

export function readPublished(fleet: MemoFleet, key: string): Published | undefined {
  const p = parse(fleet.memo(key)) as Partial<Published> | undefined;
  return p && typeof p.prefix === 'string' && typeof p.base === 'string' && isStrings(p.ids)
    ? { prefix: p.prefix, base: p.base, ids: p.ids }
    : undefined;
}

export function writePublished(fleet: MemoFleet, key: string, published: Published): void {
  fleet.setMemo(key, JSON.stringify(published));
}

/** Forgets a node's note (the store keeps the key, empty). */
export function forgetPublished(fleet: MemoFleet, key: string): void {
  fleet.setMemo(key, '');
}

export function readIndex(fleet: MemoFleet): string[] {
  const keys = parse(fleet.memo(INDEX_KEY));
  return isStrings(keys) ? keys : [];
}

export function writeIndex(fleet: MemoFleet, keys: string[]): void {
  fleet.setMemo(INDEX_KEY, JSON.stringify([...new Set(keys)]));
}

function parse(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
