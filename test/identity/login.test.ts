/**
 * Alibaba's MQTT login: the logins the real clients build (iotkit-embedded 3.2 and Link SDK C 4.x
 * from their shapes, aliyun-iot-mqtt captured at a real Aedes) verify with their secret, every
 * refusal by its reason, and properties over any signed login.
 *
 * The signing rule under test: the base set clientId (before the first "|"), deviceName,
 * productKey and timestamp (when the client id has one), or the base set plus the client id's
 * parameters that are not SDK metadata; values a client signed without sending them (aliyun-iot-mqtt's
 * `regionId`) only when the broker is told them.
 */
import { createHmac } from 'node:crypto';
import Module, { createRequire } from 'node:module';
import fc from 'fast-check';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import should from 'should';
import {
  checkLogin,
  LOGIN_META_KEYS,
  LoginClaim,
  LoginSignMethod,
  MqttLogin,
  parseLogin,
  signLogin,
} from '../../src/identity';
import { startAedes, TestBroker } from '../helpers/broker';

const SECRET = 'Qx8mT2vN5pL1rK7wZ3cY9bH4';
const OTHER_SECRET = 'Qx8mT2vN5pL1rK7wZ3cY9bH5';
const C_SDK_TIMESTAMP = '2524608000000';

function hmacHex(algorithm: string, secret: string, content: string): string {
  return createHmac(algorithm, secret).update(content).digest('hex');
}

/** parseLogin that must succeed. */
function claimOf(login: MqttLogin): LoginClaim {
  const parsed = parseLogin(login);
  if (!parsed.ok) throw new Error(`expected a claim, got the refusal: ${parsed.reason}`);
  return parsed.claim;
}

/** parseLogin that must refuse; its reason. */
function refusalOf(login: MqttLogin): string {
  const parsed = parseLogin(login);
  if (parsed.ok)
    throw new Error(`expected a refusal, got the claim of ${parsed.claim.productKey}/${parsed.claim.deviceName}`);
  return parsed.reason;
}

// ---- aliyun-iot-mqtt, captured ------------------------------------------------------------------

interface CapturedLogin {
  /** Where the library meant to connect. */
  url: string;
  /** The CONNECT as the broker received it. */
  login: { clientId: string; username: string; password: Buffer };
}

/**
 * Runs aliyun-iot-mqtt's `getAliyunIotMqttClient(options)` with its `mqtt.connect` pointed at a
 * local Aedes instead of Alibaba's host, and returns the CONNECT the broker received. The library
 * prints its options, secret included, so its console output is swallowed.
 */
async function aliyunIotMqttLogin(options: Record<string, string>): Promise<CapturedLogin> {
  let received: CapturedLogin['login'] | undefined;
  const broker: TestBroker = await startAedes({
    authenticate(client, username, password, callback) {
      received = { clientId: client.id, username: username ?? '', password: password ?? Buffer.alloc(0) };
      callback(null, true);
    },
  });
  const load = createRequire(__filename);
  const libraryPath = load.resolve('aliyun-iot-mqtt');
  const mqttPath = createRequire(libraryPath).resolve('mqtt');
  let url = '';
  let client: MqttClient | undefined;
  const fake = new Module(mqttPath);
  fake.filename = mqttPath;
  fake.loaded = true;
  fake.exports = {
    connect(target: string, opts: IClientOptions) {
      url = target;
      client = mqtt.connect(broker.url, { ...opts, reconnectPeriod: 0 });
      return client;
    },
  };
  const original = load.cache[mqttPath];
  const log = console.log;
  try {
    load.cache[mqttPath] = fake;
    delete load.cache[libraryPath];
    const library = load(libraryPath) as { getAliyunIotMqttClient(options: Record<string, string>): MqttClient };
    console.log = () => undefined;
    try {
      library.getAliyunIotMqttClient({ ...options });
    } finally {
      console.log = log;
    }
    await new Promise<void>((resolve, reject) => {
      client!.once('connect', () => resolve());
      client!.once('error', reject);
    });
  } finally {
    if (original) load.cache[mqttPath] = original;
    else delete load.cache[mqttPath];
    delete load.cache[libraryPath];
    await client?.endAsync();
    await broker.close();
  }
  if (!received) throw new Error('the broker received no CONNECT');
  return { url, login: received };
}

describe('Alibaba MQTT login', function () {
  describe('the logins real clients send', function () {
    it('iotkit-embedded 3.2: an upper-case HMAC-SHA256 over clientId, deviceName, productKey and timestamp verifies', function () {
      // The client id of a real 3.2.0 run; the password as IOT_Sign_MQTT computes it (dev_sign_mqtt.c).
      const login = {
        clientId: `pk1.dev1|timestamp=${C_SDK_TIMESTAMP},_v=sdk-c-3.2.0,securemode=3,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0|`,
        username: 'dev1&pk1',
        password: Buffer.from(
          hmacHex(
            'sha256',
            SECRET,
            `clientIdpk1.dev1deviceNamedev1productKeypk1timestamp${C_SDK_TIMESTAMP}`,
          ).toUpperCase(),
        ),
      };
      const claim = claimOf(login);
      should(claim).eql({
        productKey: 'pk1',
        deviceName: 'dev1',
        signmethod: 'hmacsha256',
        clientIdBase: 'pk1.dev1',
        params: {
          timestamp: C_SDK_TIMESTAMP,
          _v: 'sdk-c-3.2.0',
          securemode: '3',
          signmethod: 'hmacsha256',
          lan: 'C',
          _ss: '1',
          gw: '0',
          ext: '0',
        },
        password: hmacHex('sha256', SECRET, `clientIdpk1.dev1deviceNamedev1productKeypk1timestamp${C_SDK_TIMESTAMP}`),
      });
      should(checkLogin(claim, SECRET)).be.true();
      should(checkLogin(claim, OTHER_SECRET)).be.false();
    });

    it('Link SDK C 4.1: its client id with an empty extension before the closing "|" verifies', function () {
      // core_auth_mqtt_clientid / core_auth_mqtt_password (core/utils/core_auth.c), 4.1.0.
      const claim = claimOf({
        clientId: `pk1.dev1|timestamp=${C_SDK_TIMESTAMP},_ss=1,_v=sdk-c-4.1.0,securemode=3,signmethod=hmacsha256,ext=3,|`,
        username: 'dev1&pk1',
        password: hmacHex(
          'sha256',
          SECRET,
          `clientIdpk1.dev1deviceNamedev1productKeypk1timestamp${C_SDK_TIMESTAMP}`,
        ).toUpperCase(),
      });
      should(claim.params).eql({
        timestamp: C_SDK_TIMESTAMP,
        _ss: '1',
        _v: 'sdk-c-4.1.0',
        securemode: '3',
        signmethod: 'hmacsha256',
        ext: '3',
      });
      should(checkLogin(claim, SECRET)).be.true();
    });

    it('Link SDK C 4.x: its network statistics (_conn) stay unsigned, and an assigned (empty) client id verifies', function () {
      const stats = claimOf({
        clientId: `pk1.dev1|timestamp=${C_SDK_TIMESTAMP},_ss=1,_v=sdk-c-4.2.0,securemode=3,signmethod=hmacsha256,ext=3,_conn=tcp_1a|`,
        username: 'dev1&pk1',
        password: hmacHex(
          'sha256',
          SECRET,
          `clientIdpk1.dev1deviceNamedev1productKeypk1timestamp${C_SDK_TIMESTAMP}`,
        ).toUpperCase(),
      });
      should(checkLogin(stats, SECRET)).be.true();
      const assigned = claimOf({
        clientId: `|timestamp=${C_SDK_TIMESTAMP},_ss=1,_v=sdk-c-4.2.0,securemode=3,signmethod=hmacsha256,ext=3,|`,
        username: 'dev1&pk1',
        password: hmacHex(
          'sha256',
          SECRET,
          `clientIddeviceNamedev1productKeypk1timestamp${C_SDK_TIMESTAMP}`,
        ).toUpperCase(),
      });
      should(assigned.clientIdBase).equal('');
      should(checkLogin(assigned, SECRET)).be.true();
    });

    it('aliyun-iot-mqtt: the CONNECT it sends (lower-case HMAC-SHA1, a random client id) verifies', async function () {
      const { url, login } = await aliyunIotMqttLogin({ productKey: 'a1pk', deviceName: 'dev1', deviceSecret: SECRET });
      should(url).equal('tcp://a1pk.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883');
      should(login.clientId).match(/^[0-9a-f-]{36}\|securemode=3,signmethod=hmacsha1,timestamp=\d+\|$/);
      should(login.username).equal('dev1&a1pk');
      const claim = claimOf(login);
      should(claim.signmethod).equal('hmacsha1');
      should(checkLogin(claim, SECRET)).be.true();
      should(checkLogin(claim, OTHER_SECRET)).be.false();
    });

    it('aliyun-iot-mqtt with regionId and other options: it signs them without sending them, so they verify only when the broker is told them', async function () {
      const extra = { regionId: 'cn-shanghai', instanceName: 'lab' };
      const { login } = await aliyunIotMqttLogin({
        productKey: 'a1pk',
        deviceName: 'dev1',
        deviceSecret: SECRET,
        ...extra,
      });
      should(login.clientId).not.containEql('regionId');
      const claim = claimOf(login);
      should(checkLogin(claim, SECRET)).be.false();
      should(checkLogin(claim, SECRET, { extraSigned: extra })).be.true();
      should(checkLogin(claim, OTHER_SECRET, { extraSigned: extra })).be.false();
      should(checkLogin(claim, SECRET, { extraSigned: { regionId: 'cn-beijing', instanceName: 'lab' } })).be.false();
    });

    it('a client that signs the extra parameters it puts in its client id verifies without being told them', function () {
      const login = signLogin({
        productKey: 'pk1',
        deviceName: 'dev1',
        deviceSecret: SECRET,
        signmethod: 'hmacsha1',
        extra: { regionId: 'cn-shanghai' },
      });
      should(login.clientId).equal('pk1.dev1|securemode=3,signmethod=hmacsha1,regionId=cn-shanghai|');
      should(login.password).equal(
        hmacHex('sha1', SECRET, 'clientIdpk1.dev1deviceNamedev1productKeypk1regionIdcn-shanghai'),
      );
      should(checkLogin(claimOf(login), SECRET)).be.true();
    });

    it('a client that sends extra parameters but signs only the base set verifies too', function () {
      const password = hmacHex('md5', SECRET, 'clientIdsensor-7deviceNamedev1productKeypk1timestamp1700000000000');
      const claim = claimOf({
        clientId: 'sensor-7|securemode=2,signmethod=hmacmd5,timestamp=1700000000000,regionId=cn-shanghai|',
        username: 'dev1&pk1',
        password,
      });
      should(checkLogin(claim, SECRET)).be.true();
    });
  });

  describe('parseLogin refuses, saying why', function () {
    const good = signLogin({ productKey: 'pk1', deviceName: 'dev1', deviceSecret: SECRET, timestamp: C_SDK_TIMESTAMP });
    const secretLooking = 'f00dfacef00dfacef00dfacef00dfacef00dface';
    const refusals: [string, MqttLogin, string][] = [
      [
        'an unknown sign method',
        { ...good, clientId: 'pk1.dev1|securemode=3,signmethod=hmacsha512|' },
        'unknown sign method "hmacsha512" in the client id: expected hmacsha1, hmacsha256 or hmacmd5',
      ],
      [
        'no sign method',
        { ...good, clientId: 'pk1.dev1|securemode=3|' },
        'the client id names no signmethod: Alibaba\'s login needs one of hmacsha1, hmacsha256, hmacmd5 between the two "|"',
      ],
      [
        'a user name without "&"',
        { ...good, username: 'pk1.dev1' },
        'the user name must be "deviceName&productKey", got "pk1.dev1"',
      ],
      ['no user name', { ...good, username: undefined }, 'the user name must be "deviceName&productKey", got nothing'],
      [
        'a user name with a wildcard',
        { ...good, username: 'dev+&pk1' },
        'the user name must be "deviceName&productKey": the device name in the user name must be one MQTT topic level (no "/", "+", "#" or NUL; found "+"), got "dev+"',
      ],
      [
        'a user name and a client id that name different devices',
        { ...good, username: 'dev2&pk1' },
        'the client id "pk1.dev1" names device pk1/dev1, but the user name "dev2&pk1" is device pk1/dev2',
      ],
      [
        'no password',
        { ...good, password: undefined },
        'missing password: the password must be the 64-character hex HMAC-SHA256 of the login, keyed with the device secret',
      ],
      [
        'an empty password',
        { ...good, password: Buffer.alloc(0) },
        'missing password: the password must be the 64-character hex HMAC-SHA256 of the login, keyed with the device secret',
      ],
      [
        'a password that is not the HMAC of the sign method',
        { ...good, password: secretLooking },
        'the password must be the 64-character hex HMAC-SHA256 of the login, keyed with the device secret, got 40 characters that are not that',
      ],
      [
        'a client id without parameters',
        { ...good, clientId: 'pk1.dev1' },
        'the client id must be "<clientId>|securemode=…,signmethod=…,timestamp=…|", with its parameters between two "|", got "pk1.dev1"',
      ],
      [
        'a client id without its closing "|"',
        { ...good, clientId: 'pk1.dev1|securemode=3,signmethod=hmacsha256' },
        'the client id must be "<clientId>|securemode=…,signmethod=…,timestamp=…|", with its parameters between two "|", got "pk1.dev1|securemode=3,signmethod=hmacsha256"',
      ],
      [
        'a client id with a third "|"',
        { ...good, clientId: 'pk1.dev1|securemode=3|signmethod=hmacsha256|' },
        'the client id must be "<clientId>|securemode=…,signmethod=…,timestamp=…|", with its parameters between two "|", got "pk1.dev1|securemode=3|signmethod=hmacsha256|"',
      ],
      [
        'a client id parameter that is not key=value',
        { ...good, clientId: 'pk1.dev1|securemode=3,signmethod=hmacsha256,lan|' },
        'client id parameter "lan" is not "key=value" (in "pk1.dev1|securemode=3,signmethod=hmacsha256,lan|")',
      ],
      [
        'a client id parameter given twice',
        { ...good, clientId: 'pk1.dev1|signmethod=hmacsha1,signmethod=hmacsha256|' },
        'client id parameter "signmethod" appears twice (in "pk1.dev1|signmethod=hmacsha1,signmethod=hmacsha256|")',
      ],
      [
        'an empty client id',
        { ...good, clientId: '' },
        'the client id must be "<clientId>|securemode=…,signmethod=…,timestamp=…|", got an empty string',
      ],
    ];
    for (const [what, login, reason] of refusals) {
      it(`${what}`, function () {
        should(refusalOf(login)).equal(reason);
      });
    }

    it('and never echoes the password', function () {
      for (const [, login] of refusals) {
        const password = login.password?.toString() ?? '';
        if (password.length > 0) should(refusalOf(login)).not.containEql(password);
      }
      should(refusalOf({ ...good, password: 'my-secret-password' })).not.containEql('my-secret-password');
      should(refusalOf({ ...good, username: 'nobody', password: 'my-secret-password' })).not.containEql(
        'my-secret-password',
      );
    });
  });

  describe('checkLogin', function () {
    const login = signLogin({
      productKey: 'pk1',
      deviceName: 'dev1',
      deviceSecret: SECRET,
      timestamp: C_SDK_TIMESTAMP,
    });

    it('is false for a wrong secret', function () {
      should(checkLogin(claimOf(login), OTHER_SECRET)).be.false();
    });

    it('is false for an empty secret', function () {
      should(checkLogin(claimOf(login), '')).be.false();
    });

    it('is false when a signed value was changed in transit (the timestamp)', function () {
      should(
        checkLogin(claimOf({ ...login, clientId: login.clientId.replace(C_SDK_TIMESTAMP, '2524608000001') }), SECRET),
      ).be.false();
    });

    it('accepts the HMAC in upper case, as the C SDKs send it', function () {
      should(checkLogin(claimOf({ ...login, password: login.password.toUpperCase() }), SECRET)).be.true();
    });
  });

  describe('signLogin', function () {
    it('builds the C SDK 3.2 login: pk.dn, metadata unsigned, HMAC-SHA256', function () {
      const login = signLogin({
        productKey: 'pk1',
        deviceName: 'dev1',
        deviceSecret: SECRET,
        timestamp: C_SDK_TIMESTAMP,
        extra: { _v: 'sdk-c-3.2.0', lan: 'C', _ss: '1', gw: '0', ext: '0' },
      });
      should(login).eql({
        clientId: `pk1.dev1|timestamp=${C_SDK_TIMESTAMP},securemode=3,signmethod=hmacsha256,_v=sdk-c-3.2.0,lan=C,_ss=1,gw=0,ext=0|`,
        username: 'dev1&pk1',
        password: hmacHex('sha256', SECRET, `clientIdpk1.dev1deviceNamedev1productKeypk1timestamp${C_SDK_TIMESTAMP}`),
      });
    });

    it('refuses an extra parameter that would replace a signed name', function () {
      should(() =>
        signLogin({ productKey: 'pk1', deviceName: 'dev1', deviceSecret: SECRET, extra: { deviceName: 'dev2' } }),
      ).throw(
        'extra.deviceName must be a key without "|", "," or "=" that is neither a login parameter nor clientId, deviceName or productKey, got "deviceName"',
      );
    });

    it('refuses a device name that is not one topic level, without naming the secret', function () {
      should(() => signLogin({ productKey: 'pk1', deviceName: 'dev/1', deviceSecret: SECRET })).throw(
        /^deviceName must be one MQTT topic level/,
      );
    });
  });

  describe('properties', function () {
    const level = fc.stringMatching(/^[A-Za-z0-9_\-@.:]{1,32}$/);
    const productKey = fc.stringMatching(/^[A-Za-z0-9]{1,20}$/);
    const method = fc.constantFrom<LoginSignMethod>('hmacsha1', 'hmacsha256', 'hmacmd5');
    const extraKey = fc
      .stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,8}$/)
      .filter((k) => !LOGIN_META_KEYS.has(k) && !['clientId', 'deviceName', 'productKey'].includes(k));
    const input = fc.record({
      productKey,
      deviceName: level,
      deviceSecret: fc.string({ minLength: 1, maxLength: 40 }),
      signmethod: method,
      timestamp: fc.option(fc.stringMatching(/^[0-9]{1,13}$/), { nil: undefined }),
      extra: fc.option(fc.dictionary(extraKey, fc.stringMatching(/^[^|,]{0,10}$/), { maxKeys: 3 }), { nil: undefined }),
    });

    it('any signed login parses back to its device and verifies with its secret, and not with another', function () {
      fc.assert(
        fc.property(input, fc.string({ minLength: 1, maxLength: 40 }), (signed, other) => {
          fc.pre(other !== signed.deviceSecret);
          const claim = claimOf(signLogin(signed));
          should(claim.productKey).equal(signed.productKey);
          should(claim.deviceName).equal(signed.deviceName);
          should(claim.signmethod).equal(signed.signmethod);
          should(checkLogin(claim, signed.deviceSecret)).be.true();
          should(checkLogin(claim, other)).be.false();
        }),
        { numRuns: 300 },
      );
    });

    it('a signed login with any one character of its password changed fails', function () {
      fc.assert(
        fc.property(input, fc.nat(), (signed, at) => {
          const login = signLogin(signed);
          const i = at % login.password.length;
          const flipped = login.password[i] === '0' ? '1' : '0';
          const tampered = `${login.password.slice(0, i)}${flipped}${login.password.slice(i + 1)}`;
          should(checkLogin(claimOf({ ...login, password: tampered }), signed.deviceSecret)).be.false();
        }),
        { numRuns: 200 },
      );
    });
  });
});
