import { ProtocolError, required } from './errors';

/** The OTA topics of ota-protocol.md, by what they carry, plus iotkit 3.x's pull topic (T8). */
export type TopicKind =
  | 'inform' // T1 device → platform: running version
  | 'upgrade' // T2 platform → device: upgrade notice
  | 'progress' // T3 device → platform: progress or failure
  | 'firmwareGet' // T4 device → platform: ask for a pending upgrade
  | 'firmwareGetReply' // T5 platform → device: answer to T4
  | 'fileDownload' // T6 device → platform: ask for one block
  | 'fileDownloadReply' // T7 platform → device: one block
  | 'request'; // T8 both ways: iotkit-embedded 3.x asks for a pending upgrade and gets a T2-shaped answer

export interface DeviceRef {
  productKey: string;
  deviceName: string;
}

export interface ParsedTopic extends DeviceRef {
  kind: TopicKind;
}

export const MAX_NAME_LENGTH = 64;

const OTA_PREFIX: Partial<Record<TopicKind, string>> = {
  inform: '/ota/device/inform/',
  upgrade: '/ota/device/upgrade/',
  progress: '/ota/device/progress/',
  request: '/ota/device/request/',
};

/** The start every T1, T2, T3 and T8 topic shares. */
const OTA_DEVICE = '/ota/device/';

const SYS_SUFFIX: Partial<Record<TopicKind, string>> = {
  firmwareGet: '/thing/ota/firmware/get',
  firmwareGetReply: '/thing/ota/firmware/get_reply',
  fileDownload: '/thing/file/download',
  fileDownloadReply: '/thing/file/download_reply',
};

/** The topic name a user reads in docs and errors: T1…T7. */
export const TOPIC_LABEL: Record<TopicKind, string> = {
  inform: 'T1 /ota/device/inform/${pk}/${dn}',
  upgrade: 'T2 /ota/device/upgrade/${pk}/${dn}',
  progress: 'T3 /ota/device/progress/${pk}/${dn}',
  firmwareGet: 'T4 /sys/${pk}/${dn}/thing/ota/firmware/get',
  firmwareGetReply: 'T5 /sys/${pk}/${dn}/thing/ota/firmware/get_reply',
  fileDownload: 'T6 /sys/${pk}/${dn}/thing/file/download',
  fileDownloadReply: 'T7 /sys/${pk}/${dn}/thing/file/download_reply',
  request: 'T8 /ota/device/request/${pk}/${dn}',
};

/**
 * Checks one topic level (a product key or device name): a non-empty string of at most 64
 * characters with no `/`, `+`, `#`, NUL or broken UTF-16, so it can never widen or split a topic.
 */
export function checkTopicLevel(field: string, value: unknown): string {
  if (value === undefined || value === null) required(field, 'a non-empty string of up to 64 characters');
  if (typeof value !== 'string') throw new ProtocolError(field, 'a string', value);
  if (value.length === 0) throw new ProtocolError(field, 'a non-empty string', value);
  if (value.length > MAX_NAME_LENGTH) {
    throw new ProtocolError(field, `at most ${MAX_NAME_LENGTH} characters`, value);
  }
  // eslint-disable-next-line no-control-regex -- NUL is one of the refused characters
  const bad = /[/+#\u0000]/.exec(value);
  if (bad) {
    const name = bad[0] === '\u0000' ? 'NUL' : `"${bad[0]}"`;
    throw new ProtocolError(field, `one MQTT topic level (no "/", "+", "#" or NUL; found ${name})`, value);
  }
  if (!value.isWellFormed()) throw new ProtocolError(field, 'valid Unicode text', value);
  return value;
}

export function checkDeviceRef(ref: { productKey?: unknown; deviceName?: unknown }, prefix = ''): DeviceRef {
  return {
    productKey: checkTopicLevel(`${prefix}productKey`, ref.productKey),
    deviceName: checkTopicLevel(`${prefix}deviceName`, ref.deviceName),
  };
}

/** Builds the topic of a given kind for one device, refusing names that are not a single level. */
export function buildTopic(kind: TopicKind, ref: DeviceRef): string {
  const { productKey, deviceName } = checkDeviceRef(ref);
  const prefix = OTA_PREFIX[kind];
  if (prefix) return `${prefix}${productKey}/${deviceName}`;
  return `/sys/${productKey}/${deviceName}${SYS_SUFFIX[kind]}`;
}

/** Recognises any of the OTA topics; refuses anything else with the list of what is expected. */
export function parseTopic(topic: unknown): ParsedTopic {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new ProtocolError('msg.topic', 'one of the OTA topics (T1–T8)', topic);
  }
  // /ota/device/<kind>/<pk>/<dn>, found without splitting: T1 and T3 arrive by the ten thousand a second.
  if (topic.startsWith(OTA_DEVICE)) {
    const afterKind = topic.indexOf('/', OTA_DEVICE.length);
    const afterProduct = afterKind < 0 ? -1 : topic.indexOf('/', afterKind + 1);
    if (afterProduct >= 0 && topic.indexOf('/', afterProduct + 1) < 0) {
      const kind = topic.slice(OTA_DEVICE.length, afterKind);
      if (kind === 'inform' || kind === 'upgrade' || kind === 'progress' || kind === 'request') {
        const ref = levelsToRef(topic.slice(afterKind + 1, afterProduct), topic.slice(afterProduct + 1), topic);
        return { kind, productKey: ref.productKey, deviceName: ref.deviceName };
      }
    }
  }
  const levels = topic.split('/');
  // ['', 'sys', pk, dn, 'thing', ...rest]
  if (levels.length >= 7 && levels[0] === '' && levels[1] === 'sys' && levels[4] === 'thing') {
    const rest = '/' + levels.slice(4).join('/');
    for (const [kind, suffix] of Object.entries(SYS_SUFFIX) as [TopicKind, string][]) {
      if (rest === suffix) return { kind, ...levelsToRef(levels[2], levels[3], topic) };
    }
  }
  throw new ProtocolError('msg.topic', 'one of the OTA topics (T1–T8, see docs/protocol.md)', topic);
}

function levelsToRef(productKey: string, deviceName: string, topic: string): DeviceRef {
  try {
    return checkDeviceRef({ productKey, deviceName });
  } catch (err) {
    const e = err as ProtocolError;
    throw new ProtocolError(`the ${e.field} level of msg.topic`, e.expected, topic);
  }
}

/** Parses a topic and insists on the kinds a node accepts, naming the node the message belongs to. */
export function parseTopicOf(topic: unknown, accepted: readonly TopicKind[]): ParsedTopic {
  const parsed = parseTopic(topic);
  if (!accepted.includes(parsed.kind)) {
    const wanted = accepted.map((k) => TOPIC_LABEL[k]).join(' or ');
    throw new ProtocolError('msg.topic', wanted, topic);
  }
  return parsed;
}

/** MQTT subscription filters for the device → platform topics, for `mqtt in` nodes and examples. */
export const SUBSCRIPTIONS = {
  inform: '/ota/device/inform/+/+',
  progress: '/ota/device/progress/+/+',
  firmwareGet: '/sys/+/+/thing/ota/firmware/get',
  fileDownload: '/sys/+/+/thing/file/download',
  request: '/ota/device/request/+/+',
} as const;
