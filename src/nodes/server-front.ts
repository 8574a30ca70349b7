/**
 * Package downloads answered by Node-RED's HTTP server itself, before its express app: on a large
 * fleet a download is a request per device, and express (the app, the editor API's app mounted in
 * it, their request set-up and routers) was 7.5–11 % of Node-RED's CPU per upgraded device.
 *
 * Only where the answer is the same as the route in the app would give: Node-RED runs as its own
 * program (`red.js`, whose app holds nothing but Node-RED's), and no setting puts anything in front
 * of the node root (authentication, middleware, CORS, HTTPS only). Embedded in another application,
 * whose app may hold its own middleware, the downloads stay in the app. As socket.io does, the
 * server's one `request` listener is wrapped: a GET or HEAD of a download path is answered, every
 * other request goes on to the listener as before.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { FIRMWARE_ROUTE, refuseDownload } from '../fleet';
import type { RouteSettings } from './firmware-route';

/** What a download URL names: the fields of a package request. */
export interface DownloadTarget {
  fleet: string;
  firmware: string;
  file?: string;
  /** As express's query parser gives them: a string, an array when repeated, or undefined. */
  expires: unknown;
  signature: unknown;
}

export type ServeDownload = (target: DownloadTarget, req: IncomingMessage, res: ServerResponse) => void;

const fronted = new WeakSet<object>();

/** A root setting as a path with one leading and one trailing slash (`/` when unset), or false. */
export const rootPath = (r: string | false | undefined): string | false =>
  r === false ? false : `/${r ?? ''}/`.replace(/\/+/g, '/');

/** The path prefix of downloads on the server, or false when the server must not answer them. */
export function serverPrefix(s: RouteSettings, mainFile: string | undefined): string | false {
  const nodeRoot = rootPath(s.httpNodeRoot);
  if (nodeRoot === false || !mainFile || !/[\\/]node-red[\\/]red\.js$/.test(mainFile)) return false;
  const guards = [s.httpNodeAuth, s.httpAuth, s.httpNodeMiddleware, s.httpNodeCors, s.requireHttps];
  return guards.every((g) => !g) ? `${nodeRoot}${FIRMWARE_ROUTE}/` : false;
}

/**
 * The download a request URL names under `prefix`: `<fleet>/<firmware>` or
 * `<fleet>/<firmware>/<file>`, each segment percent-decoded; 'malformed' when a segment is not
 * valid percent-encoding (the app answers those 404 too); undefined for any other URL, which goes
 * on to the app unchanged.
 */
export function downloadTarget(url: string, prefix: string): DownloadTarget | 'malformed' | undefined {
  if (!url.startsWith(prefix)) return undefined;
  const q = url.indexOf('?');
  const segments = url.slice(prefix.length, q < 0 ? undefined : q).split('/');
  if (segments.length < 2 || segments.length > 3 || segments.some((s) => s === '')) return undefined;
  let decoded: string[];
  try {
    decoded = segments.map(decodeURIComponent);
  } catch {
    return 'malformed';
  }
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const param = (name: string) => {
    const all = query.getAll(name);
    return all.length === 0 ? undefined : all.length === 1 ? all[0] : all;
  };
  const [fleet, firmware, file] = decoded;
  return { fleet, firmware, file, expires: param('e'), signature: param('s') };
}

/**
 * Wraps the server's request listener once, when it has exactly one (red.js's, or what socket.io
 * left in its place). Answers whether downloads are answered there.
 */
export function frontServer(server: Server | undefined, prefix: string, serve: ServeDownload): boolean {
  if (!server || typeof server.listeners !== 'function') return false;
  if (fronted.has(server)) return true;
  const listeners = server.listeners('request');
  if (listeners.length !== 1) return false;
  const next = listeners[0] as (req: IncomingMessage, res: ServerResponse) => void;
  server.removeListener('request', next);
  server.on('request', function (this: Server, req: IncomingMessage, res: ServerResponse) {
    const target = (req.method === 'GET' || req.method === 'HEAD') && downloadTarget(req.url ?? '', prefix);
    if (!target) return next.call(this, req, res);
    if (target === 'malformed') return refuseDownload(res, 404, 'no such firmware');
    serve(target, req, res);
  });
  fronted.add(server);
  return true;
}
