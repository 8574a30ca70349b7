/**
 * ota-verify: firmware checks.
 * device role   — a downloaded package (`msg.payload` Buffer or a path in `msg.filename`) and the
 *                 notice that announced it (`msg.notice`) → output 1 when size and digest match,
 *                 output 2 with the reason and a ready T3 `-3` message otherwise.
 * platform role — a package in → its size and digests, as a firmware descriptor out.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import {
  checkLabel,
  checkModule,
  checkPackage,
  digestBuffer,
  digestFile,
  FirmwareDescriptor,
  PackageDigest,
  parseFirmwareDescriptor,
  parseUpgradeNotice,
  progressReportMessage,
  ProtocolError,
} from '../protocol';
import { asMqtt, fail, okStatus, OtaMessage, readRole, resolveDevice, Role, StatusLine } from './common';

interface OtaVerifyDef extends NodeDef {
  role?: string;
  productKey?: string;
  deviceName?: string;
  version?: string;
  module?: string;
}

interface Settings {
  role: Role;
  productKey?: string;
  deviceName?: string;
  version?: string;
  module: string;
}

function readSettings(config: OtaVerifyDef): Settings {
  return {
    role: readRole(config.role),
    productKey: config.productKey || undefined,
    deviceName: config.deviceName || undefined,
    version: config.version ? checkLabel('version', config.version) : undefined,
    module: checkModule('module', config.module),
  };
}

/** The package of a message: a Buffer in msg.payload, else a file named by msg.filename. */
function digestOf(msg: OtaMessage): Promise<PackageDigest> {
  if (Buffer.isBuffer(msg.payload)) {
    if (msg.payload.length === 0) throw new ProtocolError('msg.payload', 'a non-empty package', msg.payload);
    return Promise.resolve(digestBuffer(msg.payload));
  }
  if (typeof msg.filename === 'string' && msg.filename.length > 0) return digestFile(msg.filename);
  throw new ProtocolError('msg.payload', 'the package as a Buffer (or its path in msg.filename)', msg.payload);
}

/** The notice a device received: a T2 or T5 body, or a firmware descriptor. */
function noticeOf(msg: OtaMessage): FirmwareDescriptor {
  const notice = msg.notice;
  if (notice !== null && typeof notice === 'object' && !Buffer.isBuffer(notice) && !('code' in notice)) {
    return parseFirmwareDescriptor(notice, 'msg.notice');
  }
  const parsed = parseUpgradeNotice(notice, 'msg.notice');
  if (!parsed.firmware) throw new ProtocolError('msg.notice', 'a notice with firmware (this T5 says nothing is pending)', notice);
  return parsed.firmware;
}

export = function (RED: NodeAPI) {
  function OtaVerifyNode(this: Node, config: OtaVerifyDef) {
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
    let passed = 0;
    let failed = 0;

    async function verifyOnDevice(msg: OtaMessage, send: (m: Array<OtaMessage | null>) => void): Promise<void> {
      const firmware = noticeOf(msg);
      const device = resolveDevice(msg, settings);
      const digest = await digestOf(msg);
      const check = checkPackage(digest, firmware);
      const verification = { version: firmware.version, module: firmware.module, size: digest.size, md5: digest.md5, sha256: digest.sha256 };
      if (check.ok) {
        passed++;
        msg.verification = { ok: true, ...verification };
        send([msg, null]);
      } else {
        failed++;
        msg.verification = { ok: false, reason: check.reason, ...verification };
        msg.reason = check.reason;
        asMqtt(msg, progressReportMessage(device, { step: -3, desc: check.reason, module: firmware.module }));
        send([null, msg]);
      }
      status.set(okStatus(`${passed} passed · ${failed} failed`));
    }

    async function describePackage(msg: OtaMessage, send: (m: Array<OtaMessage | null>) => void): Promise<void> {
      const version = checkLabel('msg.version', msg.version ?? settings.version);
      const module = checkModule('msg.module', msg.module ?? settings.module);
      const digest = await digestOf(msg);
      msg.payload = { version, module, size: digest.size, md5: digest.md5, sha256: digest.sha256, signMethod: 'Md5', sign: digest.md5 };
      if (typeof msg.url === 'string') (msg.payload as Record<string, unknown>).url = msg.url;
      passed++;
      status.set(okStatus(`${passed} packages`));
      send([msg, null]);
    }

    node.on('input', (input, send, done) => {
      const msg = input as OtaMessage;
      const run = settings.role === 'device' ? verifyOnDevice : describePackage;
      // A synchronous refusal (bad notice, no device) and an I/O failure end the same way.
      Promise.resolve()
        .then(() => run(msg, send as (m: Array<OtaMessage | null>) => void))
        .then(() => done(), (err) => fail(status, done, err));
    });

    node.on('close', (removed: boolean, done: () => void) => {
      status.close();
      done();
    });
  }

  RED.nodes.registerType('ota-verify', OtaVerifyNode);
};
