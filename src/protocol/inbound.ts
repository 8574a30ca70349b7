/** One device → platform message, decoded from its topic and payload together. */
import { decodeJsonObject } from './json';
import {
  BlockRequest,
  FirmwareQuery,
  parseBlockRequest,
  parseFirmwareQuery,
  parseProgressReport,
  parseVersionReport,
  ProgressReport,
  VersionReport,
} from './reports';
import { DeviceRef, parseTopicOf } from './topics';

export type DeviceMessage =
  | { kind: 'inform'; device: DeviceRef; report: VersionReport }
  | { kind: 'progress'; device: DeviceRef; report: ProgressReport }
  | { kind: 'firmwareGet'; device: DeviceRef; query: FirmwareQuery }
  | { kind: 'fileDownload'; device: DeviceRef; request: BlockRequest }
  /** T8 from iotkit 3.x: "this is my version, is there an upgrade?" */
  | { kind: 'request'; device: DeviceRef; report: VersionReport }
  /** T8 is one topic both ways: a subscriber also hears the platform's own answers. */
  | { kind: 'platformEcho'; device: DeviceRef };

/** The topics a device publishes on. */
export type InboundTopic = 'inform' | 'progress' | 'firmwareGet' | 'fileDownload' | 'request';

type Decoded<K extends InboundTopic> = Extract<
  DeviceMessage,
  { kind: K | (K extends 'request' ? 'platformEcho' : never) }
>;

/**
 * Decodes a message a device published. The topic decides the parser, and only the kinds a node
 * accepts are let through; the device is taken from the topic alone, never from the payload.
 */
export function decodeDeviceMessage<K extends InboundTopic>(
  topic: unknown,
  payload: unknown,
  accepted: readonly K[],
): Decoded<K> {
  const parsed = parseTopicOf(topic, accepted);
  const device: DeviceRef = { productKey: parsed.productKey, deviceName: parsed.deviceName };
  return decodeBody(parsed.kind as InboundTopic, device, payload) as Decoded<K>;
}

function decodeBody(kind: InboundTopic, device: DeviceRef, payload: unknown): DeviceMessage {
  switch (kind) {
    case 'inform':
      return { kind, device, report: parseVersionReport(payload) };
    case 'progress':
      return { kind, device, report: parseProgressReport(payload) };
    case 'firmwareGet':
      return { kind, device, query: parseFirmwareQuery(payload) };
    case 'fileDownload':
      return { kind, device, request: parseBlockRequest(payload) };
    case 'request':
      return isPlatformAnswer(payload)
        ? { kind: 'platformEcho', device }
        : { kind, device, report: parseVersionReport(payload) };
  }
}

function isPlatformAnswer(payload: unknown): boolean {
  const body = decodeJsonObject(payload);
  return body.message !== undefined && body.data !== undefined && body.params === undefined;
}
