/**
 * ota-fleet: the configuration shared by the OTA nodes of one device fleet.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';

interface OtaFleetDef extends NodeDef {
  requireVerification?: boolean;
  publicUrl?: string;
}

export = function (RED: NodeAPI) {
  function OtaFleetNode(this: Node, config: OtaFleetDef) {
    RED.nodes.createNode(this, config);
  }

  RED.nodes.registerType('ota-fleet', OtaFleetNode);
};
