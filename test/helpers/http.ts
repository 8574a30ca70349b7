/** Small real-HTTP helpers for tests that talk to a running Node-RED. */
import { request } from 'node:http';

export { getJson } from '../../src/demo/node-red';
// Its home is net.ts; many tests take it from here with the HTTP helpers.
export { freePort } from './net';

export function postJson<T>(url: string, body: unknown): Promise<T> {
  return new Promise((ok, fail) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request(
      url,
      { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': data.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 500) >= 400) fail(new Error(`POST ${url}: ${res.statusCode} ${text}`));
          else ok(JSON.parse(text) as T);
        });
      },
    );
    req.on('error', fail);
    req.end(data);
  });
}

/** Polls `probe` until it returns something other than undefined. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
