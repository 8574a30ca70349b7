/**
 * What the ota-homeassistant nodes remember with their fleet (in its SQLite store, which outlives
 * a restart, unlike Node-RED's default context): per node, the object ids it published and the
 * prefix and base topic they were published under; and an index of those notes, so that the
 * entities of a node deleted from the flows can be cleared by any other node of the fleet later.
 */
import type { Fleet } from '../../fleet';

/** The fleet inside a unit of work (`handle.ask`): these functions run in one. */
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

export function readPublished(f: MemoFleet, key: string): Published | undefined {
  const p = parse(f.memo(key)) as Partial<Published> | undefined;
  return p && typeof p.prefix === 'string' && typeof p.base === 'string' && isStrings(p.ids)
    ? { prefix: p.prefix, base: p.base, ids: p.ids }
    : undefined;
}

export function writePublished(f: MemoFleet, key: string, published: Published): void {
  f.setMemo(key, JSON.stringify(published));
}

/** Forgets a node's note (the store keeps the key, empty). */
export function forgetPublished(f: MemoFleet, key: string): void {
  f.setMemo(key, '');
}

export function readIndex(f: MemoFleet): string[] {
  const keys = parse(f.memo(INDEX_KEY));
  return isStrings(keys) ? keys : [];
}

export function writeIndex(f: MemoFleet, keys: string[]): void {
  f.setMemo(INDEX_KEY, JSON.stringify([...new Set(keys)]));
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
