/**
 * Mounts the package download routes on the HTTP node root: GET/HEAD /ota/firmware/:fleet/:firmware,
 * and /ota/firmware/:fleet/:firmware/:file for each file of a multi-file firmware.
 *
 * Node-RED mounts its admin app (the editor, its static files, the admin API) before the node app.
 * When both share a root (the default: `/`), every download first passes the editor's middleware,
 * which stats a file in the editor's folder per request: about half of Node-RED's CPU per upgraded device.
 * Then, and only when no setting guards either root, the same routes are also matched first in
 * the admin app (see `frontOfAdmin`). The admin app a node is given (`RED.httpAdmin`) is the
 * runtime's, mounted at `/` inside the editor API's app behind the editor's middleware; the routes
 * go to the front of that outer app (see `adminFront`). When Node-RED runs as its own program and
 * nothing guards the node root, its HTTP server answers downloads before any app (server-front.ts).
 */
import type { NodeAPI } from 'node-red';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FIRMWARE_ROUTE, refuseDownload, servePackage } from '../fleet';
import { fleetById } from './registry';
import { DownloadTarget, frontServer, rootPath, serverPrefix } from './server-front';

const mounted = new WeakSet<object>();

type Handler = (req: Request, res: Response) => void;
type App = {
  get?: (path: string, handler: Handler) => void;
  use: (path: string, handler: (err: unknown, req: Request, res: Response, next: NextFunction) => void) => void;
  _router?: { stack?: { name?: string }[] };
  /** Set by express when the app is mounted in another. */
  parent?: App;
  mountpath?: string | string[];
};

/** The settings of Node-RED that put something in front of the node root or change its answers. */
export interface RouteSettings {
  httpAdminRoot?: string | false;
  httpNodeRoot?: string | false;
  httpAdminAuth?: unknown;
  httpNodeAuth?: unknown;
  httpAuth?: unknown;
  httpNodeMiddleware?: unknown;
  httpNodeCors?: unknown;
  httpAdminMiddleware?: unknown;
  httpAdminCors?: unknown;
  requireHttps?: unknown;
}

/**
 * Whether the download routes may be matched at the front of the admin app: it is mounted at the
 * node root too, and no setting guards either root (authentication, middleware, CORS, HTTPS only),
 * so a download answered there gets exactly the answer the node app would give.
 */
export function frontOfAdmin(s: RouteSettings): boolean {
  const admin = rootPath(s.httpAdminRoot);
  if (admin === false || admin !== rootPath(s.httpNodeRoot)) return false;
  const guards = [
    s.httpAdminAuth,
    s.httpNodeAuth,
    s.httpAuth,
    s.httpNodeMiddleware,
    s.httpNodeCors,
    s.httpAdminMiddleware,
    s.httpAdminCors,
    s.requireHttps,
  ];
  return guards.every((g) => !g);
}

/**
 * The app whose front a request at the admin root reaches first. Node-RED mounts the runtime's
 * admin app (what nodes get as `RED.httpAdmin`) at `/` inside the editor API's app, after the
 * editor's static files; that outer app is the one to front. One level only: above it is the
 * server's own app, which may hold an embedding application's middleware.
 */
export function adminFront(admin: App): App {
  const outer = admin.parent;
  return outer?._router?.stack && admin.mountpath === '/' ? outer : admin;
}

/** Express refuses a path that is not valid percent-encoding (`%c0%ae`, an overlong "..") before
 * the route runs, and its default answer is an HTML page with a stack trace. */
function malformed(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  refuseDownload(res, 404, 'no such firmware');
}

/**
 * Adds the GET routes and their error handler to an express app; `first`: moved to the front of
 * its stack (express 4's router). Without that stack the routes stay where express put them.
 * Answers whether they are at the front.
 */
function addRoutes(app: App, serve: Handler, first: boolean): boolean {
  if (!app.get) return false;
  const stack = app._router?.stack;
  const before = stack?.length ?? 0;
  app.get(`/${FIRMWARE_ROUTE}/:fleet/:firmware`, serve);
  app.get(`/${FIRMWARE_ROUTE}/:fleet/:firmware/:file`, serve);
  app.use(`/${FIRMWARE_ROUTE}`, malformed);
  if (!first || !stack || stack.length !== before + 3) return false;
  // After the app's own request setup (express 4: `query`, `expressInit`), before all else.
  let at = 0;
  while (at < before && ['query', 'expressInit'].includes(stack[at].name ?? '')) at++;
  stack.splice(at, 0, ...stack.splice(before, 3));
  return true;
}

/** Logged when the downloads share the editor's root but could not be put before its middleware. */
export const NOT_FRONTED =
  "ota-fleet: package downloads share the editor's root but could not be matched before the editor's own " +
  'middleware (an admin app this version does not know); each download passes it first, which costs about ' +
  "half of Node-RED's CPU per upgraded device. Give the editor a root of its own (httpAdminRoot: '/admin') " +
  'to avoid it.';

/** Logged once when Node-RED's HTTP server answers the downloads itself (server-front.ts). */
export const SERVER_FRONT =
  "ota-fleet: package downloads are answered by Node-RED's HTTP server before its express app";

/** A download, answered from the fleet it names (a 404 for an unknown or closed fleet). */
function serveDownload(target: DownloadTarget, req: IncomingMessage, res: ServerResponse): void {
  const handle = fleetById(target.fleet);
  const served = handle && {
    secret: handle.secret,
    files: handle.files,
    // An unknown id (or a closed fleet) is a 404.
    firmware: (id: string) => handle.ask((f) => f.firmware(id)).catch(() => undefined),
  };
  void servePackage(served, target, req, res, handle ? handle.fleet.clock.now() : Date.now());
}

export function mountFirmwareRoute(RED: NodeAPI): void {
  const app = RED.httpNode as unknown as App | undefined;
  if (!app?.get || mounted.has(app)) return;
  mounted.add(app);
  const serve = (req: Request, res: Response) => {
    const target = {
      fleet: String(req.params.fleet),
      firmware: String(req.params.firmware),
      file: req.params.file === undefined ? undefined : String(req.params.file),
      expires: req.query.e,
      signature: req.query.s,
    };
    serveDownload(target, req, res);
  };
  addRoutes(app, serve, false);
  const settings = RED.settings as unknown as RouteSettings;
  const prefix = serverPrefix(settings, require.main?.filename);
  if (prefix && frontServer(RED.server, prefix, serveDownload)) RED.log.info(SERVER_FRONT);
  // Also in the app, for what the server leaves to it (another letter case, a server it could not wrap).
  const admin = RED.httpAdmin as unknown as App | undefined;
  if (admin && admin !== app && frontOfAdmin(settings)) {
    if (!addRoutes(adminFront(admin), serve, true)) RED.log.warn(NOT_FRONTED);
  }
}
