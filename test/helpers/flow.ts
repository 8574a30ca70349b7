/** Small builders for test flows: fresh ids, nodes wired by reference, never copied blobs. */
import { randomBytes } from 'node:crypto';

export type FlowNode = Record<string, unknown> & { id: string; type: string; wires?: string[][] };

export function freshId(): string {
  return randomBytes(8).toString('hex');
}

/** A node of `type` with `props`, wired to `wires` (one array of target ids per output). */
export function node(type: string, props: Record<string, unknown> = {}, wires: string[][] = []): FlowNode {
  return { id: freshId(), type, z: undefined as unknown as string, wires, ...props } as FlowNode;
}

/** A helper (spy) node to collect what an output sends. */
export function probe(): FlowNode {
  return { id: freshId(), type: 'helper', wires: [] };
}

/** Puts every node on one tab so Catch nodes and scoping behave as in the editor. */
export function onTab(...nodes: FlowNode[]): FlowNode[] {
  const tab = { id: freshId(), type: 'tab', label: 'test' } as FlowNode;
  return [tab, ...nodes.map((n) => ({ ...n, z: tab.id }))];
}
