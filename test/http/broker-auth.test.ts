/**
 * The broker's login and ACL checks over real HTTP, as EMQX 5's HTTP authenticator and authorizer
 * call them (src/nodes/broker-auth.ts): a device with its registered secret is allowed, anything
 * else is a `deny` (never a 4xx, which EMQX would read as "ignore"); a device may publish only its
 * own reports and subscribe only to its own notices; only a request missing a field is a 400.
 */
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Response } from 'supertest';
import { signLogin } from '../../src/identity';
import { assertNoStackTrace, Deployed, deploy, fleetSuite, platformFlow } from '../helpers/fleet-red';

helper.init(require.resolve('node-red'));

const DEV1 = { productKey: 'a1pk', deviceName: 'dev-1', deviceSecret: 'secret-of-dev-1-0123456789abcdef' };
const DEV2 = { productKey: 'a1pk', deviceName: 'dev-2', deviceSecret: 'secret-of-dev-2-fedcba9876543210' };

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

function answer(res: Response): Answer {
  assertNoStackTrace(res.text ?? '');
  return { status: res.status, body: res.body, text: res.text };
}

/** What a device publishes (T1, T3, T4, T6, T8) and reads (T2, T5, T7). */
function topics(d: { productKey: string; deviceName: string }) {
  const { productKey: pk, deviceName: dn } = d;
  return {
    publish: {
      T1: `/ota/device/inform/${pk}/${dn}`,
      T3: `/ota/device/progress/${pk}/${dn}`,
      T4: `/sys/${pk}/${dn}/thing/ota/firmware/get`,
      T6: `/sys/${pk}/${dn}/thing/file/download`,
      T8: `/ota/device/request/${pk}/${dn}`,
    },
    subscribe: {
      T2: `/ota/device/upgrade/${pk}/${dn}`,
      T5: `/sys/${pk}/${dn}/thing/ota/firmware/get_reply`,
      T7: `/sys/${pk}/${dn}/thing/file/download_reply`,
    },
  };
}

describe('broker authentication and authorisation (EMQX HTTP)', function () {
  const suite = fleetSuite('broker-auth');
  let d: Deployed;
  let base: string;

  const post = async (path: string, body: unknown) =>
    answer(
      await helper
        .request()
        .post(`${base}/${path}`)
        .send(body as object),
    );
  const authenticate = (body: unknown) => post('authenticate', body);
  const authorize = (body: unknown) => post('authorize', body);

  /** The EMQX authenticator's body for a login. */
  const loginOf = (l: { clientId: string; username: string; password: string }) => ({
    clientid: l.clientId,
    username: l.username,
    password: l.password,
  });
  /** The EMQX authorizer's body for a device that logged in. */
  const ask = (device: typeof DEV1, action: string, topic: string) => {
    const l = signLogin(device);
    return { clientid: l.clientId, username: l.username, topic, action };
  };

  const ALLOW = { status: 200, body: { result: 'allow' } };
  const DENY = { status: 200, body: { result: 'deny' } };
  const verdict = (a: Answer) => ({ status: a.status, body: a.body });

  beforeEach(async function () {
    d = await deploy(platformFlow(suite, { fleetProps: { requireVerification: false } }));
    base = `/ota/fleets/${d.platform.fleet.id}/mqtt`;
    await d.handle.ask((fleet) => fleet.registerCredentials([DEV1, DEV2]));
  });

  describe('authenticate', function () {
    it('a device signing its login with its registered secret is allowed, not as a superuser', async function () {
      const res = await authenticate(loginOf(signLogin(DEV1)));
      should(verdict(res)).eql({ status: 200, body: { result: 'allow', is_superuser: false } });
      should(res.text).not.containEql(DEV1.deviceSecret);
    });

    it('every sign method and a timestamp are allowed', async function () {
      for (const signmethod of ['hmacsha1', 'hmacsha256', 'hmacmd5'] as const) {
        should(
          verdict(await authenticate(loginOf(signLogin({ ...DEV1, signmethod, timestamp: '1700000000000' })))),
        ).eql({ status: 200, body: { result: 'allow', is_superuser: false } });
      }
    });

    it('a login signed with a wrong secret is denied', async function () {
      should(verdict(await authenticate(loginOf(signLogin({ ...DEV1, deviceSecret: 'not-the-secret' }))))).eql({
        status: 200,
        body: { result: 'deny', is_superuser: false },
      });
    });

    it('another device’s secret is denied', async function () {
      should(verdict(await authenticate(loginOf(signLogin({ ...DEV1, deviceSecret: DEV2.deviceSecret }))))).eql({
        status: 200,
        body: { result: 'deny', is_superuser: false },
      });
    });

    it('an unknown device is denied with the same answer as a wrong secret', async function () {
      const unknown = await authenticate(
        loginOf(signLogin({ productKey: 'a1pk', deviceName: 'ghost', deviceSecret: 'whatever' })),
      );
      const wrong = await authenticate(loginOf(signLogin({ ...DEV1, deviceSecret: 'whatever' })));
      should(unknown.text).equal(wrong.text);
      should(verdict(unknown)).eql({ status: 200, body: { result: 'deny', is_superuser: false } });
      should(verdict(await authenticate(loginOf(signLogin({ ...DEV1, productKey: 'other' }))))).eql(verdict(wrong));
    });

    it('a device removed from the registry is denied', async function () {
      await d.handle.ask((fleet) => fleet.removeCredential(DEV1));
      should(verdict(await authenticate(loginOf(signLogin(DEV1))))).eql({
        status: 200,
        body: { result: 'deny', is_superuser: false },
      });
    });

    it('malformed logins are denied, not refused: EMQX must turn the client away', async function () {
      const good = loginOf(signLogin(DEV1));
      for (const login of [
        { clientid: '', username: '', password: '' },
        { ...good, username: 'dev-1' },
        { ...good, username: 'no-ampersand-here' },
        { ...good, clientid: 'plain-client-id' },
        { ...good, password: '' },
        { ...good, password: 'zz' },
      ]) {
        const res = await authenticate(login);
        should(verdict(res)).eql({ status: 200, body: { result: 'deny', is_superuser: false } }, JSON.stringify(login));
      }
    });

    it('a request missing a field is a 400 naming it, and never shows the password', async function () {
      const good = loginOf(signLogin(DEV1));
      const res = await authenticate({ clientid: good.clientid, username: good.username });
      should(res.status).equal(400);
      should((res.body as { error: string }).error).startWith('password is required: a string');
      const numeric = await authenticate({ ...good, password: 987654321 });
      should(numeric.status).equal(400);
      should(numeric.text).not.containEql('987654321');
      const noUser = await authenticate({ clientid: good.clientid, password: good.password });
      should(noUser.status).equal(400);
      should(noUser.text).not.containEql(good.password);
    });

    it('a form body (EMQX with x-www-form-urlencoded) is read too', async function () {
      const l = signLogin(DEV1);
      const form = new URLSearchParams({ clientid: l.clientId, username: l.username, password: l.password }).toString();
      const res = answer(
        await helper
          .request()
          .post(`${base}/authenticate`)
          .set('Content-Type', 'application/x-www-form-urlencoded')
          .send(form),
      );
      should(verdict(res)).eql({ status: 200, body: { result: 'allow', is_superuser: false } });
    });

    it('an unknown fleet is a 404', async function () {
      const res = answer(
        await helper
          .request()
          .post('/ota/fleets/nope/mqtt/authenticate')
          .send(loginOf(signLogin(DEV1))),
      );
      should(res.status).equal(404);
    });
  });

  describe('authorize', function () {
    it('a device may publish its own T1, T3, T4, T6 and T8', async function () {
      for (const [name, topic] of Object.entries(topics(DEV1).publish))
        should(verdict(await authorize(ask(DEV1, 'publish', topic)))).eql(ALLOW, name);
    });

    it('a device may subscribe to its own T2, T5 and T7', async function () {
      for (const [name, topic] of Object.entries(topics(DEV1).subscribe))
        should(verdict(await authorize(ask(DEV1, 'subscribe', topic)))).eql(ALLOW, name);
    });

    it('a device may not publish on another device’s topics', async function () {
      for (const [name, topic] of Object.entries(topics(DEV2).publish))
        should(verdict(await authorize(ask(DEV1, 'publish', topic)))).eql(DENY, name);
    });

    it('a device may not subscribe to another device’s notices', async function () {
      for (const [name, topic] of Object.entries(topics(DEV2).subscribe))
        should(verdict(await authorize(ask(DEV1, 'subscribe', topic)))).eql(DENY, name);
    });

    it('a device may not publish its notices, nor subscribe to its reports', async function () {
      should(verdict(await authorize(ask(DEV1, 'publish', topics(DEV1).subscribe.T2)))).eql(DENY);
      should(verdict(await authorize(ask(DEV1, 'subscribe', topics(DEV1).publish.T1)))).eql(DENY);
    });

    it('a wildcard where a product key or device name stands is denied, even over its own topics', async function () {
      for (const filter of [
        '#',
        '/ota/device/upgrade/a1pk/+',
        '/ota/device/upgrade/+/dev-1',
        '/sys/+/dev-1/thing/ota/firmware/get_reply',
        '/ota/#',
      ]) {
        should(verdict(await authorize(ask(DEV1, 'subscribe', filter)))).eql(DENY, filter);
      }
    });

    it('a device without a registered secret is denied, even on its own topics', async function () {
      await d.handle.ask((fleet) => fleet.removeCredential(DEV1));
      should(verdict(await authorize(ask(DEV1, 'publish', topics(DEV1).publish.T1)))).eql(DENY);
    });

    it('a username that names no device is denied', async function () {
      should(
        verdict(
          await authorize({ clientid: 'c', username: 'nobody', topic: topics(DEV1).publish.T1, action: 'publish' }),
        ),
      ).eql(DENY);
    });

    it('an unknown action is a 400, and a missing field a 400 naming it', async function () {
      const res = await authorize(ask(DEV1, 'all', topics(DEV1).publish.T1));
      should({ status: res.status, body: res.body }).eql({
        status: 400,
        body: { error: 'action must be publish or subscribe, got "all"' },
      });
      const { topic: _topic, ...noTopic } = ask(DEV1, 'publish', topics(DEV1).publish.T1);
      const missing = await authorize(noTopic);
      should(missing.status).equal(400);
      should((missing.body as { error: string }).error).startWith('topic is required: a string');
    });
  });
});
