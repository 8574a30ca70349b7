/**
 * Per-device topic rights: a device publishes only its own T1, T3, T4, T6 and T8 and subscribes
 * only to filters that match nothing but its own topics — its T2, T5, T7 and T8, and what the
 * SDKs subscribe to for themselves (iotkit-embedded 3.x's /sys, /ext and /shadow topics, the
 * Python linkkit's /ext/rrpc) — never to another device's topics or wildcards over devices.
 */
import fc from 'fast-check';
import should from 'should';
import { mayPublish, maySubscribe } from '../../src/identity';
import { buildTopic, DeviceRef, TopicKind } from '../../src/protocol';

const DEVICE: DeviceRef = { productKey: 'pk1', deviceName: 'dev1' };
const NEIGHBOURS: DeviceRef[] = [
  { productKey: 'pk1', deviceName: 'dev2' },
  { productKey: 'pk2', deviceName: 'dev1' },
  { productKey: 'pk10', deviceName: 'dev1' },
  { productKey: 'pk1', deviceName: 'dev10' },
];

const PUBLISHED: TopicKind[] = ['inform', 'progress', 'firmwareGet', 'fileDownload', 'request'];
const RECEIVED: TopicKind[] = ['upgrade', 'firmwareGetReply', 'fileDownloadReply', 'request'];
const ALL: TopicKind[] = [
  'inform',
  'upgrade',
  'progress',
  'firmwareGet',
  'firmwareGetReply',
  'fileDownload',
  'fileDownloadReply',
  'request',
];

/** What iotkit-embedded 3.x subscribes to at connect (dm_client.c, ota_mqtt.c, shadow) and the Python linkkit's RRPC. */
function sdkSubscriptions({ productKey: pk, deviceName: dn }: DeviceRef): string[] {
  return [
    `/sys/${pk}/${dn}/thing/event/+/post_reply`,
    `/sys/${pk}/${dn}/thing/service/property/set`,
    `/sys/${pk}/${dn}/thing/service/+`,
    `/sys/${pk}/${dn}/thing/deviceinfo/update_reply`,
    `/sys/${pk}/${dn}/thing/deviceinfo/delete_reply`,
    `/sys/${pk}/${dn}/thing/dynamicTsl/get_reply`,
    `/sys/${pk}/${dn}/thing/model/down_raw`,
    `/sys/${pk}/${dn}/thing/model/up_raw_reply`,
    `/sys/${pk}/${dn}/rrpc/request/+`,
    `/sys/${pk}/${dn}/thing/config/get_reply`,
    `/sys/${pk}/${dn}/thing/config/push`,
    `/ext/ntp/${pk}/${dn}/response`,
    `/ext/error/${pk}/${dn}`,
    `/ext/session/${pk}/${dn}/combine/login_reply`,
    `/shadow/get/${pk}/${dn}`,
    `/ext/rrpc/+/sys/${pk}/${dn}/thing/service/+`,
  ];
}

describe('topic rights', function () {
  describe('publishing', function () {
    it('a device may publish its own T1, T3, T4, T6 and T8', function () {
      for (const kind of PUBLISHED) should(mayPublish(DEVICE, buildTopic(kind, DEVICE))).be.true();
    });

    it('a device may not publish what the platform sends (T2, T5, T7)', function () {
      for (const kind of ['upgrade', 'firmwareGetReply', 'fileDownloadReply'] as TopicKind[]) {
        should(mayPublish(DEVICE, buildTopic(kind, DEVICE))).be.false();
      }
    });

    it("a device may publish on no other device's topic", function () {
      for (const other of NEIGHBOURS)
        for (const kind of ALL) should(mayPublish(DEVICE, buildTopic(kind, other))).be.false();
    });

    it('a device may publish on its own /sys topics, as the SDKs do at connect (a refused publish cuts it off)', function () {
      for (const topic of ['/sys/pk1/dev1/thing/event/property/post', '/sys/pk1/dev1/thing/deviceinfo/update'])
        should(mayPublish(DEVICE, topic)).be.true();
    });

    it('a device may not publish on other topics, nor on an empty level or a wildcard under its own /sys', function () {
      for (const topic of [
        '/ota/device/inform/pk1/dev1/',
        '/ota/device/inform/pk1',
        '#',
        '',
        '/sys/pk1/dev1',
        '/sys/pk1/dev1/',
        '/sys/pk1/dev1//x',
        '/sys/pk1/dev1/+',
        '/sys/pk1/dev2/thing/event/property/post',
        '/ext/ntp/pk1/dev1/request',
      ]) {
        should(mayPublish(DEVICE, topic)).be.false();
      }
    });
  });

  describe('subscribing', function () {
    it('a device may subscribe to its own T2, T5, T7 and T8', function () {
      for (const kind of RECEIVED) should(maySubscribe(DEVICE, buildTopic(kind, DEVICE))).be.true();
    });

    it('a device may subscribe to what the SDKs subscribe to for themselves', function () {
      for (const filter of sdkSubscriptions(DEVICE))
        should({ filter, allowed: maySubscribe(DEVICE, filter) }).eql({ filter, allowed: true });
    });

    it('a device may subscribe to a wildcard under its own /sys levels', function () {
      should(maySubscribe(DEVICE, '/sys/pk1/dev1/#')).be.true();
    });

    it("a device may subscribe to none of another device's topics", function () {
      for (const other of NEIGHBOURS) {
        for (const filter of [...RECEIVED.map((kind) => buildTopic(kind, other)), ...sdkSubscriptions(other)]) {
          should({ filter, allowed: maySubscribe(DEVICE, filter) }).eql({ filter, allowed: false });
        }
      }
    });

    it('wildcards that could match another device are refused', function () {
      const filters = [
        '#',
        '+/#',
        '/#',
        '/ota/#',
        '/ota/device/upgrade/+/+',
        '/ota/device/upgrade/pk1/+',
        '/ota/device/upgrade/+/dev1',
        '/ota/device/+/pk1/dev1',
        '/sys/+/+/thing/ota/firmware/get_reply',
        '/sys/pk1/+/thing/ota/firmware/get_reply',
        '/sys/pk1/#',
        '/ext/+/pk1/dev1',
        '/ext/#',
        '/ext/rrpc/+/sys/+/+/thing/service/+',
        '/ext/rrpc/#',
        '/shadow/get/+/+',
      ];
      for (const filter of filters)
        should({ filter, allowed: maySubscribe(DEVICE, filter) }).eql({ filter, allowed: false });
    });

    it("an /ext/rrpc filter is allowed only around the device's own /sys topics", function () {
      // Its third level is a message id: a device named "sys" could otherwise read every RRPC of message "pk1".
      const sysDevice = { productKey: 'pk1', deviceName: 'sys' };
      should(maySubscribe(sysDevice, '/ext/rrpc/pk1/sys/#')).be.false();
      should(maySubscribe(sysDevice, '/ext/rrpc/+/sys/pk1/sys/thing/service/+')).be.true();
    });

    it('malformed filters are refused', function () {
      for (const filter of [
        '',
        '/sys/pk1/dev1/#/x',
        '/sys/pk1/dev1/thing/a+',
        '/sys/pk1/dev1/thing/#x',
        '/sys/pk1/dev1/\u0000',
      ]) {
        should({ filter, allowed: maySubscribe(DEVICE, filter) }).eql({ filter, allowed: false });
      }
    });

    it('a device whose names are not single topic levels has no rights', function () {
      const bad = { productKey: '+', deviceName: '#' };
      should(maySubscribe(bad, '/ota/device/upgrade/+/#')).be.false();
      should(mayPublish(bad, '/ota/device/inform/+/#')).be.false();
    });
  });

  describe('properties', function () {
    const name = fc.stringMatching(/^[A-Za-z0-9_\-@.:]{1,12}$/);
    const device = fc.record({ productKey: name, deviceName: name });

    it("no filter a device may subscribe to matches another device's topic", function () {
      const KEYWORDS = ['+', 'sys', 'ext', 'ota', 'device', 'upgrade', 'rrpc', 'shadow', 'get', 'thing', 'x'];
      /** Filters shaped like device topics, from both devices' names and the topic words, so that many are allowed. */
      const filterFor = (me: DeviceRef, other: DeviceRef) => {
        const word = fc.constantFrom(me.productKey, me.deviceName, other.productKey, other.deviceName, ...KEYWORDS);
        const [mine, theirs] = [me, other].map((d) => [d.productKey, d.deviceName]);
        const pair = fc.constantFrom(
          mine,
          mine,
          mine,
          theirs,
          [mine[0], theirs[1]],
          [theirs[0], mine[1]],
          ['+', '+'],
          [mine[0], '+'],
          ['+', mine[1]],
        );
        const head = fc.oneof(
          pair.map(([a, b]) => ['sys', a, b]),
          fc.tuple(word, pair).map(([k, [a, b]]) => ['ext', k, a, b]),
          fc.tuple(word, pair).map(([id, [a, b]]) => ['ext', 'rrpc', id, 'sys', a, b]),
          pair.map(([a, b]) => ['shadow', 'get', a, b]),
          fc.tuple(word, pair).map(([k, [a, b]]) => ['ota', 'device', k, a, b]),
          fc.array(word, { minLength: 1, maxLength: 6 }),
        );
        return fc
          .tuple(head, fc.array(word, { maxLength: 3 }), fc.boolean())
          .map(([levels, tail, hash]) => `/${[...levels, ...tail].join('/')}${hash ? '/#' : ''}`);
      };
      /** Topics that belong to `other`: its OTA topics, its /sys and /ext topics, RRPC around them. */
      const topicsOf = (o: DeviceRef) => [
        ...ALL.map((kind) => buildTopic(kind, o)),
        `/sys/${o.productKey}/${o.deviceName}/thing/service/x`,
        `/ext/ntp/${o.productKey}/${o.deviceName}/response`,
        `/ext/error/${o.productKey}/${o.deviceName}`,
        `/ext/rrpc/x/sys/${o.productKey}/${o.deviceName}/thing/service/x`,
        `/shadow/get/${o.productKey}/${o.deviceName}`,
      ];
      let allowed = 0;
      fc.assert(
        fc.property(
          fc
            .tuple(device, device)
            .chain(([me, other]) => fc.tuple(fc.constant(me), fc.constant(other), filterFor(me, other))),
          ([me, other, filter]) => {
            fc.pre(me.productKey !== other.productKey || me.deviceName !== other.deviceName);
            if (!maySubscribe(me, filter)) return;
            allowed++;
            for (const topic of topicsOf(other))
              should({ filter, topic, matches: matches(filter, topic) }).have.property('matches', false);
          },
        ),
        { numRuns: 5000 },
      );
      should(allowed).be.above(500);
    });
  });
});

/** MQTT topic matching (no `$` topics here). */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
