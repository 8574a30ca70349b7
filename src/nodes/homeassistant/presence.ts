/**
 * Which ota-homeassistant nodes exist: the base topic each running node holds (two nodes on one
 * base would share the availability and command topics: one stopping would mark the other's
 * entities unavailable, each would refuse the other's installs), and whether a node is in the
 * deployed flows (a deleted node's entities are cleared, a disabled node's are not).
 */

const basesInUse = new Map<string, string>();

/** Holds `base` for `nodeId` (and returns it); refused with the holder when another node holds it. */
export function claimBase(base: string, nodeId: string): string {
  const holder = basesInUse.get(base);
  if (holder !== undefined && holder !== nodeId)
    throw new Error(
      `the base topic "${base}" is already used by ota-homeassistant node ${holder}: give each node its own base topic`,
    );
  basesInUse.set(base, nodeId);
  return base;
}

export function releaseBase(base: string, nodeId: string): void {
  if (basesInUse.get(base) === nodeId) basesInUse.delete(base);
}

/** Node-RED's `RED.nodes.eachNode`: every node of the deployed flows (during a deploy, the new ones). */
export type EachNode = (visit: (node: { id: string }) => void) => void;

/**
 * Whether node `id` is in the deployed flows: a deleted node is not, a disabled one is. When
 * that cannot be told, it is taken as there, so nothing is cleared on a guess.
 */
export function inFlows(eachNode: EachNode, id: string): boolean {
  let found = false;
  try {
    eachNode((n) => {
      if (n.id === id) found = true;
    });
  } catch {
    return true;
  }
  return found;
}
