import should from 'should';
import { demoGroups, readDemoSettings } from '../../src/demo/start';

describe('npm start: its settings', function () {
  it('SIM_DEVICES=0 means no simulated devices (to attach real ones), not an error', function () {
    should(readDemoSettings({ SIM_DEVICES: '0' }).devices).equal(0);
    should(demoGroups(0, 'mqtt://127.0.0.1:1883')).eql([]);
  });

  it('a small fleet gets the test devices first, and no empty group', function () {
    should(demoGroups(1, 'mqtt://127.0.0.1:1883').map((g) => [g.namePrefix, g.devices])).eql([['test-', 1]]);
    should(demoGroups(3, 'mqtt://127.0.0.1:1883').map((g) => [g.namePrefix, g.devices])).eql([
      ['test-', 2],
      ['device-', 1],
    ]);
  });

  it('Node-RED listens on this machine only unless NODE_RED_HOST says otherwise', function () {
    should(readDemoSettings({}).nodeRedHost).equal('127.0.0.1');
    should(readDemoSettings({ NODE_RED_HOST: '0.0.0.0' }).nodeRedHost).equal('0.0.0.0');
    should(() => readDemoSettings({ NODE_RED_HOST: 'my-laptop' })).throw(
      /^NODE_RED_HOST must be an IP address to listen on/,
    );
  });
});
