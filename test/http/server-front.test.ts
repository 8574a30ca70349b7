/**
 * Downloads answered by Node-RED's HTTP server before its express app: when that is allowed, which
 * URLs it takes, and that every other request reaches the app as before. A real http.Server with a
 * real express app, over real HTTP.
 */
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import should from 'should';
import { DownloadTarget, downloadTarget, frontServer, serverPrefix } from '../../src/nodes/server-front';
import { httpRequest } from '../helpers/fleet-red';

const RED_JS = '/usr/lib/node_modules/node-red/red.js';

describe('downloads answered by the HTTP server', function () {
  describe('serverPrefix', function () {
    it('is the download path under the node root when Node-RED runs as its own program, unguarded', function () {
      should(serverPrefix({}, RED_JS)).equal('/ota/firmware/');
      should(serverPrefix({ httpNodeRoot: '/api' }, RED_JS)).equal('/api/ota/firmware/');
      should(serverPrefix({ httpNodeRoot: 'api/' }, 'C:\\node_modules\\node-red\\red.js')).equal('/api/ota/firmware/');
      // The editor's own guards do not stand in front of the node root.
      should(serverPrefix({ httpAdminAuth: { user: 'a' }, httpAdminRoot: '/admin' }, RED_JS)).equal('/ota/firmware/');
    });

    it('is false embedded in another program, without a node root, or with the node root guarded', function () {
      should(serverPrefix({}, '/srv/app/index.js')).be.false();
      should(serverPrefix({}, undefined)).be.false();
      should(serverPrefix({ httpNodeRoot: false }, RED_JS)).be.false();
      const guards = [
        { httpNodeAuth: { user: 'u', pass: 'p' } },
        { httpAuth: { user: 'u', pass: 'p' } },
        { httpNodeMiddleware: () => undefined },
        { httpNodeCors: { origin: '*' } },
        { requireHttps: true },
      ];
      for (const g of guards) should(serverPrefix(g, RED_JS)).be.false();
    });
  });

  describe('downloadTarget', function () {
    const P = '/ota/firmware/';
    it('names the fleet, the firmware, the file and the query as the app route reads them', function () {
      should(downloadTarget(`${P}f1/fw1?e=123&s=abc`, P)).eql({
        fleet: 'f1',
        firmware: 'fw1',
        file: undefined,
        expires: '123',
        signature: 'abc',
      });
      should(downloadTarget(`${P}f%201/fw1/2?s=a&s=b`, P)).eql({
        fleet: 'f 1',
        firmware: 'fw1',
        file: '2',
        expires: undefined,
        signature: ['a', 'b'],
      });
    });

    it('leaves every other URL to the app, and calls bad percent-encoding malformed', function () {
      for (const url of [
        '/ota/firmware/f1',
        '/ota/firmware/f1/',
        '/ota/firmware/f1//x',
        '/ota/firmware/a/b/c/d',
        '/red/x',
        '/OTA/firmware/f1/fw1',
      ])
        should(downloadTarget(url, P)).be.undefined();
      should(downloadTarget(`${P}f1/%c0%ae`, P)).equal('malformed');
    });
  });

  describe('frontServer', function () {
    let server: http.Server;
    let url = '';
    let appSeen: string[];
    let served: DownloadTarget[];
    const serve = (t: DownloadTarget, _req: http.IncomingMessage, res: http.ServerResponse) => {
      served.push(t);
      res.writeHead(200, { 'Content-Length': 2 }).end('ok');
    };

    beforeEach(async function () {
      appSeen = [];
      served = [];
      const app = express();
      app.use((req, res) => {
        appSeen.push(`${req.method} ${req.url}`);
        res.status(404).end();
      });
      server = http.createServer((req, res) => app(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterEach(async function () {
      await new Promise((resolve) => server.close(resolve));
    });

    it('answers GET and HEAD of a download itself, and passes everything else to the app', async function () {
      should(frontServer(server, '/ota/firmware/', serve)).be.true();
      should((await httpRequest(`${url}/ota/firmware/f1/fw1?e=1&s=x`)).status).equal(200);
      should((await httpRequest(`${url}/ota/firmware/f1/fw1/0`, { method: 'HEAD' })).status).equal(200);
      should((await httpRequest(`${url}/ota/firmware/f1/fw1`, { method: 'POST' })).status).equal(404);
      should((await httpRequest(`${url}/red/settings`)).status).equal(404);
      should(served.map((t) => [t.fleet, t.firmware, t.file])).eql([
        ['f1', 'fw1', undefined],
        ['f1', 'fw1', '0'],
      ]);
      should(appSeen).eql(['POST /ota/firmware/f1/fw1', 'GET /red/settings']);
    });

    it('answers a malformed download path 404 with a JSON error, as the app route does', async function () {
      frontServer(server, '/ota/firmware/', serve);
      const res = await httpRequest(`${url}/ota/firmware/f1/%c0%ae`);
      should(res.status).equal(404);
      should(JSON.parse(res.body.toString())).eql({ error: 'no such firmware' });
      should(served).eql([]);
      should(appSeen).eql([]);
    });

    it('wraps a server once, and leaves alone one with several request listeners', async function () {
      should(frontServer(server, '/ota/firmware/', serve)).be.true();
      should(frontServer(server, '/ota/firmware/', serve)).be.true();
      should(server.listeners('request')).have.length(1);
      await httpRequest(`${url}/ota/firmware/f1/fw1`);
      should(served).have.length(1);

      const other = http.createServer();
      other.on('request', () => undefined);
      other.on('request', () => undefined);
      should(frontServer(other, '/ota/firmware/', serve)).be.false();
      should(frontServer(undefined, '/ota/firmware/', serve)).be.false();
    });
  });
});
