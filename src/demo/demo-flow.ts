/**
 * The demo's flow: the platform example (examples/01), on a tab, pointed at the demo's broker
 * and at the URL devices download from.
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

/** The example flow with its broker and fleet set for this run. */
export function demoFlow(broker: URL, publicUrl: string): DemoFlow {
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
  retarget(flows, broker, publicUrl);
  const fleet = flows.find((n) => n.type === 'ota-fleet');
  if (!fleet) throw new Error(`examples/${DEMO_EXAMPLE} has no ota-fleet node`);
  return { flows, fleetId: fleet.id };
}

/** Points the broker and fleet nodes of a flow at this run's broker and public URL. */
export function retarget(flows: FlowNode[], broker: URL, publicUrl: string): void {
  for (const n of flows) {
    if (n.type === 'mqtt-broker') {
      n.broker = broker.hostname;
      n.port = broker.port || '1883';
      n.usetls = broker.protocol === 'mqtts:';
    }
    if (n.type === 'ota-fleet') n.publicUrl = publicUrl;
  }
}
