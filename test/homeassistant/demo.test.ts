/**
 * `OTA_HOMEASSISTANT=on npm start`: the demo publishes a Home Assistant discovery config for
 * every device of demo-product on its broker, as a Home Assistant pointed at it would find them;
 * off (the default), the flow has no Home Assistant node.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import should from 'should';
import { DEMO_PRODUCT, demoFlow, withHomeAssistant } from '../../src/demo/demo-flow';
import { PACKAGE_ROOT } from '../../src/demo/node-red';
import { readDemoSettings } from '../../src/demo/start';
import { ChildRun } from '../helpers/child';
import { freePort, getJson } from '../helpers/http';
import { FakeHomeAssistant } from './ha-client';
import { discoveryProblems } from './ha-schema';

const broker = new URL('mqtt://127.0.0.1:1883');

describe('the demo with OTA_HOMEASSISTANT', function () {
  it('is off by default, on with "on", and refuses anything else', function () {
    should(readDemoSettings({}).homeAssistant).be.false();
    should(readDemoSettings({ OTA_HOMEASSISTANT: 'on' }).homeAssistant).be.true();
    should(() => readDemoSettings({ OTA_HOMEASSISTANT: 'yes' })).throw(
      'OTA_HOMEASSISTANT must be on or off, got "yes"',
    );
  });

  it("adds an ota-homeassistant for demo-product, wired to the flow's broker and fleet, and takes it away again", function () {
    const off = demoFlow(broker, 'http://localhost:1880');
    should(off.flows.filter((n) => n.type === 'ota-homeassistant')).eql([]);
    const on = demoFlow(broker, 'http://localhost:1880', true);
    const [ha] = on.flows.filter((n) => n.type === 'ota-homeassistant');
    should(ha).match({ productKey: DEMO_PRODUCT, fleet: on.fleetId, prefix: 'homeassistant' });
    const brokerId = on.flows.find((n) => n.type === 'mqtt-broker')?.id;
    const feeding = on.flows.filter((n) => (n.wires as string[][] | undefined)?.flat().includes(ha.id));
    should(feeding.map((n) => [n.type, n.topic, n.broker])).eql([
      ['mqtt in', 'ota-homeassistant/+/install', brokerId],
      ['mqtt in', 'ota-homeassistant/availability', brokerId],
      ['mqtt in', 'homeassistant/status', brokerId],
    ]);
    should(withHomeAssistant(on.flows, false)).eql(off.flows);
  });

  describe('npm start', function () {
    this.timeout(120_000);
    let demo: ChildRun | undefined;
    let ha: FakeHomeAssistant | undefined;
    let dir: string;

    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'ota-demo-ha-'));
    });
    after(async function () {
      await ha?.close();
      // SIGTERM, then SIGKILL after 5 s if the demo is still running.
      await demo?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('publishes a valid discovery config for every device of demo-product on the demo broker', async function () {
      const port = await freePort();
      const mqttPort = await freePort();
      demo = ChildRun.node(join(PACKAGE_ROOT, 'build', 'src', 'demo', 'start.js'), [], {
        env: {
          PORT: String(port),
          MQTT_PORT: String(mqttPort),
          OTA_DEMO_DIR: dir,
          SIM_DEVICES: '8',
          OTA_HOMEASSISTANT: 'on',
        },
      });
      await demo.waitForOutput('Settings → Updates', 90_000);
      // Logins are not checked on this machine only: Home Assistant needs none, and gets no file.
      should(existsSync(join(dir, 'homeassistant-login.json'))).be.false();
      ha = await FakeHomeAssistant.connect(`mqtt://127.0.0.1:${mqttPort}`);
      const base = `http://127.0.0.1:${port}`;
      const [fleet] = await getJson<{ id: string }[]>(`${base}/ota/fleets`);
      const devices = await getJson<{ productKey: string; deviceName: string }[]>(
        `${base}/ota/fleets/${fleet.id}/devices`,
      );
      const names = devices
        .filter((d) => d.productKey === DEMO_PRODUCT)
        .map((d) => d.deviceName)
        .sort();
      should(names.length).equal(8); // of 8: 2 test devices, 5 of the main group, 1 legacy, no sensor
      await ha.until(
        'a config for every device of demo-product',
        () =>
          names.every((n) => [...(ha?.configs.values() ?? [])].some((c) => (c.device as { name: string }).name === n)),
        60_000,
      );
      should(ha.configs.size).equal(names.length);
      for (const config of ha.configs.values()) {
        should(discoveryProblems(config)).eql([]);
        should(config).match({ device: { model: DEMO_PRODUCT } });
      }
    });
  });
});
