/**
 * Mounts the package download routes on the HTTP node root: GET/HEAD /ota/firmware/:fleet/:firmware,
 * and /ota/firmware/:fleet/:firmware/:file for each file of a multi-file firmware.
 */
import type { NodeAPI } from 'node-red';
import type { NextFunction, Request, Response } from 'express';
import { FIRMWARE_ROUTE, servePackage } from '../fleet';
import { fleetById } from './registry';

const mounted = new WeakSet<object>();

export function mountFirmwareRoute(RED: NodeAPI): void {
  const app = RED.httpNode as unknown as
    | {
        get?: (path: string, handler: (req: Request, res: Response) => void) => void;
        use: (path: string, handler: (err: unknown, req: Request, res: Response, next: NextFunction) => void) => void;
      }
    | undefined;
  if (!app?.get || mounted.has(app)) return;
  mounted.add(app);
  const serve = (req: Request, res: Response) => {
    const fleet = String(req.params.fleet);
    const handle = fleetById(fleet);
    const served = handle && {
      secret: handle.secret,
      files: handle.files,
      firmware: (id: string) => {
        try {
          return handle.fleet.firmware(id);
        } catch {
          return undefined;
        }
      },
    };
    const file = req.params.file === undefined ? undefined : String(req.params.file);
    const request = {
      fleet,
      firmware: String(req.params.firmware),
      file,
      expires: req.query.e,
      signature: req.query.s,
    };
    void servePackage(served, request, req, res, handle ? handle.fleet.clock.now() : Date.now());
  };
  app.get(`/${FIRMWARE_ROUTE}/:fleet/:firmware`, serve);
  app.get(`/${FIRMWARE_ROUTE}/:fleet/:firmware/:file`, serve);
  // Express refuses a path that is not valid percent-encoding (`%c0%ae`, an overlong "..")
  // before the route runs, and its default answer is an HTML page with a stack trace.
  app.use(`/${FIRMWARE_ROUTE}`, (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    res.status(404).json({ error: 'no such firmware' });
  });
}
