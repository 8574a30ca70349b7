/** Node-RED's own nodes that OTA flows are built with (Catch, MQTT), and builders for them with fresh ids. */
import path from 'node:path';
import { FlowNode, node } from './flow';

// The core nodes ship in @node-red/nodes, found from wherever node-red itself is installed.
const coreNodesDir = path.dirname(
  require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(require.resolve('node-red'))] }),
);

/** The module of the core `catch` node. */
export const catchNodeModule = require(path.join(coreNodesDir, 'core/common/25-catch.js'));
/** The module of the core `mqtt-broker`, `mqtt in` and `mqtt out` nodes. */
export const mqttNodeModule = require(path.join(coreNodesDir, 'core/network/10-mqtt.js'));

/** A Catch node for every error on its tab, passing each to `target`. */
export function catchAll(target: FlowNode): FlowNode {
  return node('catch', { scope: null, uncaught: false }, [[target.id]]);
}

/** An `mqtt-broker` config node for a broker on 127.0.0.1, MQTT 3.1.1, clean session, random client id. */
export function mqttBroker(port: number): FlowNode {
  return node('mqtt-broker', {
    name: 'test broker',
    broker: '127.0.0.1',
    port: String(port),
    clientid: '',
    autoConnect: true,
    usetls: false,
    protocolVersion: '4',
    keepalive: '60',
    cleansession: true,
  });
}

/**
 * An `mqtt in` node subscribed to `topic` at QoS 1. `datatype` as in the editor: `auto-detect`
 * (its default: JSON payloads arrive parsed), `utf8` (a string) or `buffer`.
 */
export function mqttIn(
  broker: FlowNode,
  topic: string,
  wires: string[][],
  datatype: 'auto-detect' | 'utf8' | 'buffer' = 'auto-detect',
): FlowNode {
  return node('mqtt in', { broker: broker.id, topic, qos: '1', datatype }, wires);
}

/** An `mqtt out` node publishing each message on its own `msg.topic` with its own `msg.qos`. */
export function mqttOut(broker: FlowNode): FlowNode {
  return node('mqtt out', { broker: broker.id, topic: '', qos: '', retain: '' });
}
