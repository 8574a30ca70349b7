/**
 * ota-inform: version reports.
 * platform role — T1 (and T4 queries, T8 requests, T6 block requests) in → a version event out;
 *                 with a fleet, the inventory and the device's task follow, and answers leave
 *                 through the fleet's ota-push node.
 * device role   — a version in → a T1 message out, for `mqtt out`.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import {
  checkLabel,
  checkModule,
  decodeDeviceMessage,
  DeviceMessage,
  ProtocolError,
  versionReportMessage,
} from '../protocol';
import {
  asMqtt,
  bindFleet,
  messageIds,
  OtaMessage,
  readOrRefuse,
  readRoleSettings,
  reportNode,
  resolveDevice,
  RoleSettings,
  StatusLine,
  statusTexts,
  withId,
  withOutcome,
} from './common';
import type { FleetHandle } from './registry';

interface OtaInformDef extends NodeDef {
  role?: string;
  fleet?: string;
  productKey?: string;
  deviceName?: string;
  module?: string;
}

type Fleet = FleetHandle['fleet'];

/**
 * Platform role, T1 (every device at every boot): the event in `msg.payload`, once the fleet (if
 * any) took the version in. Built field by field and taken with one `then`, as ota-progress does.
 */
function takeVersion(
  msg: OtaMessage,
  { device, report }: Extract<DeviceMessage, { kind: 'inform' }>,
  fleet: Fleet | undefined,
): true | Promise<true> {
  const event: Record<string, unknown> = {
    productKey: device.productKey,
    deviceName: device.deviceName,
    module: report.module,
    version: report.version,
  };
  withId(event, report.id);
  if (!fleet) {
    msg.payload = event;
    return true;
  }
  return fleet.submitVersion(device, report).then((taken) => {
    msg.payload = withOutcome(event, taken);
    return true;
  });
}

/** Platform role, the queries (T4, T8) and block requests (T6): the event, after the fleet (if any) took it in. */
async function informEvent(
  message: Exclude<DeviceMessage, { kind: 'platformEcho' | 'progress' | 'inform' }>,
  fleet: Fleet | undefined,
) {
  const { device } = message;
  switch (message.kind) {
    case 'request': {
      // iotkit 3.x asks with its version: a report and a query in one.
      const { report } = message;
      const event = withId({ ...device, module: report.module, version: report.version, query: true }, report.id);
      const outcome = fleet && (await fleet.submitRequest(device, report));
      return withOutcome(outcome ? { ...event, pending: outcome.pending } : event, outcome);
    }
    case 'firmwareGet': {
      const { query } = message;
      const event = withId({ ...device, module: query.module, query: true }, query.id);
      const outcome = fleet && (await fleet.submitQuery(device, query, 'firmwareGet'));
      return withOutcome(outcome ? { ...event, pending: outcome.pending } : event, outcome);
    }
    case 'fileDownload': {
      const { id, ...download } = message.request;
      return withOutcome(
        withId({ ...device, download }, id),
        fleet && (await fleet.requestBlock(device, message.request)),
      );
    }
  }
}

/** Device role: `msg.payload` is a version string or `{version, module}`. */
function encodeInform(msg: OtaMessage, settings: RoleSettings, id: number) {
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
    id,
    version: checkLabel(field, version),
    module: checkModule('msg.payload.module', module),
  });
}

export = function (RED: NodeAPI) {
  function OtaInformNode(this: Node, config: OtaInformDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusLine(node);
    const settings = readOrRefuse(node, status, () => readRoleSettings(config));
    if (!settings) return;
    const bound = settings.role === 'platform' ? bindFleet(RED, node, config.fleet) : undefined;
    const nextId = messageIds();

    reportNode(node, status, statusTexts(RED._, 'ota-inform'), settings.role, (msg) => {
      if (bound instanceof Error) throw bound;
      if (settings.role === 'device') {
        asMqtt(msg, encodeInform(msg, settings, nextId()));
        return true;
      }
      const message = decodeDeviceMessage(msg.topic, msg.payload, ['inform', 'firmwareGet', 'fileDownload', 'request']);
      if (message.kind === 'platformEcho') return false; // our own T8 answer, heard back
      if (message.kind === 'inform') return takeVersion(msg, message, bound?.fleet);
      return informEvent(message, bound?.fleet).then((event) => {
        msg.payload = event;
        return true;
      });
    });
  }

  RED.nodes.registerType('ota-inform', OtaInformNode);
};
