/**
 * The admin API's page cursors (`after`, and the `X-Next-After` header that gives the next one).
 * A task's cursor is its id; a device's is its key (product key, device name, module) as
 * base64url JSON, opaque to clients: they pass back what they were given.
 */
import type { DeviceKey, DeviceModule, Task } from '../fleet';
import { ProtocolError } from '../protocol';

/** The header a full page carries: the `after` that asks for the next one. A shorter page is the last. */
export const NEXT_HEADER = 'X-Next-After';

export function taskCursor(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n))
    throw new ProtocolError('after', 'a task id (the X-Next-After of the previous page)', value);
  return n;
}

export function deviceCursor(value: unknown): DeviceKey | undefined {
  if (value === undefined || value === '') return undefined;
  const key = typeof value === 'string' ? decodeKey(value) : undefined;
  if (!key) throw new ProtocolError('after', 'a device cursor (the X-Next-After of the previous page)', value);
  return key;
}

function decodeKey(text: string): DeviceKey | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed.some((p) => typeof p !== 'string')) return undefined;
  const [productKey, deviceName, module] = parsed as string[];
  return { productKey, deviceName, module };
}

export function encodeDeviceCursor(d: DeviceKey): string {
  return Buffer.from(JSON.stringify([d.productKey, d.deviceName, d.module]), 'utf8').toString('base64url');
}

/** The next page's cursor, when this page is full (a next page may exist). */
export function nextTaskCursor(page: Task[], limit: number): string | undefined {
  return page.length === limit && page.length > 0 ? String(page[page.length - 1].id) : undefined;
}

export function nextDeviceCursor(page: DeviceModule[], limit: number): string | undefined {
  return page.length === limit && page.length > 0 ? encodeDeviceCursor(page[page.length - 1]) : undefined;
}
