/** The pure parts of ota-homeassistant: object ids, discovery config, state, commands, the selection diff, the pacer, settings. */
import should from 'should';
import { parseCommand } from '../../src/nodes/homeassistant/command';
import { discoveryConfig } from '../../src/nodes/homeassistant/discovery';
import { diffSelection } from '../../src/nodes/homeassistant/diff';
import { entityTopics, objectIdOf } from '../../src/nodes/homeassistant/entity';
import { LatestQueue, TokenBucket } from '../../src/nodes/homeassistant/pacer';
import { readHaSettings } from '../../src/nodes/homeassistant/settings';
import { entityState, shorten } from '../../src/nodes/homeassistant/state';
import { discoveryProblems, HA_MAX_SUMMARY, REQUIRED_KEYS, stateProblems } from './ha-schema';

const lamp = { productKey: 'pk1', deviceName: 'lamp-1', module: 'default' };
const topics = { prefix: 'homeassistant', base: 'ota-homeassistant', payloadInstall: 'install' };
const BASE = 'ota-homeassistant';

describe('ota-homeassistant parts', function () {
  describe('object ids', function () {
    it('are made of the names, only of characters HA takes, and stable', function () {
      const id = objectIdOf({ productKey: 'pk.1', deviceName: 'lamp:1 kitchen', module: 'wifi' }, BASE);
      should(id).match(/^ota_pk_1_lamp_1_kitchen_wifi_[0-9a-f]{8}$/);
      should(objectIdOf({ productKey: 'pk.1', deviceName: 'lamp:1 kitchen', module: 'wifi' }, BASE)).equal(id);
    });

    it('never carry a wildcard, a level separator or a non-ASCII character into a topic', function () {
      for (const deviceName of ['a+b', 'a#b', 'a/b', 'küche-lämpchen', '灯-1', 'a\u0000b']) {
        const id = objectIdOf({ productKey: 'pk1', deviceName, module: 'default' }, BASE);
        should(id).match(/^[A-Za-z0-9_-]+$/);
        const t = entityTopics('homeassistant', BASE, id);
        should(t.config.split('/')).have.length(4);
        should(t.command.split('/')).have.length(3);
      }
    });

    it('differ between two nodes (two base topics) showing the same device', function () {
      const a = objectIdOf(lamp, 'ota-homeassistant');
      const b = objectIdOf(lamp, 'ota-homeassistant-2');
      should(a).not.equal(b);
      should(a.slice(0, -8)).equal(b.slice(0, -8));
    });

    it('differ for names that read alike once joined', function () {
      const ids = [
        objectIdOf({ productKey: 'a_b', deviceName: 'c', module: 'default' }, BASE),
        objectIdOf({ productKey: 'a', deviceName: 'b_c', module: 'default' }, BASE),
        objectIdOf({ productKey: 'a', deviceName: 'b.c', module: 'default' }, BASE),
      ];
      should(new Set(ids).size).equal(3);
    });
  });

  describe('the discovery config', function () {
    const objectId = objectIdOf(lamp, BASE);
    const config = discoveryConfig({
      entity: lamp,
      objectId,
      topics: entityTopics('homeassistant', 'ota-homeassistant', objectId),
      base: 'ota-homeassistant',
      payloadInstall: 'install',
      installedVersion: '1.0.0',
    });

    it("passes HA's MQTT Update schema and has every key an installable entity needs", function () {
      should(discoveryProblems(config)).eql([]);
      for (const key of REQUIRED_KEYS) should(config).have.property(key);
    });

    it('names the device by its name, its product key as model and its running version', function () {
      should(config).match({
        device_class: 'firmware',
        entity_category: 'config',
        unique_id: objectId,
        payload_install: 'install',
        device: { identifiers: ['ota:pk1/lamp-1'], name: 'lamp-1', model: 'pk1', sw_version: '1.0.0' },
        availability: [
          { topic: 'ota-homeassistant/availability', payload_available: 'online', payload_not_available: 'offline' },
        ],
        state_topic: `ota-homeassistant/${objectId}/state`,
        command_topic: `ota-homeassistant/${objectId}/install`,
      });
    });

    it('says where it comes from: the package, its version and where to get help', function () {
      should(config.origin).eql({
        name: 'node-red-contrib-mqtt-ota',
        sw_version: require('../../../package.json').version,
        support_url: 'https://flows.nodered.org/node/@mqtt-ota/node-red-contrib-mqtt-ota',
      });
    });

    it("gives the device's version only from its default module, which all its entities agree on", function () {
      const wifi = { ...lamp, module: 'wifi' };
      const id = objectIdOf(wifi, BASE);
      const other = discoveryConfig({
        entity: wifi,
        objectId: id,
        topics: entityTopics('homeassistant', BASE, id),
        base: BASE,
        payloadInstall: 'install',
        installedVersion: '7.0.0',
      });
      should(other).match({ name: 'Firmware wifi', device: { identifiers: ['ota:pk1/lamp-1'] } });
      should(other.device).not.have.property('sw_version');
      should(discoveryProblems(other)).eql([]);
    });

    it('is refused by the validator for an unknown key, a wrong type or value, anywhere', function () {
      const device = config.device as Record<string, unknown>;
      const origin = config.origin as Record<string, unknown>;
      should(discoveryProblems({ ...config, device_clas: 'firmware' })).eql([
        'device_clas is not a key HA knows (dropped silently)',
      ]);
      should(discoveryProblems({ ...config, qos: '1' })).eql(['qos must be one of 0, 1, 2, got "1"']);
      should(discoveryProblems({ ...config, qos: 3 })).eql(['qos must be one of 0, 1, 2, got 3']);
      should(discoveryProblems({ ...config, device_class: 'software' })).eql([
        'device_class must be one of "firmware", null, got "software"',
      ]);
      should(discoveryProblems({ ...config, entity_category: 'system' })).eql([
        'entity_category must be one of "config", "diagnostic", got "system"',
      ]);
      should(discoveryProblems({ ...config, command_topic: 'a/+/install' })).match([/command_topic must be/]);
      should(discoveryProblems({ ...config, state_topic: 'a/b\u0007' })).match([/without control characters/]);
      should(discoveryProblems({ ...config, retain: 'true' })).eql(['retain must be true or false, got "true"']);
      should(discoveryProblems({ ...config, name: ['Firmware'] })).match([/^name must be a string/]);
      should(discoveryProblems({ ...config, icon: 'update' })).match([/^icon must be an icon/]);
      should(discoveryProblems({ ...config, availability: [{ topic: 'a', payload_on: 'x' }] })).eql([
        'availability[0].payload_on is not a key HA knows (the whole config is refused)',
      ]);
      should(discoveryProblems({ ...config, availability: [{ payload_available: 'up' }] })).eql([
        'availability[0].topic is required',
      ]);
      should(discoveryProblems({ ...config, availability_topic: 'x' })).eql([
        'availability and availability_topic must not be used together',
      ]);
      should(discoveryProblems({ ...config, device: { ...device, support_url: 'https://x.org' } })).eql([
        'device.support_url is not a key HA knows (the whole config is refused)',
      ]);
      should(discoveryProblems({ ...config, device: { name: 'lamp' } })).eql([
        "device must have at least one identifying value in 'identifiers' and/or 'connections'",
      ]);
      should(discoveryProblems({ ...config, origin: { name: 'x', url: 'https://x.org' } })).eql([
        "origin.url is HA's abbreviation of support_url: this package writes full names",
      ]);
      should(discoveryProblems({ ...config, origin: { ...origin, support_url: 'ftp://x.org' } })).eql([
        'origin.support_url must be an http(s) URL, got "ftp://x.org"',
      ]);
      should(discoveryProblems({ ...config, origin: { sw_version: '1' } })).eql(['origin.name is required']);
    });
  });

  describe('the state', function () {
    it('offers the newest firmware and shows an install in progress with its step', function () {
      const state = entityState({
        entity: lamp,
        installedVersion: '1.0.0',
        latest: { version: '1.1.0' },
        task: { active: true, step: 40 },
      });
      should(stateProblems(state)).eql([]);
      should(state).eql({
        installed_version: '1.0.0',
        latest_version: '1.1.0',
        title: 'pk1 firmware',
        release_summary: 'Firmware 1.1.0 for pk1/default',
        in_progress: true,
        update_percentage: 40,
      });
    });

    it('has no release_url without a web link to give: HA drops a whole state with a null or other URL', function () {
      for (const releaseUrl of [undefined, '', 'see the wiki', 'ftp://example.com/1.1.0', 'javascript:alert(1)']) {
        const state = entityState({
          entity: lamp,
          installedVersion: '1.0.0',
          latest: { version: '1.1.0', extData: releaseUrl === undefined ? {} : { releaseUrl } },
        });
        should(state).not.have.property('release_url');
        should(stateProblems(state)).eql([]);
      }
      should(stateProblems({ installed_version: '1.0.0', release_url: null })).eql([
        'release_url must be an http(s) URL, got null',
      ]);
    });

    it('is refused by the validator for an unknown key, a null version, or a percentage out of range', function () {
      should(stateProblems({ installed_version: '1.0.0', progress: 5 })).eql([
        'progress is not a key HA knows (the whole message is dropped)',
      ]);
      should(stateProblems({ installed_version: null })).eql(['installed_version must be a string, got null']);
      should(stateProblems({ update_percentage: 101 })).match([/update_percentage must be a number from 0 to 100/]);
      should(stateProblems({ update_percentage: '50' })).match([/update_percentage must be a number from 0 to 100/]);
      should(stateProblems({ in_progress: 'yes' })).eql(['in_progress must be true or false, got "yes"']);
      should(stateProblems({ update_percentage: null, in_progress: false })).eql([]);
    });

    it('with nothing to offer, shows the installed version as the latest and says why', function () {
      const state = entityState({
        entity: lamp,
        installedVersion: '1.0.0',
        reason: 'no firmware of pk1/default in the catalog',
      });
      should(state).match({
        latest_version: '1.0.0',
        release_summary: 'no firmware of pk1/default in the catalog',
        in_progress: false,
        update_percentage: null,
      });
    });

    it("takes the summary and release notes link from the firmware's extData, within HA's 255 characters", function () {
      const state = entityState({
        entity: lamp,
        installedVersion: '1.0.0',
        latest: {
          version: '1.1.0',
          extData: { releaseSummary: 'x'.repeat(300), releaseUrl: 'https://example.com/1.1.0' },
        },
      });
      should(state.release_summary.length).equal(HA_MAX_SUMMARY);
      should(state.release_url).equal('https://example.com/1.1.0');
      should(stateProblems(state)).eql([]);
    });

    it('cuts a long summary by characters, never through one written with two UTF-16 units', function () {
      const cut = shorten('🙂'.repeat(300), HA_MAX_SUMMARY);
      should(Array.from(cut)).have.length(HA_MAX_SUMMARY);
      should(cut.endsWith('🙂…')).be.true();
      should(/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut)).be.false();
      should(shorten('short', HA_MAX_SUMMARY)).equal('short');
    });
  });

  describe('commands', function () {
    it('reads an install, a birth and the availability echo', function () {
      should(parseCommand({ topic: 'ota-homeassistant/ota_x/install', payload: 'install' }, topics)).eql({
        kind: 'install',
        objectId: 'ota_x',
      });
      should(parseCommand({ topic: 'ota-homeassistant/ota_x/install', payload: Buffer.from('install') }, topics)).eql({
        kind: 'install',
        objectId: 'ota_x',
      });
      should(parseCommand({ topic: 'homeassistant/status', payload: 'online' }, topics)).eql({
        kind: 'birth',
        online: true,
      });
      should(parseCommand({ topic: 'ota-homeassistant/availability', payload: 'offline' }, topics)).eql({
        kind: 'echo',
        online: false,
      });
    });

    it('refuses a wrong payload naming the entity, and any other topic', function () {
      should(() => parseCommand({ topic: 'ota-homeassistant/ota_x/install', payload: 'INSTALL' }, topics)).throw(
        /msg\.payload/,
      );
      const refusal = (() => {
        try {
          return parseCommand({ topic: 'ota-homeassistant/ota_x/install', payload: 'yes' }, topics);
        } catch (err) {
          return err;
        }
      })();
      should(refusal).have.property('objectId', 'ota_x');
      should(() => parseCommand({ topic: 'elsewhere/ota_x/install', payload: 'install' }, topics)).throw(/msg\.topic/);
      should(() => parseCommand({ topic: 'ota-homeassistant/a/b/install', payload: 'install' }, topics)).throw(
        /msg\.topic/,
      );
      should(() => parseCommand({ topic: 'homeassistant/status', payload: { online: true } }, topics)).throw(
        /msg\.payload/,
      );
      should(() =>
        parseCommand({ topic: 'ota-homeassistant/ota_x/install', payload: 'install', retain: true }, topics),
      ).throw(/msg\.retain must be false: a retained install is refused/);
    });
  });

  it('the selection diff adds what is new and clears what left', function () {
    should(diffSelection(['a', 'b', 'c'], ['b', 'c', 'd'])).eql({ added: ['d'], removed: ['a'] });
    should(diffSelection([], [])).eql({ added: [], removed: [] });
  });

  describe('the pacer', function () {
    it('keeps one message per topic, the newest, in the place of the first', function () {
      const q = new LatestQueue<string>();
      q.put('a', 'a1');
      q.put('b', 'b1');
      q.put('a', 'a2');
      should(q.take(10)).eql(['a2', 'b1']);
      should(q.size).equal(0);
    });

    it('spends at most burst + rate × time tokens over any span', function () {
      const bucket = new TokenBucket(50, 5, 0);
      let spent = 0;
      for (let t = 0; t <= 10_000; t += 7) spent += bucket.take(1000, t);
      should(spent).be.belowOrEqual(5 + 50 * 10);
      should(spent).be.above(450);
    });
  });

  describe('settings', function () {
    it('default the prefix, base topic and rate, and select nothing without a product key', function () {
      should(readHaSettings({})).eql({
        prefix: 'homeassistant',
        base: 'ota-homeassistant',
        ratePerSecond: 100,
        payloadInstall: 'install',
      });
    });

    it('read a selection by product key, module and tag', function () {
      should(readHaSettings({ productKey: 'pk1', module: 'wifi', tag: 'kitchen', rate: '20' })).match({
        selection: { productKey: 'pk1', module: 'wifi', tag: 'kitchen' },
        ratePerSecond: 20,
      });
    });

    it('refuse wildcards, a base topic under the discovery prefix and a rate out of range', function () {
      should(() => readHaSettings({ prefix: 'home/+' })).throw(/discovery prefix/);
      should(() => readHaSettings({ baseTopic: 'homeassistant/ota' })).throw(/outside the discovery prefix/);
      should(() => readHaSettings({ rate: 0 })).throw(/rate/);
      should(() => readHaSettings({ productKey: 'a/b' })).throw(/product key/);
    });
  });
});
