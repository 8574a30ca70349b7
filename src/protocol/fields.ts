import { ProtocolError, required } from './errors';
import { isPlainObject, JsonObject } from './json';

export const DEFAULT_MODULE = 'default';
const MAX_LABEL = 64;
// Printable: no C0/C1 control characters and no DEL.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The message id: SDKs send a number or a string; it is optional. */
export function readId(body: JsonObject, field = 'id'): string | number | undefined {
  const id = body.id;
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  if (typeof id === 'string' && id.length <= MAX_LABEL) return id;
  throw new ProtocolError(field, 'a number or a string of up to 64 characters', id);
}

export function readObject(body: JsonObject, key: string, field: string): JsonObject {
  const value = body[key];
  if (value === undefined) required(field, 'an object');
  if (!isPlainObject(value)) throw new ProtocolError(field, 'an object', value);
  return value;
}

export function readOptionalObject(body: JsonObject, key: string, field: string): JsonObject | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw new ProtocolError(field, 'an object', value);
  return value;
}

/** A non-empty printable label of up to 64 characters (versions, module names). */
export function checkLabel(field: string, value: unknown): string {
  if (value === undefined || value === null) required(field, 'a non-empty string of up to 64 printable characters');
  if (typeof value !== 'string') throw new ProtocolError(field, 'a string', value);
  if (value.length === 0) throw new ProtocolError(field, 'a non-empty string', value);
  if (value.length > MAX_LABEL) throw new ProtocolError(field, `at most ${MAX_LABEL} characters`, value);
  if (CONTROL.test(value) || !value.isWellFormed()) {
    throw new ProtocolError(field, 'printable text (no control characters)', value);
  }
  // Link SDK 4 reads string values up to the next quote and does not unescape.
  if (/["\\]/.test(value)) throw new ProtocolError(field, 'text without " or \\ (device SDKs cannot read them)', value);
  return value;
}

/** The module: absent, null, empty or "default" all mean the whole-device module `default`. */
export function checkModule(field: string, value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_MODULE;
  return checkLabel(field, value);
}

/** An integer that may arrive as a number or a decimal string ("23", "-1"). */
export function checkInteger(field: string, value: unknown, min: number, max: number): number {
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim())) {
    n = Number(value.trim());
  } else if (value === undefined || value === null) {
    required(field, `an integer from ${min} to ${max}`);
  } else {
    throw new ProtocolError(field, `an integer from ${min} to ${max}`, value);
  }
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ProtocolError(field, `an integer from ${min} to ${max}`, value);
  }
  return n;
}

export function checkOptionalText(field: string, value: unknown, max = 4096): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ProtocolError(field, 'a string', value);
  if (value.length > max) throw new ProtocolError(field, `at most ${max} characters`, value);
  if (!value.isWellFormed()) throw new ProtocolError(field, 'valid Unicode text', value);
  return value;
}
