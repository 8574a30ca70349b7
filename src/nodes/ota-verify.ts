/**
 * ota-verify: firmware checks.
 * platform role — a package in (Buffer, file or URL) → stored, catalogued and hosted by the fleet;
 *                 with test devices, verified on them first: output 1 when all succeed, output 2
 *                 when one fails. Without a fleet: just its size and digests.
 * device role   — a downloaded package and the notice that announced it → output 1 when size and
 *                 digest match and, with a public key, the notice's signed release manifest passes
 *                 (and its digestsign, when it has one); output 2 with the reason and a ready T3
 *                 `-3` message otherwise. The highest release sequence that passed is kept per
 *                 device and module in the node context, so an older release is refused later.
 *                 A notice with `files`: the files in msg.payload as `{fileName: Buffer}`, each
 *                 checked against its entry; with a public key, refused (no manifest signs files).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { openUrl, readUploadMeta, Task, uploadFirmware, Firmware } from '../fleet';
import type { Fleet } from '../fleet';
import { checkManifest, installedSequenceKey, ManifestCheck, nextInstalledSequences } from '../identity';
import {
  checkLabel,
  checkModule,
  checkFiles,
  checkPackage,
  checkPackageSignature,
  checkTopicLevel,
  digestBuffer,
  DeviceRef,
  digestFile,
  FirmwareDescriptor,
  PackageCheck,
  PackageDigest,
  parseFirmwareDescriptor,
  parseUpgradeNotice,
  progressReportMessage,
  ProtocolError,
  readPublicKey,
  UNSIGNED_FILES_REASON,
} from '../protocol';
import {
  asMqtt,
  bindFleet,
  fail,
  messageIds,
  okStatus,
  OtaMessage,
  readOrRefuse,
  readRole,
  resolveDevice,
  Role,
  StatusLine,
  statusTexts,
} from './common';
import type { FleetHandle } from './registry';

interface OtaVerifyDef extends NodeDef {
  role?: string;
  fleet?: string;
  productKey?: string;
  deviceName?: string;
  version?: string;
  module?: string;
  srcVersion?: string;
  signMethod?: string;
  testDevices?: string;
  publicKey?: string;
}

interface Settings {
  role: Role;
  productKey?: string;
  deviceName?: string;
  version?: string;
  module: string;
  srcVersion?: string;
  signMethod?: string;
  testDevices: string[];
  publicKey?: ReturnType<typeof readPublicKey>;
}

const MAX_TEST_DEVICES = 10;
/** The node context key of the highest release sequence installed, per `<productKey>/<deviceName>/<module>`. */
const INSTALLED_SEQUENCES = 'installedSequences';

function readTestDevices(field: string, value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  const list =
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : value;
  if (!Array.isArray(list) || list.length > MAX_TEST_DEVICES) {
    throw new ProtocolError(field, `a list of at most ${MAX_TEST_DEVICES} test device names`, value);
  }
  return list.map((d, i) => checkTopicLevel(`${field}[${i}]`, d));
}

function readSettings(config: OtaVerifyDef): Settings {
  return {
    role: readRole(config.role),
    productKey: config.productKey ? checkTopicLevel('productKey', config.productKey) : undefined,
    deviceName: config.deviceName ? checkTopicLevel('deviceName', config.deviceName) : undefined,
    version: config.version ? checkLabel('version', config.version) : undefined,
    module: checkModule('module', config.module),
    srcVersion: config.srcVersion ? checkLabel('srcVersion', config.srcVersion) : undefined,
    signMethod: config.signMethod || undefined,
    testDevices: readTestDevices('testDevices', config.testDevices),
    publicKey: config.publicKey?.trim() ? readPublicKey('publicKey', config.publicKey) : undefined,
  };
}

/** The package of a message: a Buffer in msg.payload, else a file named by msg.filename. */
async function digestOf(msg: OtaMessage): Promise<PackageDigest> {
  if (Buffer.isBuffer(msg.payload)) {
    if (msg.payload.length === 0) throw new ProtocolError('msg.payload', 'a non-empty package', msg.payload);
    return digestBuffer(msg.payload);
  }
  if (typeof msg.filename === 'string' && msg.filename.length > 0) {
    await checkFile(msg.filename);
    return digestFile(msg.filename);
  }
  throw new ProtocolError('msg.payload', 'the package as a Buffer (or its path in msg.filename)', msg.payload);
}

/** The files of a multi-file notice: msg.payload as `{fileName: Buffer}`, each file digested. */
function fileDigestsOf(msg: OtaMessage): Map<string, PackageDigest> {
  const files = msg.payload;
  if (files === null || typeof files !== 'object' || Buffer.isBuffer(files) || Array.isArray(files)) {
    throw new ProtocolError(
      'msg.payload',
      'the downloaded files as an object {fileName: Buffer} (the notice lists several files)',
      files,
    );
  }
  const digests = new Map<string, PackageDigest>();
  for (const [fileName, bytes] of Object.entries(files)) {
    if (!Buffer.isBuffer(bytes))
      throw new ProtocolError(`msg.payload["${fileName}"]`, 'the downloaded file as a Buffer', bytes);
    digests.set(fileName, digestBuffer(bytes));
  }
  return digests;
}

async function checkFile(path: string): Promise<void> {
  try {
    if ((await stat(path)).isFile()) return;
  } catch {
    /* refused below */
  }
  throw new ProtocolError('msg.filename', 'the path of a readable file', path);
}

/** The notice a device received: a T2 or T5 body, or a firmware descriptor. */
function noticeOf(msg: OtaMessage): FirmwareDescriptor {
  const notice = msg.notice;
  if (notice !== null && typeof notice === 'object' && !Buffer.isBuffer(notice) && !('code' in notice)) {
    return parseFirmwareDescriptor(notice, 'msg.notice');
  }
  const parsed = parseUpgradeNotice(notice, 'msg.notice');
  if (!parsed.firmware)
    throw new ProtocolError('msg.notice', 'a notice with firmware (this T5 says nothing is pending)', notice);
  return parsed.firmware;
}

interface Failure {
  deviceName: string;
  reason: string | null;
}

/** The test devices of a verify batch that failed or were canceled, and why. */
function failuresOf(f: Fleet, batchId: number): Failure[] {
  return f
    .tasks(batchId)
    .filter((t: Task) => t.state === 'FAILED' || t.state === 'CANCELED')
    .map((t: Task) => ({ deviceName: t.deviceName, reason: t.reason }));
}

/** Platform role: where the package comes from. */
async function packageSource(msg: OtaMessage, maxBytes: number): Promise<Readable | Buffer> {
  if (Buffer.isBuffer(msg.payload)) return msg.payload;
  if (typeof msg.filename === 'string' && msg.filename.length > 0) {
    await checkFile(msg.filename);
    return createReadStream(msg.filename, { highWaterMark: 1024 * 1024 });
  }
  if (typeof msg.url === 'string' && msg.url.length > 0) return openUrl(msg.url, maxBytes);
  throw new ProtocolError(
    'msg.payload',
    'the package as a Buffer, or msg.filename (a path) or msg.url (http/https)',
    msg.payload,
  );
}

/** The record sent on: the catalog entry with its hosted URL, freshly signed. */
function recordOf(handle: FleetHandle, firmware: Firmware): Record<string, unknown> {
  const url = firmware.hosted ? handle.host.signedUrl(firmware, handle.fleet.clock.now()) : firmware.url;
  return { ...firmware, url };
}

export = function (RED: NodeAPI) {
  function OtaVerifyNode(this: Node, config: OtaVerifyDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusLine(node);
    const texts = statusTexts(RED._, 'ota-verify');
    const settings = readOrRefuse(node, status, () => readSettings(config));
    if (!settings) return;
    const bound = settings.role === 'platform' ? bindFleet(RED, node, config.fleet) : undefined;
    const nextId = messageIds();
    let passed = 0;
    let failed = 0;
    /** Verification batches this node waits for: firmware id → the waiting messages. */
    const waiting = new Map<
      string,
      { msg: OtaMessage; send: (m: Array<OtaMessage | null>) => void; done: (err?: Error) => void; batchId: number }[]
    >();

    const show = () => {
      const counts = { passed, failed, verifying: waiting.size };
      const name = settings.role === 'device' ? 'device' : waiting.size ? 'platformVerifying' : 'platform';
      status.set(okStatus(texts.format(name, counts)));
    };

    async function verifyOnDevice(msg: OtaMessage, send: (m: Array<OtaMessage | null>) => void): Promise<void> {
      const firmware = noticeOf(msg);
      const device = resolveDevice(msg, settings as Settings);
      if (firmware.files) return verifyFilesOnDevice(msg, firmware, device, send);
      const digest = await digestOf(msg);
      const publicKey = settings?.publicKey;
      const sequenceKey = installedSequenceKey(device.productKey, device.deviceName, firmware.module);
      const installed = (node.context().get(INSTALLED_SEQUENCES) ?? {}) as Record<string, number>;
      let check: PackageCheck = checkPackage(digest, firmware);
      let release: ManifestCheck | undefined;
      if (check.ok && publicKey) {
        const installedSequence = installed[sequenceKey];
        release = checkManifest({
          extData: firmware.extData,
          publicKey,
          notice: firmware,
          productKey: device.productKey,
          digest,
          now: Date.now(),
          installedSequence,
        });
        check = release;
        // digestsign is optional beside a manifest, and checked when it is there.
        if (check.ok && firmware.digestsign !== undefined)
          check = checkPackageSignature(publicKey, digest.sha256, firmware.digestsign);
      }
      const verification: Record<string, unknown> = {
        version: firmware.version,
        module: firmware.module,
        size: digest.size,
        md5: digest.md5,
        sha256: digest.sha256,
      };
      if (release?.manifest)
        Object.assign(verification, { sequence: release.manifest.sequence, expires: release.manifest.expires });
      if (check.ok && release?.manifest) {
        // A pass means the flow goes on to install it: from now on an older release is a replay.
        node
          .context()
          .set(INSTALLED_SEQUENCES, nextInstalledSequences(installed, sequenceKey, release.manifest.sequence));
      }
      sendVerdict(msg, check, verification, device, firmware, send);
    }

    /** A notice with `files`: each file against its entry; with a public key, refused, as no manifest signs files. */
    function verifyFilesOnDevice(
      msg: OtaMessage,
      firmware: FirmwareDescriptor,
      device: DeviceRef,
      send: (m: Array<OtaMessage | null>) => void,
    ): void {
      const digests = fileDigestsOf(msg);
      let check = checkFiles(digests, firmware);
      if (check.ok && settings?.publicKey) check = { ok: false, reason: UNSIGNED_FILES_REASON };
      const files = [...digests].map(([fileName, d]) => ({ fileName, size: d.size, md5: d.md5, sha256: d.sha256 }));
      const size = files.reduce((total, f) => total + f.size, 0);
      sendVerdict(
        msg,
        check,
        { version: firmware.version, module: firmware.module, size, files },
        device,
        firmware,
        send,
      );
    }

    /** Output 1 on a pass; output 2 with the reason and a ready T3 -3 otherwise. */
    function sendVerdict(
      msg: OtaMessage,
      check: PackageCheck,
      verification: Record<string, unknown>,
      device: DeviceRef,
      firmware: FirmwareDescriptor,
      send: (m: Array<OtaMessage | null>) => void,
    ): void {
      if (check.ok) {
        passed++;
        msg.verification = { ok: true, ...verification };
        send([msg, null]);
      } else {
        failed++;
        msg.verification = { ok: false, reason: check.reason, ...verification };
        msg.reason = check.reason;
        asMqtt(
          msg,
          progressReportMessage(device, { id: nextId(), step: -3, desc: check.reason, module: firmware.module }),
        );
        send([null, msg]);
      }
      show();
    }

    /** Without a fleet: the package's size and digests as a descriptor. */
    async function describePackage(msg: OtaMessage, send: (m: Array<OtaMessage | null>) => void): Promise<void> {
      const version = checkLabel('msg.version', msg.version ?? settings?.version);
      const module = checkModule('msg.module', msg.module ?? settings?.module);
      const digest = await digestOf(msg);
      msg.payload = {
        version,
        module,
        size: digest.size,
        md5: digest.md5,
        sha256: digest.sha256,
        signMethod: 'Md5',
        sign: digest.md5,
      };
      passed++;
      show();
      send([msg, null]);
    }

    /** With a fleet: store, catalogue, host, and verify on test devices when there are some. */
    async function uploadToFleet(
      msg: OtaMessage,
      handle: FleetHandle,
      send: (m: Array<OtaMessage | null>) => void,
      done: (err?: Error) => void,
    ): Promise<boolean> {
      const s = settings as Settings;
      const meta = readUploadMeta(
        {
          productKey: msg.productKey ?? s.productKey,
          module: msg.module ?? s.module,
          version: msg.version ?? s.version,
          srcVersion: msg.srcVersion ?? s.srcVersion,
          signMethod: msg.signMethod ?? s.signMethod,
          extData: msg.extData,
        },
        'msg.',
      );
      const testDevices =
        msg.testDevices !== undefined ? readTestDevices('msg.testDevices', msg.testDevices) : s.testDevices;
      const firmware = await uploadFirmware(
        handle.ask,
        handle.files,
        await packageSource(msg, handle.maxPackageBytes),
        meta,
        handle.maxPackageBytes,
      );
      msg.payload = recordOf(handle, firmware);
      if (testDevices.length === 0 || firmware.verification === 'verified') {
        passed++;
        show();
        send([msg, null]);
        return true;
      }
      const batch = await handle.ask((f) =>
        f.createBatch({
          firmwareId: firmware.id,
          type: 'verify',
          targets: { selection: 'SPECIFIC', devices: testDevices },
        }),
      );
      msg.batchId = batch.id;
      waiting.set(firmware.id, [...(waiting.get(firmware.id) ?? []), { msg, send, done, batchId: batch.id }]);
      show();
      return false;
    }

    const onFirmware = (firmware: Firmware) => {
      const handle = bound instanceof Error ? undefined : bound;
      const list = waiting.get(firmware.id);
      // verified, verify-failed, or back to unverified when the verify batch was canceled.
      if (!handle || !list || firmware.verification === 'verifying' || firmware.verification === 'not-required') return;
      waiting.delete(firmware.id);
      if (firmware.verification === 'verified') return verdicts(handle, firmware, list, undefined);
      // Which test devices failed, and why: read for every waiting message in one unit of work.
      const batchIds = list.map((w) => w.batchId);
      handle
        .ask((f) => batchIds.map((id) => failuresOf(f, id)))
        .then(
          (failures) => verdicts(handle, firmware, list, failures),
          (err: Error) => {
            for (const { msg, done } of list) fail(status, done, err, msg);
            show();
          },
        );
    };

    /** Sends each waiting message on: output 1 when verified, else output 2 with its batch's failures. */
    function verdicts(
      handle: FleetHandle,
      firmware: Firmware,
      list: NonNullable<ReturnType<typeof waiting.get>>,
      failures: Failure[][] | undefined,
    ): void {
      list.forEach(({ msg, send, done }, i) => {
        msg.payload = recordOf(handle, firmware);
        if (!failures) {
          passed++;
          send([msg, null]);
        } else {
          failed++;
          (msg.payload as Record<string, unknown>).failures = failures[i];
          send([null, msg]);
        }
        done();
      });
      show();
    }
    if (bound && !(bound instanceof Error)) bound.fleet.on('firmware', onFirmware);

    node.on('input', (input, send, done) => {
      const msg = input as OtaMessage;
      const out = send as (m: Array<OtaMessage | null>) => void;
      const run = async (): Promise<boolean> => {
        if (bound instanceof Error) throw bound;
        if (settings.role === 'device') await verifyOnDevice(msg, out);
        else if (bound) return uploadToFleet(msg, bound, out, done);
        else await describePackage(msg, out);
        return true;
      };
      // A refusal and an I/O failure end the same way; a verification in progress ends later.
      run().then(
        (finished) => finished && done(),
        (err) => fail(status, done, err, msg),
      );
    });

    node.on('close', (removed: boolean, done: () => void) => {
      if (bound && !(bound instanceof Error)) bound.fleet.off('firmware', onFirmware);
      for (const list of waiting.values())
        for (const w of list)
          w.done(new Error('the node was stopped before the verification finished; it goes on in the fleet'));
      waiting.clear();
      status.close();
      done();
    });
  }

  RED.nodes.registerType('ota-verify', OtaVerifyNode);
};
