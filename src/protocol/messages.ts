/** Whole MQTT messages, ready for core `mqtt out`: topic, payload and QoS for one device. */
import { buildBlockReply } from './download';
import { buildFirmwareReply, buildUpgradeNotice, FirmwareDescriptor } from './notice';
import { buildProgressReport, buildVersionReport, MessageId } from './reports';
import { buildTopic, DeviceRef } from './topics';

export interface MqttMessage {
  topic: string;
  payload: string | Buffer;
  qos: 0 | 1 | 2;
}

/** T2 for one device; the platform sends notices at QoS 1. */
export function upgradeMessage(device: DeviceRef, firmware: FirmwareDescriptor, id: number): MqttMessage {
  return { topic: buildTopic('upgrade', device), payload: buildUpgradeNotice(firmware, id), qos: 1 };
}

/** T8 answer for iotkit 3.x pull: a T2-shaped notice on the device's request topic. */
export function requestReplyMessage(device: DeviceRef, firmware: FirmwareDescriptor, id: number): MqttMessage {
  return { topic: buildTopic('request', device), payload: buildUpgradeNotice(firmware, id), qos: 1 };
}

/** T5 for one device: the pending notice, or `data:{}`. */
export function firmwareReplyMessage(
  device: DeviceRef,
  id: MessageId | undefined,
  firmware?: FirmwareDescriptor,
): MqttMessage {
  return { topic: buildTopic('firmwareGetReply', device), payload: buildFirmwareReply(id, firmware), qos: 1 };
}

/** T7 for one device: a binary frame. */
export function blockReplyMessage(
  device: DeviceRef,
  header: { id?: MessageId; fileToken?: string; fileLength: number; offset: number },
  block: Buffer,
): MqttMessage {
  return { topic: buildTopic('fileDownloadReply', device), payload: buildBlockReply(header, block), qos: 0 };
}

/** T1 for the device role. */
export function versionReportMessage(
  device: DeviceRef,
  report: { id?: MessageId; version: string; module?: string },
): MqttMessage {
  return { topic: buildTopic('inform', device), payload: buildVersionReport(report), qos: 1 };
}

/** T3 for the device role. */
export function progressReportMessage(
  device: DeviceRef,
  report: { id?: MessageId; step: number; desc?: string; module?: string },
): MqttMessage {
  return { topic: buildTopic('progress', device), payload: buildProgressReport(report), qos: 1 };
}

/**
 * Notice ids: the platform sends a millisecond timestamp; two notices in the same millisecond
 * still get distinct, increasing ids.
 */
export function noticeIdSource(now: () => number): () => number {
  let last = 0;
  return () => {
    last = Math.max(now(), last + 1);
    return last;
  };
}
