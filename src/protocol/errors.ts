/**
 * Why a message was refused. Every refusal names the field, the rule and what actually came,
 * so the error a user sees in a Catch node or the debug sidebar says how to fix it.
 */
export class ProtocolError extends Error {
  readonly code = 'OTA_BAD_MESSAGE';

  constructor(
    readonly field: string,
    readonly expected: string,
    readonly got: unknown,
    readonly absent = false,
  ) {
    super(absent ? `${field} is required: ${expected}` : `${field} must be ${expected}, got ${describe(got)}`);
    this.name = 'ProtocolError';
  }
}

/** A short, safe rendering of an offending value: type plus a clipped preview. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  switch (typeof value) {
    case 'string':
      return value.length === 0 ? 'an empty string' : JSON.stringify(clip(value));
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

function clip(text: string, max = 40): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

/** Throws the ProtocolError for a missing field. */
export function required(field: string, expected: string): never {
  throw new ProtocolError(field, expected, undefined, true);
}
