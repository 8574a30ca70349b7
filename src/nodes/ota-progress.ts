/**
 * ota-progress: upgrade progress.
 * platform role — T3 in → a progress event out (state IN_PROGRESS, or FAILED with a reason).
 * device role   — a step in → a T3 message out, for `mqtt out`.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { checkInteger, checkModule, checkOptionalText, decodeDeviceMessage, progressOutcome, progressReportMessage } from '../protocol';
import { asMqtt, fail, okStatus, OtaMessage, readRole, resolveDevice, Role, StatusLine, withId } from './common';

interface OtaProgressDef extends NodeDef {
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

function readSettings(config: OtaProgressDef): Settings {
  return {
    role: readRole(config.role),
    productKey: config.productKey || undefined,
    deviceName: config.deviceName || undefined,
    module: checkModule('module', config.module),
  };
}

/** Platform role: the T3 report as an event. */
function progressEvent(msg: OtaMessage): Record<string, unknown> {
  const { device, report } = decodeDeviceMessage(msg.topic, msg.payload, ['progress']);
  const event = { ...device, module: report.module, step: report.step, desc: report.desc ?? '', ...progressOutcome(report.step, report.desc) };
  return withId(event, report.id);
}

/** Device role: `msg.payload` is a step number or `{step, desc, module}`. */
function encodeProgress(msg: OtaMessage, settings: Settings) {
  const payload = msg.payload;
  const isObject = payload !== null && typeof payload === 'object' && !Buffer.isBuffer(payload);
  const p = (isObject ? payload : { step: payload }) as Record<string, unknown>;
  return progressReportMessage(resolveDevice(msg, settings), {
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
        if (settings.role === 'platform') msg.payload = progressEvent(msg);
        else asMqtt(msg, encodeProgress(msg, settings));
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

  RED.nodes.registerType('ota-progress', OtaProgressNode);
};
