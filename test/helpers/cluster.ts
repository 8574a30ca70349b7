/**
 * Several Node-RED instances sharing one fleet on PostgreSQL, as a user runs them: the same
 * platform flow in each (its `mqtt in` nodes subscribed as `$share/ota/…`, so Mosquitto hands each
 * device message to one instance), the fleet's store as a credential, one package directory, and
 * a client id of their own. Each instance also republishes what its `mqtt in` nodes took to
 * `test/taken/<instance>`, so a test can count the reports each one handled, and its events (ota-push
 * output 2) go to `test/events/<instance>`, and its nodes' statuses to `test/status/<instance>`.
 */
import { freshId } from './flow';
import type { Postgres } from './postgres';
import { platformFlow } from './platform-flow';

export interface ClusterFlows {
  fleetId: string;
  pushId: string;
  /** The flow of one instance. */
  flowsFor(instance: string): object[];
  /** The credentials every instance gets: the fleet's store. */
  credentials: Record<string, Record<string, string>>;
  /** The credentials of an instance that reaches the store at another address (through a proxy). */
  credentialsFor(storeUrl: string): Record<string, Record<string, string>>;
}

interface FlowNodeLike {
  id: string;
  type: string;
  topic?: string;
  clientid?: string;
  cleansession?: boolean;
  wires?: string[][];
  broker?: string;
  z?: string;
}

export function clusterFlows(
  broker: { host: string; port: number },
  storeUrl: string,
  fleetSettings: Record<string, unknown> = {},
): ClusterFlows {
  const { flows, fleetId, pushId } = platformFlow(broker, fleetSettings);
  const tapId = freshId();
  return {
    fleetId,
    pushId,
    credentials: { [fleetId]: { storeUrl } },
    credentialsFor: (url: string) => ({ [fleetId]: { storeUrl: url } }),
    flowsFor(instance: string): object[] {
      const copy = structuredClone(flows) as FlowNodeLike[];
      const brokerNode = copy.find((n) => n.type === 'mqtt-broker') as FlowNodeLike;
      brokerNode.clientid = `ota-platform-${fleetId}-${instance}`;
      // A member that dies takes its subscription with it: a persistent session would keep its share of the messages queued for it.
      brokerNode.cleansession = true;
      const tab = copy.find((n) => n.type === 'tab') as FlowNodeLike;
      // Each instance's ota-push output 2 (the task and batch events) on a topic of its own.
      const events = copy.find((n) => n.type === 'mqtt out' && n.topic === 'test/events') as FlowNodeLike;
      events.topic = `test/events/${instance}`;
      for (const n of copy.filter((x) => x.type === 'mqtt in')) {
        n.topic = `$share/ota/${n.topic as string}`;
        n.wires = [[...(n.wires?.[0] ?? []), tapId]];
      }
      // Every node's status, as the editor shows it, on test/status/<instance>.
      const statusId = freshId();
      const asPayload = freshId();
      const statusOut = freshId();
      copy.push(
        { id: statusId, type: 'status', z: tab.id, scope: null, wires: [[asPayload]] } as FlowNodeLike,
        {
          id: asPayload,
          type: 'change',
          z: tab.id,
          rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'status', tot: 'msg' }],
          wires: [[statusOut]],
        } as FlowNodeLike,
        {
          id: statusOut,
          type: 'mqtt out',
          z: tab.id,
          topic: `test/status/${instance}`,
          broker: brokerNode.id,
          wires: [],
        } as FlowNodeLike,
      );
      copy.push({
        id: tapId,
        type: 'mqtt out',
        z: tab.id,
        topic: `test/taken/${instance}`,
        broker: brokerNode.id,
        wires: [],
      } as FlowNodeLike & Record<string, unknown>);
      return copy;
    },
  };
}

/** The pid in the scheduler lease's holder name (`host:pid:random`), or undefined while nobody holds it. */
export function leaderPid(server: Postgres, database: string): number | undefined {
  const holder = server.psql(database, "SELECT holder FROM ota_leases WHERE name = 'fleet' AND expires_at > now()");
  const pid = Number(holder.split(':')[1]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Uploads a small package as firmware `version` of pk1 through an instance's admin API. */
export async function uploadPackage(api: string, version: string, size = 2048): Promise<{ id: string }> {
  const res = await fetch(`${api}/firmware?productKey=pk1&module=default&version=${version}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(size, version),
  });
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string };
}
