import { ProtocolError } from './errors';

/** JSON messages larger than this are refused before they are parsed. */
export const MAX_JSON_BYTES = 64 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type JsonObject = Record<string, unknown>;

/**
 * Turns an MQTT payload into a JSON object. Accepts what core `mqtt in` hands over (a Buffer, a
 * string, or an object already parsed by "a parsed JSON object" output). Refuses payloads over
 * 64 KiB, invalid UTF-8, non-JSON and non-objects. Tolerates trailing commas (Link SDK 4's T6).
 */
export function decodeJsonObject(payload: unknown, field = 'msg.payload'): JsonObject {
  let text: string;
  // Bytes first: what `mqtt in` sends most, and a Buffer is no plain object.
  if (payload instanceof Uint8Array) {
    if (payload.length > MAX_JSON_BYTES) {
      throw new ProtocolError(field, `at most ${MAX_JSON_BYTES} bytes of JSON`, payload);
    }
    try {
      text = utf8.decode(payload);
    } catch {
      throw new ProtocolError(field, 'UTF-8 encoded JSON', payload);
    }
  } else if (typeof payload === 'string') {
    // Counted in UTF-8 bytes, as on the wire: non-ASCII text takes 2 to 4 bytes a character.
    if (Buffer.byteLength(payload, 'utf8') > MAX_JSON_BYTES) {
      throw new ProtocolError(field, `at most ${MAX_JSON_BYTES} bytes of JSON`, payload);
    }
    text = payload;
  } else if (isPlainObject(payload)) {
    return payload;
  } else {
    throw new ProtocolError(field, 'a JSON object (as a string, a Buffer or a parsed object)', payload);
  }
  const value = parseLenientJson(text, field);
  if (!isPlainObject(value)) throw new ProtocolError(field, 'a JSON object', value);
  return value;
}

function parseLenientJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Link SDK 4 sends `"fileId":1,}`: retry once without trailing commas, outside strings only.
    const repaired = stripTrailingCommas(text);
    if (repaired !== text) {
      try {
        return JSON.parse(repaired);
      } catch {
        /* fall through to the error below */
      }
    }
    throw new ProtocolError(field, 'valid JSON', text);
  }
}

/** Removes commas that directly precede `}` or `]` (ignoring whitespace), leaving strings intact. */
export function stripTrailingCommas(text: string): string {
  let out = '';
  let inString = false;
  let pendingComma = -1; // index in `out` of a comma that may be trailing
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[++i] ?? '';
      } else if (c === '"') {
        inString = false;
      }
      continue;
    }
    if (c === '"') {
      inString = true;
      pendingComma = -1;
      out += c;
    } else if (c === ',') {
      pendingComma = out.length;
      out += c;
    } else if ((c === '}' || c === ']') && pendingComma >= 0) {
      out = out.slice(0, pendingComma) + out.slice(pendingComma + 1) + c;
      pendingComma = -1;
    } else {
      if (!/\s/.test(c)) pendingComma = -1;
      out += c;
    }
  }
  return out;
}

/**
 * A plain `{…}` object — from this realm or another: objects a function node builds live in its
 * sandbox, whose Object.prototype is not ours.
 */
export function isPlainObject(value: unknown): value is JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  if (Object.prototype.toString.call(value) !== '[object Object]') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}
