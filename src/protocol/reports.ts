/**
 * Device → platform messages: T1 version report, T3 progress report, T4 firmware query and
 * T6 block request. Parsers are lenient where real SDKs differ (see docs/sdk-shapes.md) and
 * refuse everything else with the field, the rule and the offending value.
 */
import { ProtocolError } from './errors';
import {
  checkInteger,
  checkLabel,
  checkModule,
  checkOptionalText,
  readId,
  readObject,
  readOptionalObject,
} from './fields';
import { decodeJsonObject } from './json';

export type MessageId = string | number;

export interface VersionReport {
  id?: MessageId;
  version: string;
  module: string;
}

export interface ProgressReport {
  id?: MessageId;
  step: number;
  desc?: string;
  module: string;
}

export interface FirmwareQuery {
  id?: MessageId;
  module: string;
}

export interface BlockRequest {
  id?: MessageId;
  fileToken?: string;
  streamId: number;
  fileId: number;
  size: number;
  offset: number;
}

/** The failure codes of T3 and what each means. */
export const FAILURE_STEPS: Readonly<Record<number, string>> = {
  [-1]: 'upgrade failed',
  [-2]: 'download failed',
  [-3]: 'verification failed (digest or signature mismatch)',
  [-4]: 'flash write (burn) failed',
};

/** The largest block a device may ask for over MQTT (Link SDK 4 asks for a few KiB). */
export const MAX_BLOCK_SIZE = 128 * 1024;

/** T1: `{"id":"123","params":{"version":"1.0.1","module":"MCU"}}`. */
export function parseVersionReport(payload: unknown): VersionReport {
  const body = decodeJsonObject(payload);
  const params = readObject(body, 'params', 'params');
  return {
    id: readId(body),
    version: checkLabel('params.version', params.version),
    module: checkModule('params.module', params.module),
  };
}

/** T3: `{"id":"123","params":{"step":"-1","desc":"…","module":"MCU"}}`. */
export function parseProgressReport(payload: unknown): ProgressReport {
  const body = decodeJsonObject(payload);
  const params = readObject(body, 'params', 'params');
  const report: ProgressReport = {
    id: readId(body),
    step: checkInteger('params.step', params.step, -4, 100),
    module: checkModule('params.module', params.module),
  };
  const desc = checkOptionalText('params.desc', params.desc);
  if (desc !== undefined) report.desc = desc;
  return report;
}

/** The readable reason of a failure step, with the device's own description. */
export function failureReason(step: number, desc?: string): string {
  const what = FAILURE_STEPS[step] ?? 'failed';
  const detail = desc && desc.trim() ? `: ${desc.trim()}` : '';
  return `step ${step} (${what})${detail}`;
}

/** T4, full form `{"id":"1","version":"1.0","params":{"module":"MCU"},"method":"thing.ota.firmware.get"}` or just `{"id":1,"params":{}}`. */
export function parseFirmwareQuery(payload: unknown): FirmwareQuery {
  const body = decodeJsonObject(payload);
  if (body.method !== undefined && body.method !== 'thing.ota.firmware.get') {
    throw new ProtocolError('method', '"thing.ota.firmware.get" when present', body.method);
  }
  const params = readOptionalObject(body, 'params', 'params') ?? {};
  return { id: readId(body), module: checkModule('params.module', params.module) };
}

/** T6: `{"id":"1","params":{"fileToken":"…","fileInfo":{"streamId":N,"fileId":1},"fileBlock":{"size":5120,"offset":0}}}`. */
export function parseBlockRequest(payload: unknown): BlockRequest {
  const body = decodeJsonObject(payload);
  const params = readObject(body, 'params', 'params');
  const fileInfo = readObject(params, 'fileInfo', 'params.fileInfo');
  const fileBlock = readObject(params, 'fileBlock', 'params.fileBlock');
  const request: BlockRequest = {
    id: readId(body),
    streamId: checkInteger('params.fileInfo.streamId', fileInfo.streamId, 0, 2 ** 31 - 1),
    fileId: checkInteger('params.fileInfo.fileId', fileInfo.fileId, 0, 2 ** 31 - 1),
    size: checkInteger('params.fileBlock.size', fileBlock.size, 1, MAX_BLOCK_SIZE),
    offset: checkInteger('params.fileBlock.offset', fileBlock.offset, 0, 2 ** 40),
  };
  const token = checkOptionalText('params.fileToken', params.fileToken, 64);
  if (token !== undefined) request.fileToken = token;
  return request;
}

// ---- builders, for the device role and the simulator ---------------------------------------

/** T1 as Link SDK 4 sends it: numeric id, the module only when it is not `default`. */
export function buildVersionReport(report: { id?: MessageId; version: string; module?: string }): string {
  const version = checkLabel('version', report.version);
  const module = checkModule('module', report.module);
  const params: Record<string, string> = { version };
  if (module !== 'default') params.module = module;
  return JSON.stringify({ id: report.id ?? 1, params });
}

/** T3 as Link SDK 4 sends it: step as a string, desc always present, module when not `default`. */
export function buildProgressReport(report: { id?: MessageId; step: number; desc?: string; module?: string }): string {
  const step = checkInteger('step', report.step, -4, 100);
  const desc = checkOptionalText('desc', report.desc) ?? '';
  const module = checkModule('module', report.module);
  const params: Record<string, string> = { step: String(step), desc };
  if (module !== 'default') params.module = module;
  return JSON.stringify({ id: report.id ?? 1, params });
}

/** T4 in the full form. */
export function buildFirmwareQuery(query: { id?: MessageId; module?: string }): string {
  const params: Record<string, string> = {};
  if (query.module !== undefined) params.module = checkModule('module', query.module);
  return JSON.stringify({ id: query.id ?? 1, version: '1.0', params, method: 'thing.ota.firmware.get' });
}

/** T6 for one block. */
export function buildBlockRequest(req: Omit<BlockRequest, 'fileToken'> & { fileToken?: string }): string {
  return JSON.stringify({
    id: String(req.id ?? 1),
    version: '1.0',
    params: {
      fileToken: req.fileToken ?? 'default',
      fileInfo: { streamId: req.streamId, fileId: req.fileId },
      fileBlock: { size: req.size, offset: req.offset },
    },
  });
}

/** What a T3 step says on its own: still upgrading, or failed and why. */
export function progressOutcome(
  step: number,
  desc?: string,
): { state: 'IN_PROGRESS' } | { state: 'FAILED'; reason: string } {
  return step < 0 ? { state: 'FAILED', reason: failureReason(step, desc) } : { state: 'IN_PROGRESS' };
}
