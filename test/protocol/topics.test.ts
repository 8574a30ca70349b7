import fc from 'fast-check';
import should from 'should';
import {
  buildTopic,
  checkDeviceRef,
  checkTopicLevel,
  parseTopic,
  parseTopicOf,
  SUBSCRIPTIONS,
  TopicKind,
} from '../../src/protocol';
import { DEVICE, refusal } from './support';

const KINDS: TopicKind[] = [
  'inform',
  'upgrade',
  'progress',
  'firmwareGet',
  'firmwareGetReply',
  'fileDownload',
  'fileDownloadReply',
  'request',
];

/** T1–T8 for product key a1B2c3D4e5F and device dev-001, as ota-protocol.md and node-contracts.md spell them. */
const TOPICS: Record<TopicKind, string> = {
  inform: '/ota/device/inform/a1B2c3D4e5F/dev-001',
  upgrade: '/ota/device/upgrade/a1B2c3D4e5F/dev-001',
  progress: '/ota/device/progress/a1B2c3D4e5F/dev-001',
  firmwareGet: '/sys/a1B2c3D4e5F/dev-001/thing/ota/firmware/get',
  firmwareGetReply: '/sys/a1B2c3D4e5F/dev-001/thing/ota/firmware/get_reply',
  fileDownload: '/sys/a1B2c3D4e5F/dev-001/thing/file/download',
  fileDownloadReply: '/sys/a1B2c3D4e5F/dev-001/thing/file/download_reply',
  request: '/ota/device/request/a1B2c3D4e5F/dev-001',
};

/** Any one-level name: 1 to 64 UTF-16 units, well-formed, none of / + # NUL. */
const levelName = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 32 })
  .filter((s) => s.length <= 64 && s.isWellFormed() && !['/', '+', '#', '\u0000'].some((c) => s.includes(c)));

describe('checkTopicLevel', function () {
  it('a product key or device name that is one topic level is kept as is', function () {
    for (const name of ['a1B2c3D4e5F', 'dev-001', 'dev_1.a@b:c', 'dev 1', '设备-1', 'x'.repeat(64)]) {
      should(checkTopicLevel('deviceName', name)).eql(name);
    }
  });

  it('an empty level is refused', function () {
    should(() => checkTopicLevel('productKey', '')).throw(
      refusal('productKey', 'productKey must be a non-empty string, got an empty string'),
    );
  });

  it('a device name with / is refused', function () {
    should(() => checkTopicLevel('deviceName', 'a/b')).throw(
      refusal('deviceName', 'deviceName must be one MQTT topic level (no "/", "+", "#" or NUL; found "/"), got "a/b"'),
    );
  });

  it('a device name with + is refused', function () {
    should(() => checkTopicLevel('deviceName', 'dev+1')).throw(
      refusal('deviceName', /one MQTT topic level \(.*found "\+"\), got "dev\+1"$/),
    );
  });

  it('a device name with # is refused', function () {
    should(() => checkTopicLevel('deviceName', '#')).throw(
      refusal('deviceName', /one MQTT topic level \(.*found "#"\), got "#"$/),
    );
  });

  it('a device name with NUL is refused', function () {
    should(() => checkTopicLevel('deviceName', 'dev\u00001')).throw(
      refusal('deviceName', /one MQTT topic level \(.*found NUL\)/),
    );
  });

  it('a level of more than 64 characters is refused', function () {
    should(() => checkTopicLevel('deviceName', 'x'.repeat(65))).throw(
      refusal('deviceName', /^deviceName must be at most 64 characters, got /),
    );
  });

  it('a level with a lone surrogate is refused', function () {
    should(() => checkTopicLevel('deviceName', 'dev\ud83d')).throw(
      refusal('deviceName', 'deviceName must be valid Unicode text, got "dev\\ud83d"'),
    );
  });

  it('a level that is not a string is refused', function () {
    should(() => checkTopicLevel('productKey', 42)).throw(refusal('productKey', 'productKey must be a string, got 42'));
    should(() => checkTopicLevel('productKey', ['pk'])).throw(
      refusal('productKey', 'productKey must be a string, got an array of 1 items'),
    );
  });

  it('a missing level is required', function () {
    should(() => checkTopicLevel('productKey', undefined)).throw(
      refusal('productKey', 'productKey is required: a non-empty string of up to 64 characters'),
    );
    should(() => checkTopicLevel('productKey', null)).throw(refusal('productKey', /is required/));
  });

  it('any string with / + # or NUL is refused as a topic level', function () {
    const withWildcard = fc
      .tuple(fc.string({ maxLength: 30 }), fc.constantFrom('/', '+', '#', '\u0000'), fc.string({ maxLength: 30 }))
      .map(([a, bad, b]) => a + bad + b);
    fc.assert(
      fc.property(withWildcard, (name) => {
        should(() => checkTopicLevel('deviceName', name)).throw(refusal('deviceName', /one MQTT topic level/));
      }),
    );
  });

  it('any other well-formed string of 1 to 64 characters is accepted unchanged', function () {
    fc.assert(fc.property(levelName, (name) => checkTopicLevel('deviceName', name) === name));
  });
});

describe('checkDeviceRef', function () {
  it('checks both levels and names them with the prefix', function () {
    should(checkDeviceRef(DEVICE)).eql(DEVICE);
    should(() => checkDeviceRef({ productKey: 'pk', deviceName: 'a/b' }, 'msg.')).throw(
      refusal('msg.deviceName', /one MQTT topic level/),
    );
    should(() => checkDeviceRef({ deviceName: 'dev' }, 'msg.')).throw(refusal('msg.productKey', /is required/));
  });
});

describe('buildTopic', function () {
  for (const kind of KINDS) {
    it(`builds the ${kind} topic ${TOPICS[kind].replace('a1B2c3D4e5F/dev-001', '${pk}/${dn}').replace('a1B2c3D4e5F', '${pk}').replace('dev-001', '${dn}')}`, function () {
      should(buildTopic(kind, DEVICE)).eql(TOPICS[kind]);
    });
  }

  it('refuses a device name that would widen the topic, before building anything', function () {
    should(() => buildTopic('upgrade', { productKey: 'pk', deviceName: '+' })).throw(
      refusal('deviceName', /one MQTT topic level/),
    );
    should(() => buildTopic('upgrade', { productKey: '#', deviceName: 'dev' })).throw(
      refusal('productKey', /one MQTT topic level/),
    );
  });
});

describe('parseTopic', function () {
  for (const kind of KINDS) {
    it(`recognises the ${kind} topic`, function () {
      should(parseTopic(TOPICS[kind])).eql({ kind, ...DEVICE });
    });
  }

  it('a topic that is not a string, or empty, is refused', function () {
    should(() => parseTopic(42)).throw(refusal('msg.topic', 'msg.topic must be one of the OTA topics (T1–T8), got 42'));
    should(() => parseTopic(undefined)).throw(refusal('msg.topic', /one of the OTA topics \(T1–T8\), got nothing$/));
    should(() => parseTopic('')).throw(refusal('msg.topic', /got an empty string$/));
  });

  it('a topic that is not one of T1–T8 is refused', function () {
    for (const topic of [
      '/ota/device/other/pk/dn',
      '/ota/device/inform/pk',
      '/ota/device/inform/pk/dn/extra',
      'ota/device/inform/pk/dn',
      '/sys/pk/dn/thing/ota/firmware/got',
      '/sys/pk/dn/thing/file/download/extra',
      '/sys/pk/dn/things/file/download',
      '/sys/pk/thing/file/download',
    ]) {
      should(() => parseTopic(topic)).throw(refusal('msg.topic', /^msg.topic must be one of the OTA topics \(T1–T8/));
    }
  });

  it('a wildcard product key level is refused, naming the level', function () {
    should(() => parseTopic('/ota/device/inform/+/dev-001')).throw(
      refusal(
        'the productKey level of msg.topic',
        /^the productKey level of msg.topic must be one MQTT topic level .*got "\/ota\/device\/inform\/\+\/dev-001"$/,
      ),
    );
  });

  it('a wildcard or empty device name level is refused, naming the level', function () {
    should(() => parseTopic('/sys/pk/#/thing/file/download')).throw(
      refusal('the deviceName level of msg.topic', /one MQTT topic level/),
    );
    should(() => parseTopic('/ota/device/progress/pk/')).throw(
      refusal('the deviceName level of msg.topic', /a non-empty string/),
    );
    should(() => parseTopic('/ota/device/progress//dn')).throw(
      refusal('the productKey level of msg.topic', /a non-empty string/),
    );
  });

  it('a level of more than 64 characters is refused', function () {
    should(() => parseTopic(`/ota/device/inform/pk/${'d'.repeat(65)}`)).throw(
      refusal('the deviceName level of msg.topic', /at most 64 characters/),
    );
  });

  it('a level with a lone surrogate is refused, naming the level', function () {
    should(() => parseTopic('/ota/device/progress/pk\uD800/dev-001')).throw(
      refusal('the productKey level of msg.topic', /valid Unicode text/),
    );
    should(() => parseTopic('/ota/device/inform/pk/dev-001\uDC00')).throw(
      refusal('the deviceName level of msg.topic', /valid Unicode text/),
    );
  });

  it('any topic made of OTA words, names and slashes is read as its levels say', function () {
    // Found without splitting: the answer must still be the one the levels give.
    const word = fc.constantFrom(
      '',
      'ota',
      'device',
      'inform',
      'progress',
      'upgrade',
      'request',
      'other',
      'sys',
      'thing',
    );
    const level = fc.oneof(word, levelName, fc.constantFrom('+', '#', 'a+b', 'a\u0000', 'a\uD800', 'd'.repeat(65)));
    const topic = fc.oneof(
      fc.array(level, { minLength: 1, maxLength: 8 }).map((levels) => levels.join('/')),
      // Mostly the six levels of T1, T2, T3 and T8, sometimes one more.
      fc
        .tuple(
          fc.constantFrom('inform', 'progress', 'upgrade', 'request', 'other'),
          level,
          level,
          fc.option(level, { freq: 4 }),
        )
        .map(([kind, pk, dn, extra]) => `/ota/device/${kind}/${pk}/${dn}${extra === null ? '' : `/${extra}`}`),
    );
    fc.assert(
      fc.property(topic, (t) => {
        const levels = t.split('/');
        const otaForm =
          levels.length === 6 &&
          levels[0] === '' &&
          levels[1] === 'ota' &&
          levels[2] === 'device' &&
          ['inform', 'progress', 'upgrade', 'request'].includes(levels[3]);
        let parsed;
        try {
          parsed = parseTopic(t);
        } catch (err) {
          const field = (err as { field?: string }).field;
          if (otaForm) {
            // Refused only for a level that is not one name, and that level is named.
            const bad = (['productKey', 'deviceName'] as const).filter((_, i) => {
              try {
                checkTopicLevel('x', levels[4 + i]);
                return false;
              } catch {
                return true;
              }
            });
            should(bad.length).above(0);
            should(field).equal(`the ${bad[0]} level of msg.topic`);
          } else if (levels[1] !== 'sys') {
            // Not the OTA form: refused as a whole, whatever its levels hold.
            should(field).equal('msg.topic');
          }
          return;
        }
        should(buildTopic(parsed.kind, parsed)).equal(t);
        if (otaForm) should(parsed).eql({ kind: levels[3], productKey: levels[4], deviceName: levels[5] });
      }),
      { numRuns: 2000 },
    );
  });

  it('every topic built for any valid device parses back to its kind and device', function () {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), levelName, levelName, (kind, productKey, deviceName) => {
        should(parseTopic(buildTopic(kind, { productKey, deviceName }))).eql({ kind, productKey, deviceName });
      }),
    );
  });
});

describe('parseTopicOf', function () {
  it('lets through the kinds a node accepts', function () {
    should(parseTopicOf(TOPICS.inform, ['inform', 'request'])).eql({ kind: 'inform', ...DEVICE });
  });

  it('refuses another OTA topic, naming the topics the node takes', function () {
    should(() => parseTopicOf(TOPICS.upgrade, ['inform', 'request'])).throw(
      refusal(
        'msg.topic',
        'msg.topic must be T1 /ota/device/inform/${pk}/${dn} or T8 /ota/device/request/${pk}/${dn}, got "/ota/device/upgrade/a1B2c3D4e5F/dev-001"',
      ),
    );
  });
});

describe('SUBSCRIPTIONS', function () {
  it('lists the filters of the device → platform topics', function () {
    should(SUBSCRIPTIONS).eql({
      inform: '/ota/device/inform/+/+',
      progress: '/ota/device/progress/+/+',
      firmwareGet: '/sys/+/+/thing/ota/firmware/get',
      fileDownload: '/sys/+/+/thing/file/download',
      request: '/ota/device/request/+/+',
    });
  });

  it('each filter matches the topics of its own kind', function () {
    for (const [kind, filter] of Object.entries(SUBSCRIPTIONS)) {
      should(parseTopic(filter.replace('+', DEVICE.productKey).replace('+', DEVICE.deviceName))).eql({
        kind,
        ...DEVICE,
      });
    }
  });
});
