/**
 * ota-progress: upgrade progress.
 * platform role — T3 in → a progress event out (IN_PROGRESS, or FAILED with a reason); with a
 *                 fleet, the device's task follows and the event carries its batch and new state.
 * device role   — a step in → a T3 message out, for `mqtt out`.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import {
  checkInteger,
  checkModule,
  checkOptionalText,
  decodeDeviceMessage,
  progressOutcome,
  progressReportMessage,
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

interface OtaProgressDef extends NodeDef {
  role?: string;
  fleet?: string;
  productKey?: string;
  deviceName?: string;
  module?: string;
}

/**
 * Platform role: the T3 report as an event in `msg.payload`, once the fleet (if any) has taken it
 * in durably. The event is built field by field and the fleet's answer taken with one `then`: at
 * tens of thousands of reports a second, object spreads and each promise between the answer and
 * the send show in the profile.
 */
function takeProgress(msg: OtaMessage, handle: FleetHandle | undefined): true | Promise<true> {
  const { device, report } = decodeDeviceMessage(msg.topic, msg.payload, ['progress']);
  const outcome = progressOutcome(report.step, report.desc);
  const event: Record<string, unknown> = {
    productKey: device.productKey,
    deviceName: device.deviceName,
    module: report.module,
    step: report.step,
    desc: report.desc ?? '',
    state: outcome.state,
  };
  if ('reason' in outcome) event.reason = outcome.reason;
  withId(event, report.id);
  if (!handle) {
    msg.payload = event;
    return true;
  }
  return handle.fleet.submitProgress(device, report).then((taken) => {
    msg.payload = withOutcome(event, taken);
    return true;
  });
}

/** Device role: `msg.payload` is a step number or `{step, desc, module}`. */
function encodeProgress(msg: OtaMessage, settings: RoleSettings, id: number) {
  const payload = msg.payload;
  const isObject = payload !== null && typeof payload === 'object' && !Buffer.isBuffer(payload);
  const p = (isObject ? payload : { step: payload }) as Record<string, unknown>;
  return progressReportMessage(resolveDevice(msg, settings), {
    id,
    step: checkInteger(isObject ? 'msg.payload.step' : 'msg.payload', p.step, -4, 100),
    desc: checkOptionalText('msg.payload.desc', p.desc),
    module: checkModule('msg.payload.module', p.module ?? settings.module),
  });
}

export = function (RED: NodeAPI) {
  function OtaProgressNode(this: Node, config: OtaProgressDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusLine(node);
    const settings = readOrRefuse(node, status, () => readRoleSettings(config));
    if (!settings) return;
    const bound = settings.role === 'platform' ? bindFleet(RED, node, config.fleet) : undefined;
    const nextId = messageIds();

    reportNode(node, status, statusTexts(RED._, 'ota-progress'), settings.role, (msg) => {
      if (bound instanceof Error) throw bound;
      if (settings.role === 'device') {
        asMqtt(msg, encodeProgress(msg, settings, nextId()));
        return true;
      }
      return takeProgress(msg, bound);
    });
  }

  RED.nodes.registerType('ota-progress', OtaProgressNode);
};
