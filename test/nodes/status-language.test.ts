/**
 * Status texts in the runtime's language: the nodes under the test helper, with RED._ being
 * Node-RED's own i18n (the test helper's RED._ only echoes the key) over the package's catalogs.
 */
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeAPI, NodeStatus } from 'node-red';
import should from 'should';
import { catchAll, catchNodeModule } from '../helpers/core-nodes';
import { node, onTab, probe } from '../helpers/flow';
import { inboxes } from '../helpers/red';

const informNode = require('../../../nodes/ota-inform.js');
const pushNode = require('../../../nodes/ota-push.js');

helper.init(require.resolve('node-red'));

const PACKAGE = '@mqtt-ota/node-red-contrib-mqtt-ota';
const LOCALES = path.resolve(__dirname, '../../../nodes/locales');
const nodeRedDir = path.dirname(require.resolve('node-red'));

interface I18n {
  init(settings: { lang?: string }): void;
  registerMessageCatalog(namespace: string, dir: string, file: string): Promise<void>;
  _(key: string, options?: Record<string, unknown>): string;
  i: { loadLanguages(languages: string[], done: () => void): void };
}
const { i18n } = require(require.resolve('@node-red/util', { paths: [nodeRedDir] })) as { i18n: I18n };

/** Node-RED's runtime i18n with the node's catalog registered, as the runtime loads a node set. */
async function catalogOf(type: string, language: string): Promise<(key: string, params?: object) => string> {
  i18n.init({}); // as Node-RED starts it without settings.lang; a no-op once started
  const namespace = `${PACKAGE}/${type}`;
  await i18n.registerMessageCatalog(namespace, LOCALES, `${type}.json`);
  await new Promise<void>((done) => i18n.i.loadLanguages([language], done));
  return (key, params) => i18n._(`${namespace}:${key}`, { ...params, lng: language });
}

/**
 * A node module given RED._ in `language`, as Node-RED gives one to a node set, whose nodes'
 * statuses are recorded from their construction on (a Status node only sees them once started).
 */
async function inLanguage(
  module: (RED: NodeAPI) => void,
  type: string,
  language: string,
  statuses: NodeStatus[],
): Promise<(RED: NodeAPI) => void> {
  const translate = await catalogOf(type, language);
  return (RED) => {
    (RED as unknown as { _: typeof translate })._ = translate;
    const createNode = RED.nodes.createNode;
    RED.nodes.createNode = (n: Node, config) => {
      createNode(n, config);
      if (n.type !== type) return;
      const show = n.status.bind(n);
      n.status = (status: NodeStatus) => {
        statuses.push(status);
        show(status);
      };
    };
    module(RED);
  };
}

describe('status texts', function () {
  before(function (done) {
    helper.startServer(done);
  });
  after(function (done) {
    helper.stopServer(done);
  });
  afterEach(function () {
    return helper.unload();
  });

  it('a count is worded by the runtime in its language: zh-CN', async function () {
    const statuses: NodeStatus[] = [];
    const out = probe();
    const inform = node('ota-inform', { role: 'platform' }, [[out.id]]);
    await helper.load([await inLanguage(informNode, 'ota-inform', 'zh-CN', statuses)], onTab(inform, out));
    const [output] = inboxes(out.id);
    helper
      .getNode(inform.id)
      .receive({ topic: '/ota/device/inform/pk1/dev1', payload: '{"id":1,"params":{"version":"1.0.0"}}' });
    await output.next();
    should(statuses).eql([{ fill: 'green', shape: 'dot', text: '已收到 1 条上报' }]);
  });

  it('the unverified warning and the count of ota-push are worded together, in en-US as in zh-CN', async function () {
    for (const [language, text] of [
      ['en-US', 'unverified pushes allowed · 0 pushed'],
      ['zh-CN', '允许推送未验证固件 · 已推送 0 条消息'],
    ]) {
      const statuses: NodeStatus[] = [];
      const push = node('ota-push', { allowUnverified: true }, [[], []]);
      await helper.load([await inLanguage(pushNode, 'ota-push', language, statuses)], onTab(push));
      should(statuses).eql([{ fill: 'yellow', shape: 'dot', text }]);
      await helper.unload();
    }
  });

  it('a status without numbers is its catalog key, which the editor reads in its own language', async function () {
    const statuses: NodeStatus[] = [];
    const errors = probe();
    const inform = node('ota-inform', { role: 'platform', fleet: 'not-deployed' }, [[]]);
    await helper.load(
      [await inLanguage(informNode, 'ota-inform', 'en-US', statuses), catchNodeModule],
      onTab(inform, catchAll(errors), errors),
    );
    should(statuses).eql([{ fill: 'red', shape: 'ring', text: 'ota-inform.status.noFleet' }]);
    // What the editor does with it: the node's own namespace, the editor's language.
    const zh = await catalogOf('ota-inform', 'zh-CN');
    const en = await catalogOf('ota-inform', 'en-US');
    should([zh('ota-inform.status.noFleet'), en('ota-inform.status.noFleet')]).eql(['未关联设备群', 'no fleet']);
  });
});
