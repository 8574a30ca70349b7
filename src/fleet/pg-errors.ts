/**
 * What a failure of the PostgreSQL store says: always FleetError('OTA_STORE'), naming the server
 * (host:port and database, never the password or the connection string) and what to check.
 */
import { FleetError } from './errors';

/** Where the store connects, as its messages name it. */
export interface PgPlace {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** A store error that remembers PostgreSQL's SQLSTATE (the transaction retries on some). */
export class PgStoreError extends FleetError {
  constructor(
    message: string,
    readonly sqlState: string | undefined,
  ) {
    super('OTA_STORE', message);
  }
}

/** SQLSTATEs after which a transaction runs again: a serialization failure, a deadlock. */
export const RETRYABLE = new Set(['40001', '40P01']);

export const isRetryable = (err: unknown): boolean =>
  err instanceof PgStoreError && err.sqlState !== undefined && RETRYABLE.has(err.sqlState);

export const placeName = (p: PgPlace): string => `${p.host}:${p.port}/${p.database}`;

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND']);

/** The error's text with every secret blanked (defence in depth: pg's own texts carry none). */
function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

/** Turns anything pg threw into the store's error; `doing` says what the store was doing. */
export function storeError(err: unknown, place: PgPlace, doing: string, secrets: string[]): FleetError {
  if (err instanceof FleetError) return err;
  const e = err as { code?: string; message?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const said = scrub(String(e?.message ?? err), secrets);
  const at = `PostgreSQL at ${place.host}:${place.port} (database "${place.database}")`;
  let message: string;
  if (code === '28P01' || code === '28000') {
    message = `${at} refused the login of user "${place.user}" while ${doing}: check the user name and password of the connection string (${said})`;
  } else if (code === '3D000') {
    message = `${at}: the database does not exist; create it, or check the database name of the connection string`;
  } else if (code === '53300') {
    message = `${at} has no connection left while ${doing}: lower the store's pool size or raise max_connections (${said})`;
  } else if (code === '57014') {
    message = `${at} cancelled a statement while ${doing}: it ran longer than the store's statementTimeoutMs, or an operator cancelled it (${said})`;
  } else if ((code !== undefined && CONNECTION_CODES.has(code)) || code?.startsWith('08') || code?.startsWith('57P')) {
    message = `cannot reach ${at} while ${doing}: check that the server runs and accepts connections there (${said})`;
  } else if (/timeout|timed out/i.test(said)) {
    message = `${at} did not answer in time while ${doing}: check that the server runs and is not overloaded (${said})`;
  } else if (/Connection terminated|connection.*(closed|ended)|not queryable/i.test(said)) {
    message = `lost the connection to ${at} while ${doing}: check that the server runs; the store reconnects by itself (${said})`;
  } else if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    message = `a statement failed on ${at} while ${doing}: ${said} (SQLSTATE ${code})`;
  } else {
    message = `${at} failed while ${doing}: ${said}`;
  }
  return new PgStoreError(message, code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined);
}
