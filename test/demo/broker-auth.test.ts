/**
 * The demo with OTA_BROKER_AUTH=on, in this process: the embedded broker checks every login
 * against the fleet's registry (the demo's hooks, asking the fleet's endpoint), the demo's
 * devices sign with random secrets of their own that the demo registered, and the example flow's
 * mqtt-broker node logs in as the platform. The example still verifies the sample and upgrades
 * every device; a client without a device's secret gets nowhere.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import mqtt from 'mqtt';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { createAedesHooks, httpAuthority } from '../../src/broker';
import { EmbeddedBroker, startEmbeddedBroker } from '../../src/demo/broker';
import { DEMO_PRODUCT, demoFlow } from '../../src/demo/demo-flow';
import { randomPlatformLogin, registerSecrets, storePlatformLogin } from '../../src/demo/logins';
import { demoGroups, groupSecrets, readDemoSettings, SAMPLE_VERSION } from '../../src/demo/start';
import { signLogin } from '../../src/identity';
import { fleetById } from '../../src/nodes/registry';
import { Simulation } from '../../src/sim';
import { mqttNodeModule } from '../helpers/core-nodes';
import { fleetSuite, loadFlow } from '../helpers/fleet-red';
import type { FlowNode } from '../helpers/flow';
import { freePort, waitFor } from '../helpers/http';

const core = path.dirname(
  require.resolve('@node-red/nodes/package.json', { paths: [path.dirname(require.resolve('node-red'))] }),
);
const coreNodes = [
  'common/20-inject.js',
  'common/21-debug.js',
  'common/90-comment.js',
  'function/10-function.js',
  'function/15-change.js',
].map((f) => require(path.join(core, 'core', f)));

describe('the demo with OTA_BROKER_AUTH=on', function () {
  describe('its settings', function () {
    it('the embedded broker listens on 127.0.0.1 and checks no logins unless told', function () {
      should(readDemoSettings({})).match({ mqttHost: '127.0.0.1', brokerAuth: false });
      should(readDemoSettings({ OTA_BROKER_AUTH: 'on' })).match({
        mqttHost: '127.0.0.1',
        brokerAuth: true,
        brokerAuthReason: 'asked',
      });
    });

    it('logins are checked whenever the broker listens beyond this machine, even when OTA_BROKER_AUTH=off', function () {
      for (const host of ['0.0.0.0', '::', '192.168.1.20']) {
        should(readDemoSettings({ MQTT_HOST: host })).match({
          mqttHost: host,
          brokerAuth: true,
          brokerAuthReason: 'forced',
        });
        should(readDemoSettings({ MQTT_HOST: host, OTA_BROKER_AUTH: 'off' })).match({
          brokerAuth: true,
          brokerAuthReason: 'forced',
        });
      }
      should(readDemoSettings({ MQTT_HOST: '::1', OTA_BROKER_AUTH: 'off' })).match({ brokerAuth: false });
    });

    it('refuses settings it cannot honour, saying why', function () {
      should(() => readDemoSettings({ OTA_BROKER_AUTH: 'yes' })).throw('OTA_BROKER_AUTH must be on or off, got "yes"');
      should(() => readDemoSettings({ MQTT_HOST: 'my-laptop' })).throw(/^MQTT_HOST must be an IP address to listen on/);
      should(() => readDemoSettings({ MQTT_URL: 'mqtt://broker.lan:1883', OTA_BROKER_AUTH: 'on' })).throw(
        /^OTA_BROKER_AUTH is for the embedded broker/,
      );
    });

    it("the platform's login goes into the flow's mqtt-broker credentials, and out again when logins are not checked", async function () {
      const dir = await mkdtemp(join(tmpdir(), 'ota-demo-cred-'));
      try {
        const flows = [
          { id: 'b1', type: 'mqtt-broker' },
          { id: 'f1', type: 'ota-fleet' },
        ];
        await writeFile(join(dir, 'flows_cred.json'), JSON.stringify({ f1: { urlSecret: 'kept' } }));
        const login = randomPlatformLogin();
        storePlatformLogin(dir, flows, login);
        should(JSON.parse(await readFile(join(dir, 'flows_cred.json'), 'utf8'))).eql({
          f1: { urlSecret: 'kept' },
          b1: { user: 'ota-platform', password: login.password },
        });
        storePlatformLogin(dir, flows, undefined);
        should(JSON.parse(await readFile(join(dir, 'flows_cred.json'), 'utf8'))).eql({
          f1: { urlSecret: 'kept' },
          b1: {},
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the example flow, the embedded broker checking logins, and 8 signed devices', function () {
    this.timeout(120_000);
    const suite = fleetSuite('demo-auth');
    const lines: string[] = [];
    let broker: EmbeddedBroker;
    const sims: Simulation[] = [];

    after(async function () {
      await Promise.all(sims.map((s) => s.stop()));
      await broker?.close();
    });

    it('every device logs in with its own secret, the sample is verified and the batch upgrades them all', async function () {
      const port = await freePort();
      const { flows, fleetId } = demoFlow(new URL(`mqtt://127.0.0.1:${port}`), suite.nodeUrl);
      const platform = randomPlatformLogin();
      const hooks = createAedesHooks({
        authority: httpAuthority({ url: `${suite.adminUrl}/ota/fleets/${fleetId}` }),
        platform,
        log: (line) => lines.push(line),
      });
      broker = await startEmbeddedBroker(port, '127.0.0.1', hooks);
      const mqttBroker = flows.find((n) => n.type === 'mqtt-broker') as FlowNode;
      await loadFlow(
        flows as FlowNode[],
        { [mqttBroker.id]: { user: platform.username, password: platform.password } },
        [mqttNodeModule, ...coreNodes],
      );
      const fleet = () => fleetById(fleetId)?.fleet;
      await waitFor('the fleet', async () => fleet(), 10_000);

      const groups = demoGroups(8, broker.url, true);
      const secrets = groupSecrets(groups);
      should(secrets).have.length(8);
      should(new Set(secrets.map((s) => s.deviceSecret)).size).equal(8);
      await registerSecrets(`${suite.adminUrl}/ota/fleets/${fleetId}`, secrets);
      for (const options of groups)
        sims.push(
          new Simulation({ ...options, timing: { ...options.timing, bootMs: 200, rebootMs: 100, burnMs: 100 } }),
        );
      await Promise.all(sims.map((s) => s.start()));
      await waitFor(
        '8 devices in the inventory',
        async () => (fleet()?.devices({ productKey: DEMO_PRODUCT }).length === 8 ? true : undefined),
        30_000,
      );

      const upload = flows.find((n) => n.type === 'inject' && n.name === 'upload firmware') as FlowNode;
      helper.getNode(upload.id).receive({});
      const verified = await waitFor(
        'the verification',
        async () =>
          fleet()
            ?.listFirmware(DEMO_PRODUCT)
            .find((f) => f.version === SAMPLE_VERSION && f.verification === 'verified'),
        60_000,
      );
      const push = flows.find((n) => n.type === 'ota-push') as FlowNode;
      helper.getNode(push.id).receive({
        payload: {
          firmwareId: verified.id,
          type: 'static',
          targets: { selection: 'ALL' },
          strategy: { retryCount: 1, retryInterval: 0.05 },
        },
      });
      const batch = await waitFor(
        'the batch to complete',
        async () =>
          fleet()
            ?.listBatches()
            .find((b) => b.type === 'static' && b.state === 'COMPLETED'),
        90_000,
      );
      should(batch.counts).match({ SUCCEEDED: 6, FAILED: 0 });
      should(sims.reduce((n, s) => n + s.summary().upgraded, 0)).equal(8);
      should(lines).eql([], 'the broker refused a login or a message of the demo');

      // Without a device's secret, nobody gets in: not anonymously, not as a registered device, not as a new one.
      const attempts: mqtt.IClientOptions[] = [
        { clientId: 'intruder' },
        signLogin({ productKey: DEMO_PRODUCT, deviceName: 'test-001', deviceSecret: 'guessed' }),
        signLogin({ productKey: DEMO_PRODUCT, deviceName: 'device-999', deviceSecret: 'guessed' }),
      ];
      for (const options of attempts) {
        const code = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, ...options }).then(
          async (client) => (await client.endAsync(true), 0),
          (err: { code?: number }) => err.code,
        );
        should(code).equal(5, `${options.clientId} got in`);
      }
      should(lines).have.length(3);
    });
  });
});
