/**
 * The demo's flow: the platform example (examples/01), on a tab, pointed at the demo's broker
 * and at the URL devices download from; with OTA_HOMEASSISTANT=on, also the Home Assistant
 * nodes of examples/06 for demo-product.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './node-red';

export const DEMO_EXAMPLE = '01 - Platform - versions, verification and batch upgrade.json';
export const DEMO_PRODUCT = 'demo-product';

export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  [key: string]: unknown;
}

export interface DemoFlow {
  flows: FlowNode[];
  fleetId: string;
}

/** The example flow with its broker and fleet set for this run (and Home Assistant's nodes when asked). */
export function demoFlow(
  broker: URL,
  publicUrl: string,
  homeAssistant = false,
  cluster?: { group: string; packageDir: string },
): DemoFlow {
  const example = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'examples', DEMO_EXAMPLE), 'utf8')) as FlowNode[];
  const tab: FlowNode = {
    id: 'ota0demo0tab0001',
    type: 'tab',
    label: 'OTA demo',
    info: 'The platform example, deployed by `npm start`.',
  };
  const flows = [
    tab,
    ...example.map((n) => (n.type === 'mqtt-broker' || n.type === 'ota-fleet' ? { ...n } : { ...n, z: tab.id })),
  ];
  retarget(flows, broker, publicUrl, cluster);
  const fleet = flows.find((n) => n.type === 'ota-fleet');
  if (!fleet) throw new Error(`examples/${DEMO_EXAMPLE} has no ota-fleet node`);
  return { flows: withHomeAssistant(flows, homeAssistant), fleetId: fleet.id };
}

/** Where the demo's Home Assistant nodes are: fixed ids, so a later start finds (or removes) them. */
const HA_IDS = {
  comment: 'ota0demo0ha00001',
  install: 'ota0demo0ha00002',
  availability: 'ota0demo0ha00003',
  birth: 'ota0demo0ha00004',
  node: 'ota0demo0ha00005',
  out: 'ota0demo0ha00006',
  installs: 'ota0demo0ha00007',
} as const;

/** The discovery prefix and base topic the demo publishes under (Home Assistant's defaults). */
export const DEMO_HA = { prefix: 'homeassistant', base: 'ota-homeassistant' } as const;

/**
 * The flow with the demo's Home Assistant nodes (an ota-homeassistant for demo-product, wired to
 * the flow's broker and fleet) when `on`, without them when not: a stored flow follows the switch.
 */
export function withHomeAssistant(flows: FlowNode[], on: boolean): FlowNode[] {
  const ours = new Set<string>(Object.values(HA_IDS));
  const rest = flows.filter((n) => !ours.has(n.id));
  if (!on) return rest;
  const broker = rest.find((n) => n.type === 'mqtt-broker');
  const fleet = rest.find((n) => n.type === 'ota-fleet');
  const tab = rest.find((n) => n.type === 'tab');
  if (!broker || !fleet || !tab) throw new Error('the demo flow needs a tab, an mqtt-broker and an ota-fleet');
  const mqttIn = (id: string, name: string, topic: string, y: number): FlowNode => ({
    id,
    type: 'mqtt in',
    z: tab.id,
    name,
    topic,
    qos: '1',
    datatype: 'utf8',
    broker: broker.id,
    nl: false,
    rap: true,
    rh: 0,
    inputs: 0,
    x: 170,
    y,
    wires: [[HA_IDS.node]],
  });
  const { prefix, base } = DEMO_HA;
  return [
    ...rest,
    {
      id: HA_IDS.comment,
      type: 'comment',
      z: tab.id,
      name: '5. Home Assistant: each demo-product device as an update entity (OTA_HOMEASSISTANT=on)',
      info: "Point Home Assistant's MQTT integration at this broker (discovery on, prefix `homeassistant`): every device of demo-product appears under Settings → Updates, and Install there starts a one-device batch. When the broker checks logins, Home Assistant logs in as `homeassistant` with the password in `homeassistant-login.json` of the demo directory. See docs/home-assistant.md.",
      x: 360,
      y: 900,
      wires: [],
    },
    mqttIn(HA_IDS.install, 'Install presses', `${base}/+/install`, 940),
    mqttIn(HA_IDS.availability, 'own availability', `${base}/availability`, 980),
    mqttIn(HA_IDS.birth, 'Home Assistant birth', `${prefix}/status`, 1020),
    {
      id: HA_IDS.node,
      type: 'ota-homeassistant',
      z: tab.id,
      name: 'Home Assistant',
      fleet: fleet.id,
      prefix,
      baseTopic: base,
      productKey: DEMO_PRODUCT,
      module: '',
      tag: '',
      rate: 100,
      x: 420,
      y: 980,
      wires: [[HA_IDS.out], [HA_IDS.installs]],
    },
    {
      id: HA_IDS.out,
      type: 'mqtt out',
      z: tab.id,
      name: 'to Home Assistant',
      topic: '',
      qos: '',
      retain: '',
      broker: broker.id,
      x: 660,
      y: 960,
      wires: [],
    },
    {
      id: HA_IDS.installs,
      type: 'debug',
      z: tab.id,
      name: 'Home Assistant installs',
      active: true,
      tosidebar: true,
      console: false,
      tostatus: false,
      complete: 'true',
      targetType: 'full',
      x: 680,
      y: 1010,
      wires: [],
    },
  ];
}

/** Points the broker and fleet nodes of a flow at this run's broker and public URL. */
export function retarget(
  flows: FlowNode[],
  broker: URL,
  publicUrl: string,
  cluster?: { group: string; packageDir: string },
): void {
  for (const n of flows) {
    if (n.type === 'mqtt-broker') {
      n.broker = broker.hostname;
      n.port = broker.port || '1883';
      n.usetls = broker.protocol === 'mqtts:';
    }
    if (n.type === 'ota-fleet') {
      n.publicUrl = publicUrl;
      if (cluster) n.packageDir = cluster.packageDir;
    }
    if (n.type === 'mqtt in' && typeof n.topic === 'string') n.topic = sharedTopic(n.topic, cluster?.group);
  }
}

/**
 * A subscription as one member of a group (`$share/<group>/<filter>`: the broker hands each
 * message to one member) or, without a group, as the only subscriber.
 */
export function sharedTopic(topic: string, group: string | undefined): string {
  const plain = topic.replace(/^\$share\/[^/]+\//, '');
  return group ? `$share/${group}/${plain}` : plain;
}
