/**
 * ota-inform: version reports.
 * platform role — T1 (and T4 queries, T6 block requests) in → a version event out.
 * device role   — a version in → a T1 message out, for `mqtt out`.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { checkLabel, checkModule, decodeDeviceMessage, ProtocolError, versionReportMessage } from '../protocol';
import { asMqtt, fail, withId, okStatus, OtaMessage, readRole, resolveDevice, Role, StatusLine } from './common';

interface OtaInformDef extends NodeDef {
  role?: string;
  productKey?: string;
  deviceName?: string;
  module?: string;
}

interface Settings {
  role: Role;
  productKey?: string;
  deviceName?: string;
  module: string;
}

function readSettings(config: OtaInformDef): Settings {
  return {
    role: readRole(config.role),
    productKey: config.productKey || undefined,
    deviceName: config.deviceName || undefined,
    module: checkModule('module', config.module),
  };
}

/** Platform role: what a device said, as the event this node sends. */
function informEvent(msg: OtaMessage): Record<string, unknown> {
  const message = decodeDeviceMessage(msg.topic, msg.payload, ['inform', 'firmwareGet', 'fileDownload']);
  switch (message.kind) {
    case 'inform':
      return withId({ ...message.device, module: message.report.module, version: message.report.version }, message.report.id);
    case 'firmwareGet':
      return withId({ ...message.device, module: message.query.module, query: true }, message.query.id);
    case 'fileDownload': {
      const { id, ...download } = message.request;
      return withId({ ...message.device, download }, id);
    }
  }
}

/** Device role: `msg.payload` is a version string or `{version, module}`. */
function encodeInform(msg: OtaMessage, settings: Settings) {
  const payload = msg.payload;
  let version: unknown = payload;
  let module: unknown = settings.module;
  let field = 'msg.payload';
  if (payload !== null && typeof payload === 'object' && !Buffer.isBuffer(payload)) {
    const p = payload as Record<string, unknown>;
    version = p.version;
    field = 'msg.payload.version';
    if (p.module !== undefined) module = p.module;
  } else if (typeof payload !== 'string') {
    throw new ProtocolError('msg.payload', 'a version string or {version, module}', payload);
  }
  return versionReportMessage(resolveDevice(msg, settings), {
    version: checkLabel(field, version),
    module: checkModule('msg.payload.module', module),
  });
}

export = function (RED: NodeAPI) {
  function OtaInformNode(this: Node, config: OtaInformDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusLine(node);
    let settings: Settings;
    try {
      settings = readSettings(config);
    } catch (err) {
      node.error(`invalid settings: ${(err as Error).message}`);
      status.error(err);
      node.on('input', (_msg, _send, done) => done(err as Error));
      return;
    }
    let count = 0;

    node.on('input', (input, send, done) => {
      const msg = input as OtaMessage;
      try {
        if (settings.role === 'platform') msg.payload = informEvent(msg);
        else asMqtt(msg, encodeInform(msg, settings));
        count++;
        status.set(okStatus(settings.role === 'platform' ? `${count} reports` : `${count} sent`));
        send(msg);
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

  RED.nodes.registerType('ota-inform', OtaInformNode);
};
