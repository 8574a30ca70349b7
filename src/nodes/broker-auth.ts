/**
 * The broker's login and ACL checks over HTTP, shaped as EMQX 5's HTTP authenticator and HTTP
 * authorizer expect: the broker posts what the client sent, and gets `200 {"result": "allow" |
 * "deny"}` back. A bad login or a foreign topic is a `deny`, never a 4xx (EMQX reads a 4xx as
 * "ignore" and asks the next source); a 400 `{error}` only for a request that lacks a field, which
 * is a broker misconfiguration. No answer and no error text ever carries the password, and none
 * says why a login failed. Guarded by `ota.broker` (README: Admin API).
 */
import type { Request } from 'express';
import type { AskFleet } from '../fleet';
import { isPlainObject, ProtocolError } from '../protocol';

export interface BrokerRoute {
  path: string;
  handler: (req: Request) => unknown;
}

type Result = { result: 'allow' | 'deny' };

const AUTHENTICATE_BODY = '{"clientid": "${clientid}", "username": "${username}", "password": "${password}"}';
const AUTHORIZE_BODY =
  '{"clientid": "${clientid}", "username": "${username}", "topic": "${topic}", "action": "${action}"}';

/** The request's fields as strings; a missing one refuses the request, naming the body EMQX should send (never the value it got). */
function fields<K extends string>(req: Request, names: readonly K[], template: string): Record<K, string> {
  const body = req.body as unknown;
  if (!isPlainObject(body))
    throw new ProtocolError(
      'request body',
      `a JSON object: configure the broker's request body as ${template}`,
      undefined,
      true,
    );
  const out = {} as Record<K, string>;
  for (const name of names) {
    const value = body[name];
    if (typeof value !== 'string')
      throw new ProtocolError(name, `a string: configure the broker's request body as ${template}`, undefined, true);
    out[name] = value;
  }
  return out;
}

/** The routes, under the admin root; `fleetOf` finds how to ask the request's fleet (a 404 for an unknown one). */
export function brokerAuthRoutes(fleetOf: (req: Request) => AskFleet): BrokerRoute[] {
  return [
    {
      path: '/ota/fleets/:fleet/mqtt/authenticate',
      handler: async (req): Promise<Result & { is_superuser: false }> => {
        const ask = fleetOf(req);
        const login = fields(req, ['clientid', 'username', 'password'] as const, AUTHENTICATE_BODY);
        const verdict = await ask((f) =>
          f.authenticate({ clientId: login.clientid, username: login.username, password: login.password }),
        );
        return { result: verdict.ok ? 'allow' : 'deny', is_superuser: false };
      },
    },
    {
      path: '/ota/fleets/:fleet/mqtt/authorize',
      handler: async (req): Promise<Result> => {
        const ask = fleetOf(req);
        const check = fields(req, ['clientid', 'username', 'topic', 'action'] as const, AUTHORIZE_BODY);
        const action = check.action;
        if (action !== 'publish' && action !== 'subscribe')
          throw new ProtocolError('action', 'publish or subscribe', action);
        const allowed = await ask((f) => {
          const device = f.deviceOfLogin(check.username);
          return device !== undefined && f.authorize(device, action, check.topic);
        });
        return { result: allowed ? 'allow' : 'deny' };
      },
    },
  ];
}
