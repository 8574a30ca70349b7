/**
 * The platform flow with ota-homeassistant, wired as the help says: core `mqtt in` nodes into
 * ota-inform, ota-progress and ota-homeassistant, ota-push and ota-homeassistant into `mqtt out`.
 */
import path from 'node:path';
import type { Example } from '../helpers/example-run';
import { httpRequest, fleetConfig, FleetSuite, loadFlow } from '../helpers/fleet-red';
import { catchAll, mqttBroker, mqttIn, mqttNodeModule, mqttOut } from '../helpers/core-nodes';
import { FlowNode, node, onTab, probe } from '../helpers/flow';

export const haModule = require('../../../nodes/ota-homeassistant.js');

export interface HaFlow {
  flow: FlowNode[];
  fleet: FlowNode;
  ha: FlowNode;
  /** ota-homeassistant output 2. */
  events: FlowNode;
  caught: FlowNode;
  /** More ota-homeassistant nodes (options.more), each wired as the first. */
  others: FlowNode[];
}

export function haFlow(
  suite: FleetSuite,
  brokerPort: number,
  haProps: Record<string, unknown>,
  options: {
    fleet?: FlowNode;
    fleetProps?: Record<string, unknown>;
    haId?: string;
    /** Subscribe an `mqtt in` to the node's availability (default true). */
    echo?: boolean;
    /** The settings of more ota-homeassistant nodes on the same fleet and broker. */
    more?: Record<string, unknown>[];
  } = {},
): HaFlow {
  const fleet = options.fleet ?? fleetConfig(suite, options.fleetProps);
  const broker = mqttBroker(brokerPort);
  const out = mqttOut(broker);
  const inform = node('ota-inform', { role: 'platform', fleet: fleet.id });
  const progress = node('ota-progress', { role: 'platform', fleet: fleet.id });
  const push = node('ota-push', { fleet: fleet.id }, [[out.id], []]);
  const events = probe();
  const caught = probe();
  const ha = node('ota-homeassistant', { fleet: fleet.id, ...haProps }, [[out.id], [events.id]]);
  // The same id is the same node redeployed (what it published is remembered by node id).
  if (options.haId) ha.id = options.haId;
  const wired = (target: FlowNode, props: Record<string, unknown>) => {
    const base = String(props.baseTopic ?? 'ota-homeassistant');
    const prefix = String(props.prefix ?? 'homeassistant');
    return [
      mqttIn(broker, `${base}/+/install`, [[target.id]], 'utf8'),
      ...(options.echo === false ? [] : [mqttIn(broker, `${base}/availability`, [[target.id]], 'utf8')]),
      mqttIn(broker, `${prefix}/status`, [[target.id]], 'utf8'),
    ];
  };
  const others = (options.more ?? []).map((props) =>
    node('ota-homeassistant', { fleet: fleet.id, ...props }, [[out.id], [events.id]]),
  );
  const flow = onTab(
    fleet,
    broker,
    out,
    inform,
    progress,
    push,
    ha,
    events,
    caught,
    catchAll(caught),
    mqttIn(broker, '/ota/device/inform/+/+', [[inform.id]], 'utf8'),
    mqttIn(broker, '/ota/device/progress/+/+', [[progress.id]], 'utf8'),
    ...wired(ha, haProps),
    ...others.flatMap((other, i) => [other, ...wired(other, options.more?.[i] ?? {})]),
  );
  return { flow, fleet, ha, events, caught, others };
}

export function deployHa(f: HaFlow): Promise<void> {
  return loadFlow(f.flow, {}, [mqttNodeModule, haModule]);
}

/** Uploads a package of `size` bytes as firmware `version` of `productKey` through the admin API. */
export async function uploadFirmware(
  suite: FleetSuite,
  fleetId: string,
  productKey: string,
  version: string,
  size = 64 * 1024,
): Promise<{ id: string; version: string; verification: string }> {
  const answer = await httpRequest(
    `${suite.adminUrl}/ota/fleets/${fleetId}/firmware?productKey=${productKey}&version=${version}`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.alloc(size, `firmware ${version}\n`),
    },
  );
  if (answer.status !== 201) throw new Error(`upload answered ${answer.status}: ${answer.body.toString()}`);
  return JSON.parse(answer.body.toString());
}

// The core nodes ship in @node-red/nodes, found from wherever node-red itself is installed.
const coreDir = path.join(
  path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(require.resolve('node-red'))] })),
  'core',
);

/** The core nodes the examples are built from, besides MQTT and Catch. */
const exampleCoreModules = [
  'common/20-inject.js',
  'common/21-debug.js',
  'common/90-comment.js',
  'function/10-function.js',
].map((file) => require(path.join(coreDir, file)));

/** Deploys an example flow that uses ota-homeassistant, with the core nodes it is built from. */
export function deployExample(example: Example): Promise<void> {
  return loadFlow(example.flows, {}, [mqttNodeModule, haModule, ...exampleCoreModules]);
}
