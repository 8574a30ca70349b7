import should from 'should';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { storeFleetStore } from '../../src/demo/cluster';
import { demoFlow, sharedTopic } from '../../src/demo/demo-flow';
import { readDemoSettings } from '../../src/demo/start';

const STORE = 'postgres://ota:s3cret-pw@db.example:5432/fleet';

describe('npm start as one instance of a cluster (OTA_STORE_URL)', function () {
  it('takes the store, the broker, a subscription group and one package directory for all instances', function () {
    const settings = readDemoSettings({ OTA_STORE_URL: STORE, MQTT_URL: 'mqtt://localhost:1883', PORT: '1881' });
    should(settings.cluster).eql({ storeUrl: STORE, group: 'ota', packageDir: resolve('.ota-packages') });
    // Two instances on one machine each keep their Node-RED in a directory of their own.
    should(settings.dir).equal(resolve('.ota-demo-1881'));
    should(readDemoSettings({}).cluster).be.undefined();
    should(readDemoSettings({}).dir).equal(resolve('.ota-demo'));
  });

  it('refuses a store without a broker of its own, since the embedded one has no shared subscriptions', function () {
    should(() => readDemoSettings({ OTA_STORE_URL: STORE })).throw(/set MQTT_URL too/);
  });

  it('refuses a store that is no postgres:// URL without repeating it (it may hold a password)', function () {
    let message = '';
    try {
      readDemoSettings({ OTA_STORE_URL: 'mysql://ota:s3cret-pw@db/fleet', MQTT_URL: 'mqtt://localhost:1883' });
    } catch (err) {
      message = (err as Error).message;
    }
    should(message).equal('OTA_STORE_URL must look like postgres://user:password@host:5432/database');
    should(() =>
      readDemoSettings({ OTA_STORE_URL: STORE, MQTT_URL: 'mqtt://localhost:1883', OTA_SHARE_GROUP: 'a/b' }),
    ).throw(/^OTA_SHARE_GROUP must be 1 to 64 letters/);
  });

  it('subscribes every mqtt in of the flow as a member of the group, and names the shared package directory', function () {
    const flow = demoFlow(new URL('mqtt://localhost:1883'), 'http://localhost:1881', false, {
      group: 'ota',
      packageDir: '/srv/ota-packages',
    });
    const topics = flow.flows.filter((n) => n.type === 'mqtt in').map((n) => n.topic as string);
    should(topics.length).be.above(2);
    should(topics.every((t) => t.startsWith('$share/ota/'))).be.true();
    should(flow.flows.find((n) => n.type === 'ota-fleet')?.packageDir).equal('/srv/ota-packages');
    should(sharedTopic('$share/old/a/b', undefined)).equal('a/b');
    should(sharedTopic('$share/old/a/b', 'new')).equal('$share/new/a/b');
  });

  it('gives the fleet its store as a credential, readable by this user only, and takes it away again', function () {
    const dir = mkdtempSync(join(tmpdir(), 'ota-cluster-cred-'));
    try {
      const flows = [
        { id: 'f1', type: 'ota-fleet' },
        { id: 'b1', type: 'mqtt-broker' },
      ];
      storeFleetStore(dir, flows, STORE);
      const file = join(dir, 'flows_cred.json');
      should(JSON.parse(readFileSync(file, 'utf8'))).eql({ f1: { storeUrl: STORE } });
      should(statSync(file).mode & 0o077).equal(0);
      storeFleetStore(dir, flows, undefined);
      should(JSON.parse(readFileSync(file, 'utf8'))).eql({ f1: {} });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
