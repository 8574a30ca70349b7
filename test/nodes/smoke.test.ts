import helper from 'node-red-node-test-helper';
import should from 'should';
import { node, onTab, probe } from '../helpers/flow';

const informNode = require('../../../nodes/ota-inform.js');

helper.init(require.resolve('node-red'));

describe('smoke', function () {
  before(function (done) {
    helper.startServer(done);
  });
  after(function (done) {
    helper.stopServer(done);
  });
  afterEach(function () {
    return helper.unload();
  });

  it('a T1 becomes a version event', async function () {
    const out = probe();
    const inform = node('ota-inform', { role: 'platform' }, [[out.id]]);
    await helper.load(informNode, onTab(inform, out));
    const received = new Promise<Record<string, unknown>>((resolve) => helper.getNode(out.id).on('input', resolve));
    helper.getNode(inform.id).receive({ topic: '/ota/device/inform/pk1/dev1', payload: '{"id":1,"params":{"version":"1.0.0"}}' });
    const msg = await received;
    should(msg.payload).eql({ productKey: 'pk1', deviceName: 'dev1', module: 'default', version: '1.0.0', id: 1 });
  });
});
