/**
 * The device registry's input: the secrets devices log in with, as a JSON array of
 * `{productKey, deviceName, deviceSecret}` or as CSV text with those three columns (what Alibaba's
 * batch registration hands out: a `ProductKey,DeviceName,DeviceSecret` header in any case, or none,
 * with further columns such as `IotId` ignored). Pure. A refusal names the row and the rule, and
 * never quotes a cell: a misplaced column could put a secret in any of them.
 */
import { checkTopicLevel, isPlainObject, ProtocolError } from '../protocol';
import { refused } from './errors';

export interface DeviceCredential {
  productKey: string;
  deviceName: string;
  deviceSecret: string;
}

/** A registered device as the registry lists it: never its secret. */
export interface CredentialRecord {
  productKey: string;
  deviceName: string;
  createdAt: number;
}

/** What the broker's login check answers for an unknown device and for a wrong password alike. */
export const BAD_LOGIN = 'unknown device or bad password';

export const MAX_SECRET_LENGTH = 128;
/** Devices one request may register (the store writes them in one transaction). */
export const MAX_CREDENTIALS_PER_REQUEST = 100_000;

const COLUMNS = ['productKey', 'deviceName', 'deviceSecret'] as const;
type Column = (typeof COLUMNS)[number];

/** Printable ASCII without spaces: what a secret typed, pasted or exported survives unchanged. */
const SECRET = /^[\x21-\x7e]+$/;

/** The devices a registration request lists, every row checked before any is used. */
export function parseCredentials(body: unknown): DeviceCredential[] {
  const rows = Array.isArray(body)
    ? jsonRows(body)
    : typeof body === 'string' || Buffer.isBuffer(body)
      ? csvRows(body.toString('utf8'))
      : undefined;
  if (!rows)
    throw refused(
      'send the devices as a JSON array of {productKey, deviceName, deviceSecret}, or as CSV text (Content-Type: text/csv) with those three columns',
    );
  if (rows.length === 0) throw refused('the request lists no devices');
  if (rows.length > MAX_CREDENTIALS_PER_REQUEST)
    throw refused(`the request lists ${rows.length} devices; send at most ${MAX_CREDENTIALS_PER_REQUEST} at a time`);
  const seen = new Map<string, string>();
  return rows.map(({ row, cells }) => {
    const credential = checkCredential(row, cells);
    const key = `${credential.productKey}/${credential.deviceName}`;
    const first = seen.get(key);
    if (first !== undefined) throw refused(`${row}: ${key} is also on ${first}; list each device once`);
    seen.set(key, row);
    return credential;
  });
}

/**
 * The device an Alibaba login's user name (`deviceName&productKey`) names, or undefined: what a
 * broker's ACL check gets for a client it already authenticated (no password, no signature).
 * The last `&` separates the two: product keys are letters and digits.
 */
export function deviceOfUsername(username: string): { productKey: string; deviceName: string } | undefined {
  const amp = username.lastIndexOf('&');
  if (amp < 0) return undefined;
  try {
    return {
      productKey: checkTopicLevel('productKey', username.slice(amp + 1)),
      deviceName: checkTopicLevel('deviceName', username.slice(0, amp)),
    };
  } catch {
    return undefined;
  }
}

interface Row {
  /** How a refusal names it: "row 3". */
  row: string;
  cells: Partial<Record<Column, unknown>>;
}

function checkCredential(row: string, cells: Row['cells']): DeviceCredential {
  return {
    productKey: level(row, 'productKey', cells.productKey),
    deviceName: level(row, 'deviceName', cells.deviceName),
    deviceSecret: secret(row, cells.deviceSecret),
  };
}

function level(row: string, field: Column, value: unknown): string {
  try {
    return checkTopicLevel(field, value);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    throw refused(`${row}: ${field} ${err.absent || value === '' ? 'is missing' : `must be ${err.expected}`}`);
  }
}

function secret(row: string, value: unknown): string {
  if (value === undefined || value === null || value === '') throw refused(`${row}: deviceSecret is missing`);
  if (typeof value !== 'string' || value.length > MAX_SECRET_LENGTH || !SECRET.test(value)) {
    throw refused(`${row}: deviceSecret must be 1 to ${MAX_SECRET_LENGTH} printable ASCII characters without spaces`);
  }
  return value;
}

function jsonRows(list: unknown[]): Row[] {
  return list.map((entry, i) => {
    const row = `row ${i + 1}`;
    if (!isPlainObject(entry)) throw refused(`${row}: must be an object {productKey, deviceName, deviceSecret}`);
    return {
      row,
      cells: { productKey: entry.productKey, deviceName: entry.deviceName, deviceSecret: entry.deviceSecret },
    };
  });
}

/** "ProductKey", "product_key", "Product Key" → "productkey". */
const headerName = (cell: string) => cell.toLowerCase().replace(/[\s_-]/g, '');

function csvRows(text: string): Row[] {
  const records = parseCsv(text.startsWith('\uFEFF') ? text.slice(1) : text).filter(
    (r) => !(r.cells.length === 1 && r.cells[0] === ''),
  );
  if (records.length === 0) return [];
  const names = records[0].cells.map(headerName);
  const named = COLUMNS.filter((c) => names.includes(c.toLowerCase()));
  let index: Record<Column, number> = { productKey: 0, deviceName: 1, deviceSecret: 2 };
  let data = records;
  if (named.length > 0) {
    const missing = COLUMNS.filter((c) => !named.includes(c));
    if (missing.length > 0) throw refused(`row ${records[0].line}: the header has no ${missing.join(' or ')} column`);
    index = {
      productKey: names.indexOf('productkey'),
      deviceName: names.indexOf('devicename'),
      deviceSecret: names.indexOf('devicesecret'),
    };
    data = records.slice(1);
  }
  return data.map(({ line, cells }) => {
    const row = `row ${line}`;
    if (named.length === 0 && cells.length !== 3)
      throw refused(
        `${row}: has ${cells.length} columns; without a header row each row is productKey,deviceName,deviceSecret`,
      );
    return {
      row,
      cells: {
        productKey: cells[index.productKey],
        deviceName: cells[index.deviceName],
        deviceSecret: cells[index.deviceSecret],
      },
    };
  });
}

/**
 * RFC 4180 records: commas, fields in double quotes (with "" for a quote, and line breaks inside),
 * CRLF or LF. Each record carries the line it starts on, as a spreadsheet numbers its rows.
 */
function parseCsv(text: string): { line: number; cells: string[] }[] {
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let line = 1;
  let start = 1;
  let i = 0;
  /** A quoted field was read: the record exists even if the field was "". */
  let pending = false;
  const endCell = () => {
    cells.push(cell);
    cell = '';
    pending = false;
  };
  const endRecord = () => {
    endCell();
    records.push({ line: start, cells });
    cells = [];
    start = line;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && cell === '' && !pending) {
      const opened = line;
      i++;
      for (;;) {
        if (i >= text.length) throw refused(`row ${start}: the quoted field opened on line ${opened} is never closed`);
        if (text[i] === '"') {
          if (text[i + 1] !== '"') break;
          cell += '"';
          i += 2;
          continue;
        }
        if (text[i] === '\n') line++;
        cell += text[i++];
      }
      i++;
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r')
        throw refused(`row ${start}: a quoted field must end at a comma or the end of the line`);
      pending = true;
      continue;
    }
    if (c === ',') {
      endCell();
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      line++;
      endRecord();
    } else if (c === '"') {
      throw refused(`row ${start}: a quote inside an unquoted field; quote the whole field and double the quote ("")`);
    } else {
      cell += c;
    }
    i++;
  }
  if (cell !== '' || pending || cells.length > 0) endRecord();
  return records;
}
