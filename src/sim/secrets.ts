/**
 * Device secrets for signed logins: read from the text of a `--secrets` file, either the CSV that
 * Alibaba's console exports (`ProductKey,DeviceName,DeviceSecret`, header optional, more columns
 * allowed when there is a header) or a JSON array of `{productKey, deviceName, deviceSecret}`.
 * Pure. Errors name the line or item and what is wrong, and never show a secret.
 */
import { checkTopicLevel } from '../protocol';

/** Secrets keyed `${productKey}/${deviceName}`. */
export type DeviceSecrets = Map<string, string>;

/** The key of a device in a DeviceSecrets map. */
export function secretKey(productKey: string, deviceName: string): string {
  return `${productKey}/${deviceName}`;
}

/** Why a secrets file was refused; the message never contains a secret. */
export class SecretsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsError';
  }
}

const COLUMNS = ['productkey', 'devicename', 'devicesecret'] as const;

/** Reads CSV or JSON (by its first character) into a map; `source` names the file in errors. */
export function readSecrets(text: string, source: string): DeviceSecrets {
  const body = text.replace(/^\uFEFF/, '');
  return body.trimStart().startsWith('[') ? readJson(body, source) : readCsv(body, source);
}

function readJson(text: string, source: string): DeviceSecrets {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    throw new SecretsError(`${source} is not valid JSON (expected an array of {productKey, deviceName, deviceSecret})`);
  }
  if (!Array.isArray(items))
    throw new SecretsError(`${source} must hold a JSON array of {productKey, deviceName, deviceSecret}`);
  const secrets: DeviceSecrets = new Map();
  items.forEach((item: unknown, i) => {
    const at = `${source} item ${i + 1}`;
    if (typeof item !== 'object' || item === null)
      throw new SecretsError(`${at} must be an object {productKey, deviceName, deviceSecret}`);
    const { productKey, deviceName, deviceSecret } = item as Record<string, unknown>;
    add(secrets, at, productKey, deviceName, deviceSecret);
  });
  return finished(secrets, source);
}

function readCsv(text: string, source: string): DeviceSecrets {
  const secrets: DeviceSecrets = new Map();
  const lines = text.split(/\r?\n/);
  let columns: number[] = [0, 1, 2];
  const first = lines.findIndex((line) => line.trim() !== '');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const cells = line.split(',').map(unquote);
    if (i === first && cells.some((cell) => cell.toLowerCase() === 'devicesecret')) {
      columns = COLUMNS.map((name) => cells.findIndex((cell) => cell.toLowerCase() === name));
      if (columns.includes(-1))
        throw new SecretsError(
          `${source} line ${i + 1}: a header must name the columns ProductKey, DeviceName and DeviceSecret`,
        );
      return;
    }
    const at = `${source} line ${i + 1}`;
    if (cells.length <= Math.max(...columns)) {
      throw new SecretsError(
        `${at} has ${cells.length} column${cells.length === 1 ? '' : 's'}; expected productKey,deviceName,deviceSecret`,
      );
    }
    add(secrets, at, cells[columns[0]], cells[columns[1]], cells[columns[2]]);
  });
  return finished(secrets, source);
}

function unquote(cell: string): string {
  const trimmed = cell.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
    ? trimmed.slice(1, -1).replaceAll('""', '"')
    : trimmed;
}

function add(
  secrets: DeviceSecrets,
  at: string,
  productKey: unknown,
  deviceName: unknown,
  deviceSecret: unknown,
): void {
  let key: string;
  try {
    key = secretKey(checkTopicLevel('productKey', productKey), checkTopicLevel('deviceName', deviceName));
  } catch (err) {
    throw new SecretsError(`${at}: ${(err as Error).message}`);
  }
  if (typeof deviceSecret !== 'string' || deviceSecret.length === 0)
    throw new SecretsError(`${at}: the device secret of ${key} is missing or empty`);
  if (secrets.has(key)) throw new SecretsError(`${at}: ${key} appears a second time`);
  secrets.set(key, deviceSecret);
}

function finished(secrets: DeviceSecrets, source: string): DeviceSecrets {
  if (secrets.size === 0) throw new SecretsError(`${source} holds no device secrets`);
  return secrets;
}
