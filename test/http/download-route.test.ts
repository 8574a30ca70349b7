/**
 * Where the download routes are matched: Node-RED mounts its admin app (the editor's static files,
 * the admin API) before the node app, so with both at `/` every download would pass the editor's
 * middleware first. Real express apps laid out as red.js lays them out, over real HTTP; the
 * editor's middleware is stood in for by one that counts the requests it sees.
 */
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import should from 'should';
import type { NodeAPI } from 'node-red';
import { frontOfAdmin, mountFirmwareRoute, NOT_FRONTED, RouteSettings } from '../../src/nodes/firmware-route';
import { httpRequest } from '../helpers/fleet-red';

interface Layout {
  url: string;
  /** Requests the admin app's own middleware (the editor's static files) saw. */
  editorSeen: string[];
  /** What was logged as a warning. */
  warnings: string[];
  close(): Promise<void>;
}

/**
 * A top-level app with the admin app mounted before the node app, as red.js does. The admin app is
 * the editor API's: its body parsers, the editor's middleware, then the runtime's admin app at `/`,
 * which is what nodes are given as `RED.httpAdmin` (`nested: false`: that app alone).
 */
async function layout(
  settings: RouteSettings & { httpAdminRoot: string; httpNodeRoot: string },
  nested = true,
): Promise<Layout> {
  const top = express();
  const editorApi = express();
  const runtimeAdmin = nested ? express() : editorApi;
  const httpNode = express();
  const editorSeen: string[] = [];
  editorApi.use(express.json());
  editorApi.use((req, _res, next) => {
    editorSeen.push(req.path);
    next();
  });
  if (nested) editorApi.use(runtimeAdmin);
  const warnings: string[] = [];
  const log = { warn: (m: string) => warnings.push(m) };
  mountFirmwareRoute({ httpAdmin: runtimeAdmin, httpNode, settings, log } as unknown as NodeAPI);
  top.use(settings.httpAdminRoot, editorApi);
  top.use(settings.httpNodeRoot, httpNode);
  const server = http.createServer(top);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    editorSeen,
    warnings,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the download route and the admin app', function () {
  let app: Layout | undefined;
  afterEach(async function () {
    await app?.close();
    app = undefined;
  });

  describe('frontOfAdmin', function () {
    it('answers yes for the default roots, both at /', function () {
      should(frontOfAdmin({})).be.true();
      should(frontOfAdmin({ httpAdminRoot: '/', httpNodeRoot: '/' })).be.true();
    });

    it('treats a root with or without its slashes as the same root', function () {
      should(frontOfAdmin({ httpAdminRoot: '/red/', httpNodeRoot: 'red' })).be.true();
    });

    it('answers no when the admin app is elsewhere or disabled', function () {
      should(frontOfAdmin({ httpAdminRoot: '/admin/', httpNodeRoot: '/' })).be.false();
      should(frontOfAdmin({ httpAdminRoot: false, httpNodeRoot: '/' })).be.false();
    });

    it('answers no when a setting guards or changes the node root', function () {
      const guards: RouteSettings[] = [
        { httpNodeAuth: { user: 'u', pass: 'p' } },
        { httpAuth: { user: 'u', pass: 'p' } },
        { httpAdminAuth: { user: 'u', pass: 'p' } },
        { httpNodeMiddleware: () => undefined },
        { httpNodeCors: { origin: '*' } },
        { httpAdminMiddleware: () => undefined },
        { httpAdminCors: { origin: '*' } },
        { requireHttps: true },
      ];
      for (const g of guards) should(frontOfAdmin({ httpAdminRoot: '/', httpNodeRoot: '/', ...g })).be.false();
    });
  });

  it('answers a download at the shared root before the admin app’s own middleware sees it', async function () {
    app = await layout({ httpAdminRoot: '/', httpNodeRoot: '/' });
    const res = await httpRequest(`${app.url}/ota/firmware/no-such-fleet/fw1?e=1&s=x`);
    should(res.status).equal(404);
    should(JSON.parse(res.body.toString())).eql({ error: 'no such firmware' });
    should(app.editorSeen).eql([]);
    should(app.warnings).eql([]);
    // Everything else still reaches the admin app.
    await httpRequest(`${app.url}/red/settings`);
    should(app.editorSeen).eql(['/red/settings']);
  });

  it('fronts an admin app that is not mounted in another, as an embedding application may give it', async function () {
    app = await layout({ httpAdminRoot: '/', httpNodeRoot: '/' }, false);
    const res = await httpRequest(`${app.url}/ota/firmware/no-such-fleet/fw1?e=1&s=x`);
    should(res.status).equal(404);
    should(app.editorSeen).eql([]);
  });

  it('says so in the log when the downloads share the editor’s root but cannot be put before it', function () {
    const warnings: string[] = [];
    // An admin app without express 4's router stack (another express, another framework).
    const routes: string[] = [];
    const httpAdmin = { get: (path: string) => routes.push(path), use: (path: string) => routes.push(path) };
    const log = { warn: (m: string) => warnings.push(m) };
    mountFirmwareRoute({ httpAdmin, httpNode: express(), settings: {}, log } as unknown as NodeAPI);
    should(routes.length).equal(3);
    should(warnings).eql([NOT_FRONTED]);
  });

  it('answers a malformed download path at the shared root with a 404 and no stack trace', async function () {
    app = await layout({ httpAdminRoot: '/', httpNodeRoot: '/' });
    const res = await httpRequest(`${app.url}/ota/firmware/f/%c0%ae?e=1&s=x`);
    should(res.status).equal(404);
    should(JSON.parse(res.body.toString())).eql({ error: 'no such firmware' });
  });

  it('leaves the download to the node app when the node root is guarded', async function () {
    app = await layout({ httpAdminRoot: '/', httpNodeRoot: '/', httpNodeAuth: { user: 'u', pass: 'p' } });
    const res = await httpRequest(`${app.url}/ota/firmware/no-such-fleet/fw1?e=1&s=x`);
    should(res.status).equal(404);
    should(app.editorSeen).eql(['/ota/firmware/no-such-fleet/fw1']);
  });

  it('serves downloads from the node app alone when the admin app has a root of its own', async function () {
    app = await layout({ httpAdminRoot: '/admin/', httpNodeRoot: '/' });
    const res = await httpRequest(`${app.url}/ota/firmware/no-such-fleet/fw1?e=1&s=x`);
    should(res.status).equal(404);
    should(JSON.parse(res.body.toString())).eql({ error: 'no such firmware' });
    should(app.editorSeen).eql([]);
    const admin = await httpRequest(`${app.url}/admin/ota/firmware/no-such-fleet/fw1?e=1&s=x`);
    should(admin.status).equal(404);
    should(app.editorSeen).eql(['/ota/firmware/no-such-fleet/fw1']);
  });
});
