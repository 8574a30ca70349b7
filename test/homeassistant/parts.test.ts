/** The pure parts of ota-homeassistant: object ids, discovery config, state, commands, the selection diff, the pacer, settings. */
import should from 'should';
import { parseCommand } from '../../src/nodes/homeassistant/command';
import { discoveryConfig } from '../../src/nodes/homeassistant/discovery';
import { diffSelection } from '../../src/nodes/homeassistant/diff';
import { entityTopics, objectIdOf } from '../../src/nodes/homeassistant/entity';
import { LatestQueue, TokenBucket } from '../../src/nodes/homeassistant/pacer';
import { readHaSettings } from '../../src/nodes/homeassistant/settings';
import { entityState } from '../../src/nodes/homeassistant/state';
import { discoveryProblems, REQUIRED_KEYS, stateProblems } from './ha-schema';

const lamp = { productKey: 'pk1', deviceName: 'lamp-1', module: 'default' };
const topics = { prefix: 'homeassistant', base: 'ota-homeassistant', payloadInstall: 'install' };

describe('ota-homeassistant parts', function () {
  describe('object ids', function () {
    it('are made of the names, only of characters HA takes, and stable', function () {
      const id = objectIdOf({ productKey: 'pk.1', deviceName: 'lamp:1 kitchen', module: 'wifi' });
      should(id).match(/^ota_pk_1_lamp_1_kitchen_wifi_[0-9a-f]{8}$/);
      should(objectIdOf({ productKey: 'pk.1', deviceName: 'lamp:1 kitchen', module: 'wifi' })).equal(id);
    });

    it('differ for names that read alike once joined', function () {
      const ids = [
        objectIdOf({ productKey: 'a_b', deviceName: 'c', module: 'default' }),
        objectIdOf({ productKey: 'a', deviceName: 'b_c', module: 'default' }),
        objectIdOf({ productKey: 'a', deviceName: 'b.c', module: 'default' }),
      ];
      should(new Set(ids).size).equal(3);
    });
  });

  describe('the discovery config', function () {
    const objectId = objectIdOf(lamp);
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

    it('is refused by the validator when a key is misspelt or of the wrong type', function () {
      should(discoveryProblems({ ...config, device_clas: 'firmware' })).eql(['device_clas is not a key HA knows']);
      should(discoveryProblems({ ...config, qos: '1' })).eql(['qos must be one of 0, 1, 2, got "1"']);
      should(discoveryProblems({ ...config, command_topic: 'a/+/install' })).match([/command_topic must be/]);
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
        release_url: null,
        in_progress: true,
        update_percentage: 40,
      });
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
      should(state.release_summary.length).equal(255);
      should(state.release_url).equal('https://example.com/1.1.0');
      should(stateProblems(state)).eql([]);
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
