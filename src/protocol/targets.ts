/** Device lists given in messages: `msg.devices` as names (with one product key) or as refs. */
import { ProtocolError } from './errors';
import { checkDeviceRef, checkTopicLevel, DeviceRef } from './topics';

export const MAX_DIRECT_DEVICES = 100_000;

/**
 * Reads one device (`productKey` + `deviceName`) or a list (`devices`: names, or
 * `{productKey, deviceName}` objects). Every entry is checked before any is used, so a bad
 * entry refuses the whole message. Duplicates are dropped.
 */
export function readDeviceList(
  source: { productKey?: unknown; deviceName?: unknown; devices?: unknown },
  prefix = 'msg.',
): DeviceRef[] {
  const list = source.devices;
  if (list === undefined || list === null) {
    if (source.deviceName === undefined) {
      throw new ProtocolError(`${prefix}deviceName`, `set, or a list in ${prefix}devices`, undefined, true);
    }
    return [checkDeviceRef(source, prefix)];
  }
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_DIRECT_DEVICES) {
    throw new ProtocolError(
      `${prefix}devices`,
      `an array of 1 to ${MAX_DIRECT_DEVICES} device names or {productKey, deviceName} objects`,
      list,
    );
  }
  const seen = new Set<string>();
  const out: DeviceRef[] = [];
  list.forEach((entry, i) => {
    const at = `${prefix}devices[${i}]`;
    let ref: DeviceRef;
    if (typeof entry === 'string') {
      ref = {
        productKey: checkTopicLevel(`${prefix}productKey (for ${at})`, source.productKey),
        deviceName: checkTopicLevel(at, entry),
      };
    } else if (entry !== null && typeof entry === 'object') {
      const e = entry as { productKey?: unknown; deviceName?: unknown };
      ref = checkDeviceRef({ productKey: e.productKey ?? source.productKey, deviceName: e.deviceName }, `${at}.`);
    } else {
      throw new ProtocolError(at, 'a device name or {productKey, deviceName}', entry);
    }
    const key = `${ref.productKey}/${ref.deviceName}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(ref);
    }
  });
  return out;
}
