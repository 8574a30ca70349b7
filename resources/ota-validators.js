/*
 * The edit dialogs' checks, shared by the node editors of node-red-contrib-mqtt-ota. Node-RED
 * serves this file at resources/@mqtt-ota/node-red-contrib-mqtt-ota/ota-validators.js and loads it before a
 * node's inline scripts when the node's .html names it in <script src>. Each check mirrors the
 * runtime's own (src/protocol), so a dialog refuses what a deploy would refuse.
 *
 * The checks are predicates; each editor pairs them with its own catalog's message.
 */
(function () {
  'use strict';

  const MAX_LEVEL = 64;
  // Ed25519 public key as SPKI DER: a fixed 12-byte header, then the 32-byte key.
  const ED25519_SPKI = /^MCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=$/;

  /** No C0/C1 control characters, as the runtime's label check. */
  function isPrintable(v) {
    return Array.from(String(v)).every(function (c) {
      const code = c.codePointAt(0);
      return code >= 0x20 && (code < 0x7f || code > 0x9f);
    });
  }

  /** One MQTT topic level (a product key or device name): 1 to 64 characters, no /, +, # or NUL. */
  function isTopicLevel(v) {
    const text = String(v);
    return text.length > 0 && text.length <= MAX_LEVEL && !/[/+#]/.test(text) && !text.includes('\0');
  }

  /** A version or module name: 1 to 64 printable characters. */
  function isLabel(v) {
    const text = String(v);
    return text.length > 0 && text.length <= MAX_LEVEL && isPrintable(text);
  }

  /** A whole number from min to max, typed as digits. */
  function isWholeNumberIn(value, min, max) {
    const text = String(value).trim();
    if (!/^\d+$/.test(text)) return false;
    const n = Number(text);
    return n >= min && n <= max;
  }

  /** A number greater than 0. */
  function isPositiveNumber(value) {
    const n = Number(value);
    return String(value).trim() !== '' && Number.isFinite(n) && n > 0;
  }

  /** An http:// or https:// URL with a host, and no query or fragment. */
  function isHttpUrl(v) {
    return /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/i.test(String(v));
  }

  /** An Ed25519 public key, base64 SPKI DER. */
  function isEd25519PublicKey(v) {
    return ED25519_SPKI.test(String(v));
  }

  /** JSON text of an object whose values are all strings (a firmware's extData). */
  function isStringMapJson(v) {
    try {
      const tags = JSON.parse(String(v));
      const isObject = tags !== null && typeof tags === 'object' && !Array.isArray(tags);
      return (
        isObject &&
        Object.values(tags).every(function (x) {
          return typeof x === 'string';
        })
      );
    } catch {
      return false;
    }
  }

  /** At most `max` device names separated by commas, each one topic level. */
  function isDeviceNameList(v, max) {
    const names = String(v)
      .split(',')
      .map(function (s) {
        return s.trim();
      });
    return names.length <= max && names.every(isTopicLevel);
  }

  // One global namespace for the package's editor code; other scripts of the package may add to it.
  const ns = (window.MqttOta = window.MqttOta || {});
  ns.validators = Object.freeze({
    isPrintable: isPrintable,
    isTopicLevel: isTopicLevel,
    isLabel: isLabel,
    isWholeNumberIn: isWholeNumberIn,
    isPositiveNumber: isPositiveNumber,
    isHttpUrl: isHttpUrl,
    isEd25519PublicKey: isEd25519PublicKey,
    isStringMapJson: isStringMapJson,
    isDeviceNameList: isDeviceNameList,
  });
})();
