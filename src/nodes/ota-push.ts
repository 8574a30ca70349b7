/**
 * ota-push: the one egress of upgrade notices.
 * A firmware descriptor in `msg.payload` and one device (`msg.productKey`, `msg.deviceName`) or a
 * list (`msg.devices`) → one T2 message per device on output 1, ready for `mqtt out`.
 * Output 2 carries task and batch events.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { noticeIdSource, parseFirmwareDescriptor, readDeviceList, upgradeMessage } from '../protocol';
import { fail, okStatus, OtaMessage, StatusLine } from './common';

interface OtaPushDef extends NodeDef {
  fleet?: string;
}

export = function (RED: NodeAPI) {
  function OtaPushNode(this: Node, config: OtaPushDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusLine(node);
    const nextId = noticeIdSource(Date.now);
    let pushed = 0;

    node.on('input', (input, send, done) => {
      const msg = input as OtaMessage;
      try {
        // Check everything before sending anything: a bad entry sends nothing.
        const firmware = parseFirmwareDescriptor(msg.payload);
        const devices = readDeviceList(msg as { productKey?: unknown; deviceName?: unknown; devices?: unknown });
        // The list itself is not copied into every message: a wire that fans out deep-clones each one.
        const { devices: _list, ...base } = msg;
        const out = devices.map((device) => {
          const m = upgradeMessage(device, firmware, nextId());
          return { ...base, _msgid: RED.util.generateId(), topic: m.topic, payload: m.payload, qos: m.qos, ...device };
        });
        pushed += out.length;
        status.set(okStatus(`${pushed} pushed`));
        send([out, null]);
        done();
      } catch (err) {
        fail(status, done, err);
      }
    });

    node.on('close', (removed: boolean, done: () => void) => {
      status.close();
      done();
    });
  }

  RED.nodes.registerType('ota-push', OtaPushNode);
};
