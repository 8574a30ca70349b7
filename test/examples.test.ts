/**
 * Every example flow deploys in a real Node-RED runtime: each of its nodes is created, so no type
 * is unknown and no constructor refuses its configuration. The MQTT broker nodes try
 * localhost:1883 and may fail to connect: that is fine here, the flow is only deployed.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';

type FlowNode = Record<string, unknown> & { id: string; type: string };

const root = path.resolve(__dirname, '../..');
const examplesDir = path.join(root, 'examples');
const exampleFiles = fs.existsSync(examplesDir)
  ? fs
      .readdirSync(examplesDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  'node-red'?: { nodes?: Record<string, string> };
};

/** Our node modules, as Node-RED loads them: the files package.json lists under node-red.nodes. */
const ourNodeModules = Object.values(pkg['node-red']?.nodes ?? {}).map((file) => require(path.join(root, file)));

// The core nodes ship in @node-red/nodes, found from wherever node-red itself is installed.
const nodeRedDir = path.dirname(require.resolve('node-red'));
const coreDir = path.join(
  path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [nodeRedDir] })),
  'core',
);

/** The core node modules example flows are built from. */
const coreNodeModules = [
  'common/20-inject.js',
  'common/21-debug.js',
  'common/25-catch.js',
  'common/60-link.js',
  'common/90-comment.js',
  'function/10-function.js',
  'function/10-switch.js',
  'function/15-change.js',
  'network/10-mqtt.js',
  'network/21-httprequest.js',
].map((file) => require(path.join(coreDir, file)));

helper.init(require.resolve('node-red'));

/**
 * The flow as Import puts it in the editor: its nodes on a tab (the runtime starts no flow node
 * outside one), its config nodes global. A tab-less export gets a fresh tab.
 */
function onTab(flow: FlowNode[]): FlowNode[] {
  if (flow.some((n) => n.type === 'tab')) return flow;
  const tab: FlowNode = { id: 'examples-test-tab', type: 'tab', label: 'example' };
  return [tab, ...flow.map((n) => (n.x !== undefined && n.z === undefined ? { ...n, z: tab.id } : n))];
}

describe('the example flows in a Node-RED runtime', function () {
  let userDir: string;

  before(async function () {
    // The fleet keeps its store and packages under the user directory: a fresh one, thrown away after.
    userDir = await mkdtemp(path.join(os.tmpdir(), 'ota-examples-'));
    helper.settings({ userDir });
  });
  before(function (done) {
    helper.startServer(done);
  });
  after(function (done) {
    helper.stopServer(done);
  });
  after(async function () {
    helper.settings({});
    await rm(userDir, { recursive: true, force: true });
  });
  afterEach(function () {
    return helper.unload();
  });

  it('include at least one flow', function () {
    should(exampleFiles).not.be.empty();
  });

  for (const example of exampleFiles) {
    it(`"${example}" deploys with every node created`, async function () {
      const flow = JSON.parse(fs.readFileSync(path.join(examplesDir, example), 'utf8')) as FlowNode[];
      await helper.load([...ourNodeModules, ...coreNodeModules], onTab(flow));
      const missing = flow
        .filter((n) => n.type !== 'tab' && n.type !== 'group' && !helper.getNode(n.id))
        .map((n) => `${n.type} ${n.id}`);
      should(missing).eql([], `nodes of ${example} that were not created`);
    });
  }
});
