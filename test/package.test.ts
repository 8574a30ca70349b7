/**
 * What a user installing the package gets, checked from the files alone (no Node-RED running):
 * package.json, the editor and help file of every node, and the example flows.
 */
import fs from 'node:fs';
import path from 'node:path';
import should from 'should';

const root = path.resolve(__dirname, '../..');

interface PackageJson {
  name?: string;
  license?: string;
  repository?: string | { type?: string; url?: string };
  keywords?: string[];
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  'node-red'?: { version?: string; nodes?: Record<string, string>; plugins?: Record<string, string> };
}

type FlowNode = Record<string, unknown> & { id: string; type: string; wires?: unknown };

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;
const nodeEntries = Object.entries(pkg['node-red']?.nodes ?? {});
const pluginEntries = Object.entries(pkg['node-red']?.plugins ?? {});
const ourTypes = new Set(nodeEntries.map(([type]) => type));

// The semver that Node-RED itself uses to read `node-red.version`.
const nodeRedDir = path.dirname(require.resolve('node-red'));
const semver = require(require.resolve('semver', { paths: [nodeRedDir] })) as {
  satisfies(version: string, range: string): boolean;
};

const examplesDir = path.join(root, 'examples');
const exampleFiles = fs.existsSync(examplesDir)
  ? fs
      .readdirSync(examplesDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

/** Structural entries of a flow export that are not registered node types. */
const STRUCTURAL_TYPES = new Set(['tab', 'group', 'subflow']);

function read(relative: string): string {
  return fs.readFileSync(path.join(root, relative), 'utf8');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The editor file beside a runtime file: nodes/x.js → nodes/x.html. */
function editorFileOf(file: string): string {
  return file.replace(/\.js$/, '.html');
}

/** Node-RED finds a node file's help in locales/<lang>/<file name>.html beside it. */
function helpFileOf(file: string, language = 'en-US'): string {
  return path.join(path.dirname(file), 'locales', language, `${path.basename(file, '.js')}.html`);
}

/** The sections of a help, by their English heading, in each language: Node-RED's own help words. */
const SECTION_HEADINGS: Record<string, Record<string, string>> = {
  'en-US': { Inputs: 'Inputs', Outputs: 'Outputs', Details: 'Details' },
  'zh-CN': { Inputs: '输入', Outputs: '输出', Details: '详细' },
};

/** The part of an editor file that defines `type`: from its registerType call to the next one. */
function definitionOf(html: string, type: string): string | undefined {
  const start = html.search(new RegExp(`RED\\.nodes\\.registerType\\(\\s*['"]${escapeRegExp(type)}['"]`));
  if (start < 0) return undefined;
  const next = html.indexOf('RED.nodes.registerType(', start + 1);
  return html.slice(start, next < 0 ? undefined : next);
}

/** A config node (category 'config') has no wires, so no Inputs/Outputs and no place in a flow's wiring. */
function isConfigNode(type: string, file: string): boolean {
  const html = path.join(root, editorFileOf(file));
  if (!fs.existsSync(html)) return false;
  const definition = definitionOf(fs.readFileSync(html, 'utf8'), type);
  return definition !== undefined && /category\s*:\s*['"]config['"]/.test(definition);
}

/** Every node type that Node-RED's own @node-red/nodes package registers in its editor files. */
function coreNodeTypes(): Set<string> {
  const nodesPackage = path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [nodeRedDir] }));
  const types = new Set<string>();
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.name.endsWith('.html')) {
        for (const m of fs.readFileSync(full, 'utf8').matchAll(/RED\.nodes\.registerType\(\s*['"]([^'"]+)['"]/g))
          types.add(m[1]);
      }
    }
  };
  visit(path.join(nodesPackage, 'core'));
  return types;
}

function loadExample(file: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8')) as FlowNode[];
}

describe('the package', function () {
  describe('package.json', function () {
    it('names the package @mqtt-ota/node-red-contrib-mqtt-ota, in its scope', function () {
      should(pkg.name).equal('@mqtt-ota/node-red-contrib-mqtt-ota');
    });

    it('states a license', function () {
      should(pkg.license).be.a.String().and.not.be.empty();
    });

    it('points at a repository', function () {
      const url = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
      should(url).be.a.String().and.not.be.empty();
    });

    it('carries the node-red keyword, so the Node-RED library lists it', function () {
      should(pkg.keywords).containEql('node-red');
    });

    it('needs Node.js 20 or later', function () {
      should(pkg.engines?.node).equal('>=20');
    });

    it('declares a Node-RED version range that Node-RED 4.1.0 and 5.0.0 both satisfy', function () {
      const range = pkg['node-red']?.version;
      should(range).be.a.String();
      should(semver.satisfies('4.1.0', range as string)).be.true(`4.1.0 does not satisfy ${range}`);
      should(semver.satisfies('5.0.0', range as string)).be.true(`5.0.0 does not satisfy ${range}`);
    });

    it('has at most 6 runtime dependencies', function () {
      should(Object.keys(pkg.dependencies ?? {}).length).be.belowOrEqual(6);
    });

    it('lists its nodes under node-red.nodes', function () {
      should(nodeEntries.length).be.above(0);
    });
  });

  for (const [type, file] of nodeEntries) {
    describe(`the ${type} node`, function () {
      it(`has its runtime file ${file}`, function () {
        should(fs.existsSync(path.join(root, file))).be.true(`${file} is missing`);
      });

      it(`registers its type in its editor file ${editorFileOf(file)}`, function () {
        const html = editorFileOf(file);
        should(fs.existsSync(path.join(root, html))).be.true(`${html} is missing`);
        should.exist(definitionOf(read(html), type), `${html} has no RED.nodes.registerType('${type}'`);
      });

      it(`has an English help file ${helpFileOf(file)} named for ${type}`, function () {
        const help = helpFileOf(file);
        should(fs.existsSync(path.join(root, help))).be.true(`${help} is missing`);
        should(read(help)).match(new RegExp(`data-help-name=["']${escapeRegExp(type)}["']`));
      });

      for (const language of Object.keys(SECTION_HEADINGS)) {
        it(`has help in ${language} with the sections a reader looks for`, function () {
          const helpFile = helpFileOf(file, language);
          should(fs.existsSync(path.join(root, helpFile))).be.true(`${helpFile} is missing`);
          const help = read(helpFile);
          should(help).match(new RegExp(`data-help-name=["']${escapeRegExp(type)}["']`));
          const sections = isConfigNode(type, file) ? ['Details'] : ['Inputs', 'Outputs', 'Details'];
          for (const section of sections) {
            const heading = SECTION_HEADINGS[language][section];
            should(help).match(new RegExp(`<h3>\\s*${heading}\\s*</h3>`), `no <h3>${heading}</h3> in ${helpFile}`);
          }
        });
      }

      it('is used in at least one example flow, unless it is a config node', function () {
        if (isConfigNode(type, file)) return;
        const users = exampleFiles.filter((example) => loadExample(example).some((n) => n.type === type));
        should(users.length > 0).be.true(`no example in examples/ uses ${type}`);
      });
    });
  }

  for (const [id, file] of pluginEntries) {
    describe(`the ${id} plugin`, function () {
      it(`has its runtime file ${file}`, function () {
        should(fs.existsSync(path.join(root, file))).be.true(`${file} is missing`);
      });

      it(`registers itself in its editor file ${editorFileOf(file)}`, function () {
        const html = editorFileOf(file);
        should(fs.existsSync(path.join(root, html))).be.true(`${html} is missing`);
        should(read(html)).match(new RegExp(`RED\\.plugins\\.registerPlugin\\(\\s*['"]${escapeRegExp(id)}['"]`));
      });
    });
  }

  describe('the example flows', function () {
    const coreTypes = coreNodeTypes();

    it('are there, in examples/', function () {
      should(exampleFiles).not.be.empty();
    });

    for (const example of exampleFiles) {
      describe(`"${example}"`, function () {
        it('parses as a flow: an array of nodes, each with an id and a type', function () {
          const flow = loadExample(example);
          should(flow).be.an.Array().and.not.be.empty();
          for (const n of flow) {
            should(n.id).be.a.String().and.not.be.empty();
            should(n.type).be.a.String().and.not.be.empty();
          }
        });

        it('uses only our node types and the core nodes of Node-RED', function () {
          const flow = loadExample(example);
          const subflows = new Set(flow.filter((n) => n.type === 'subflow').map((n) => `subflow:${n.id}`));
          const unknown = flow
            .map((n) => n.type)
            .filter(
              (type) =>
                !ourTypes.has(type) && !coreTypes.has(type) && !STRUCTURAL_TYPES.has(type) && !subflows.has(type),
            );
          should([...new Set(unknown)]).eql([], `unknown node types in ${example}`);
        });

        it('gives every node its own id', function () {
          const ids = loadExample(example).map((n) => n.id);
          should(ids.filter((id, i) => ids.indexOf(id) !== i)).eql([]);
        });

        it('wires only to nodes of the same flow', function () {
          const flow = loadExample(example);
          const ids = new Set(flow.map((n) => n.id));
          for (const n of flow) {
            if (n.wires === undefined) continue;
            should(n.wires).be.an.Array();
            for (const target of (n.wires as string[][]).flat())
              should(ids.has(target)).be.true(`${n.type} ${n.id} is wired to a missing node ${target}`);
            for (const link of (n.links as string[] | undefined) ?? [])
              should(ids.has(link)).be.true(`${n.type} ${n.id} links to a missing node ${link}`);
          }
        });

        it('refers only to config nodes it contains', function () {
          const flow = loadExample(example);
          const byId = new Map(flow.map((n) => [n.id, n]));
          for (const n of flow) {
            for (const [property, configType] of [
              ['broker', 'mqtt-broker'],
              ['fleet', 'ota-fleet'],
            ] as const) {
              const ref = n[property];
              if (typeof ref !== 'string' || ref === '' || (property === 'broker' && n.type === 'mqtt-broker'))
                continue;
              should(byId.get(ref)?.type).equal(
                configType,
                `${n.type} ${n.id}: ${property} ${ref} is not an ${configType} of this flow`,
              );
            }
          }
        });

        it('explains itself in a comment node', function () {
          const comments = loadExample(example).filter((n) => n.type === 'comment');
          should(comments).not.be.empty();
        });

        it('has function nodes whose code compiles', function () {
          // Node-RED runs a function node's code as the body of an async function.
          const AsyncFunction = (async () => undefined).constructor as FunctionConstructor;
          for (const n of loadExample(example).filter((node) => node.type === 'function')) {
            try {
              new AsyncFunction('msg', 'node', 'context', 'flow', 'global', 'env', 'RED', String(n.func));
            } catch (err) {
              throw new Error(
                `function node "${String(n.name)}" (${n.id}) does not compile: ${(err as Error).message}`,
                { cause: err },
              );
            }
          }
        });
      });
    }
  });
});
