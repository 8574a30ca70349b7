/**
 * What one logged-in device may do on the broker: publish only its own OTA reports and requests,
 * and subscribe only to filters that can match nothing but its own topics, so no device can read
 * another's notices (with their signed URLs) or speak for it.
 *
 * Subscriptions also allow what the SDKs subscribe to for themselves, because some treat a refused
 * SUBACK as an error. iotkit-embedded 3.x subscribes at connect to its own `/sys/${pk}/${dn}/…`
 * topics (`thing/service/+`, `thing/event/+/post_reply`, `rrpc/request/+`, `thing/config/push`, …),
 * `/ext/ntp/${pk}/${dn}/response`, `/ext/error/${pk}/${dn}`, `/ext/session/${pk}/${dn}/…` (gateways)
 * and `/shadow/get/${pk}/${dn}`; the Python linkkit also `/ext/rrpc/+/sys/${pk}/${dn}/…`. Link SDK C
 * 4.x subscribes to nothing by itself (its `+/+` filters only route messages inside the device).
 *
 * Publishing likewise allows the SDKs' own `/sys/${pk}/${dn}/…` topics (iotkit-embedded 3.x
 * publishes `thing/deviceinfo/update` at every connect, and data-model devices their properties
 * and events there): a broker cannot refuse one PUBLISH in MQTT 3.1.1, only cut the client off,
 * which would cut these devices off at every connect. Those topics speak only for the device
 * itself, and the platform hears only its OTA topics. The platform's answers (T5, T7) stay refused.
 */
import { buildTopic, checkDeviceRef, DeviceRef, TopicKind } from '../protocol';

/** T1, T3, T4, T6 and T8: what a device reports and asks. */
const PUBLISHED: readonly TopicKind[] = ['inform', 'progress', 'firmwareGet', 'fileDownload', 'request'];

/** T2, T5, T7 and T8 (iotkit 3.x receives its own request and the answer on it). */
const RECEIVED: readonly TopicKind[] = ['upgrade', 'firmwareGetReply', 'fileDownloadReply', 'request'];

function ownTopics(device: DeviceRef, kinds: readonly TopicKind[]): string[] | undefined {
  try {
    const ref = checkDeviceRef(device);
    return kinds.map((kind) => buildTopic(kind, ref));
  } catch {
    return undefined;
  }
}

/** May this device publish to `topic`? Its own T1, T3, T4, T6 and T8, and its own /sys topics but T5 and T7. */
export function mayPublish(device: DeviceRef, topic: string): boolean {
  const own = ownTopics(device, PUBLISHED);
  if (!own || typeof topic !== 'string') return false;
  if (own.includes(topic)) return true;
  if (topic.includes('+') || topic.includes('#') || ownTopics(device, RECEIVED)?.includes(topic)) return false;
  const levels = topic.split('/');
  return (
    levels.length >= 5 &&
    levels[0] === '' &&
    levels[1] === 'sys' &&
    levels[2] === device.productKey &&
    levels[3] === device.deviceName &&
    levels.every((l, i) => i === 0 || l !== '')
  );
}

/**
 * May this device subscribe to `filter`? Its own T2, T5, T7 and T8, and any valid filter that can
 * match only its own topics: `/sys/${pk}/${dn}/…` and `/ext/<name>/${pk}/${dn}[/…]` (wildcards
 * allowed after the device's levels), `/ext/rrpc/<id or +>/sys/${pk}/${dn}/…`, `/shadow/get/${pk}/${dn}`.
 * A wildcard where a product key or device name stands (`/ota/device/upgrade/+/+`, `#`) is refused.
 */
export function maySubscribe(device: DeviceRef, filter: string): boolean {
  const own = ownTopics(device, RECEIVED);
  if (!own || typeof filter !== 'string' || !isValidFilter(filter)) return false;
  if (own.includes(filter)) return true;
  const { productKey: pk, deviceName: dn } = device;
  const levels = filter.split('/');
  if (levels[0] !== '') return false;
  const isOwnAt = (at: number) => levels[at] === pk && levels[at + 1] === dn;
  switch (levels[1]) {
    case 'sys':
      return levels.length >= 5 && isOwnAt(2);
    case 'shadow':
      return levels.length === 5 && levels[2] === 'get' && isOwnAt(3);
    case 'ext':
      // `/ext/rrpc/<message id>/<a wrapped topic>`: its third level is not a product key, so
      // `/ext/rrpc/${pk}/${dn}` could match another device's RRPC; only wrapped own /sys topics pass.
      if (levels[2] === 'rrpc') return levels.length >= 8 && levels[3] !== '#' && levels[4] === 'sys' && isOwnAt(5);
      return levels.length >= 5 && !isWildcard(levels[2]) && isOwnAt(3);
    default:
      return false;
  }
}

function isWildcard(level: string): boolean {
  return level === '+' || level === '#';
}

/** An MQTT filter: `+` and `#` only as whole levels, `#` only last, no NUL. */
function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level === '#') return i === levels.length - 1;
    return level === '+' || !/[+#]/.test(level);
  });
}
