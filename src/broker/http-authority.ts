/**
 * An authority that asks a fleet: `POST <url>/mqtt/authenticate` with `{clientid, username,
 * password}`, the EMQX 5 HTTP authentication shape, answered `{"result": "allow" | "deny"}`.
 * The fleet holds the secrets; this process never sees one.
 */
import http from 'node:http';
import https from 'node:https';
import type { Authority, AuthorityVerdict } from './authority';

export interface HttpAuthorityOptions {
  /** The fleet under the Node-RED admin root: `http://127.0.0.1:1880/ota/fleets/<fleet id>`. */
  url: string;
  /** A Node-RED admin token with the `ota.broker` permission, when adminAuth is on. */
  token?: string;
  /** How long one answer may take before the login is answered "server unavailable" (default 5000 ms). */
  timeoutMs?: number;
}

export function httpAuthority(options: HttpAuthorityOptions): Authority {
  const base = new URL(options.url.replace(/\/+$/, '') + '/mqtt/authenticate');
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new Error(`httpAuthority: url must be an http(s) URL of a fleet, got "${options.url}"`);
  const timeoutMs = options.timeoutMs ?? 5000;
  const shown = base.origin + base.pathname;
  return {
    name: `the fleet at ${shown}`,
    async check(_claim, login) {
      const body = {
        clientid: login.clientId,
        username: login.username ?? '',
        password: Buffer.isBuffer(login.password) ? login.password.toString('utf8') : (login.password ?? ''),
      };
      let answer: { status: number; text: string };
      try {
        answer = await postJson(base, body, options.token, timeoutMs);
      } catch (err) {
        return { ok: false, refusal: 'unavailable', detail: `${shown}: ${(err as Error).message}` };
      }
      return verdictOf(answer, shown);
    },
  };
}

function verdictOf(answer: { status: number; text: string }, shown: string): AuthorityVerdict {
  if (answer.status === 401 || answer.status === 403) {
    return {
      ok: false,
      refusal: 'unavailable',
      detail: `${shown} answered HTTP ${answer.status}: give httpAuthority a token of a user with the ota.broker permission`,
    };
  }
  if (answer.status !== 200)
    return { ok: false, refusal: 'unavailable', detail: `${shown} answered HTTP ${answer.status}` };
  let result: unknown;
  try {
    result = (JSON.parse(answer.text) as { result?: unknown }).result;
  } catch {
    return { ok: false, refusal: 'unavailable', detail: `${shown} answered something that is not JSON` };
  }
  if (result === 'allow') return { ok: true };
  if (result === 'deny')
    return { ok: false, refusal: 'refused', detail: `unknown device or wrong signature, says ${shown}` };
  return {
    ok: false,
    refusal: 'unavailable',
    detail: `${shown} answered result ${JSON.stringify(result)}, not "allow" or "deny"`,
  };
}

function postJson(
  url: URL,
  body: unknown,
  token: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  const data = Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': data.length,
  };
  if (token) headers.Authorization = `Bearer ${token}`;
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}
