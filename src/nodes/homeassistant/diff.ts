/**
 * What changes between the entities published before and those selected now: which to add,
 * which to clear (an empty retained config removes an entity from HA).
 */
export interface SelectionDiff {
  added: string[];
  removed: string[];
}

/** By object id: `previous` is what may still be retained at the broker, `current` what is selected now. */
export function diffSelection(previous: Iterable<string>, current: Iterable<string>): SelectionDiff {
  const before = new Set(previous);
  const now = new Set(current);
  return {
    added: [...now].filter((id) => !before.has(id)),
    removed: [...before].filter((id) => !now.has(id)),
  };
}
