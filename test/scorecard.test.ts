/**
 * The Flow Library's scorecard (`node-red-dev validate`), checked offline. The tool itself needs the
 * internet: it reads npm's metadata and the Flow Library catalogue. Each check below does what the
 * tool's check of the same code does, reading the files of this package; where the tool asks the
 * network, it uses the registry's answer recorded in REGISTRY (refresh it with
 * `npm view node-red dist-tags engines` and `npm view <dependency> version`).
 */
import fs from 'node:fs';
import path from 'node:path';
import should from 'should';
import ts from 'typescript';

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  license?: string;
  repository?: { url?: string };
  bugs?: unknown;
  keywords?: string[];
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  'node-red': { version?: string; nodes: Record<string, string> };
};
const nodeRedDir = path.dirname(require.resolve('node-red'));
const semver = require(require.resolve('semver', { paths: [nodeRedDir] })) as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};

/** What npm's registry answered on 2026-12-05. */
const REGISTRY = {
  nodeRed: { distTags: { latest: '5.0.7' }, latestEngines: '>=22.9' },
  latest: { 'better-sqlite3': '13.2.0', busboy: '1.6.0', mqtt: '5.16.0', pg: '8.23.1' } as Record<string, string>,
};

/**
 * Dependencies that stay behind their newest major on purpose, each with the README's reason. The
 * scorecard shows D03 for them; the README's "Flow Library scorecard" section says why.
 */
const BEHIND_ON_PURPOSE: Record<string, string> = {
  'better-sqlite3': 'better-sqlite3 13 needs Node 22; 12 stays while Node 20 is supported',
};

/** The tool's incompatible packages (its badpackages.json). */
const BAD_PACKAGES: Record<string, string> = { 'agent-base': '<6.0.0' };

/** node-red-dev's P04 patterns, as it writes them. */
const SCOPED = /@[a-z\d][\w-.]+\/[a-z\d][\w-.]*/;
const NODE_RED_PREFIX_WITHOUT_CONTRIB = /^(node-red|nodered)(?!-contrib-).*/i;

interface NodeDefinition {
  category?: string;
  notInline: string[];
}

/**
 * The node definitions of an editor file as the tool reads them: every registerType call in a
 * `<script type="text/javascript">` block, with the properties it requires written inline.
 */
function nodeDefinitions(htmlFile: string): Map<string, NodeDefinition> {
  const html = fs.readFileSync(htmlFile, 'utf8');
  const blocks = [...html.matchAll(/<script.+?type=['"]text\/javascript['"].*?>([\S\s]*?)<\/script>/gi)].map(
    (m) => m[1],
  );
  const defs = new Map<string, NodeDefinition>();
  for (const block of blocks) {
    const source = ts.createSourceFile('block.js', block, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
    const visit = (node: ts.Node): void => {
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        node.expression.name.text === 'registerType'
      ) {
        const [type, definition] = node.arguments;
        if (!type || !ts.isStringLiteral(type)) throw new Error(`${htmlFile}: registerType with a non-literal type`);
        if (!definition || !ts.isObjectLiteralExpression(definition))
          throw new Error(`${htmlFile}: ${type.text} is not defined by an object literal`);
        defs.set(type.text, readDefinition(definition));
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return defs;
}

function readDefinition(definition: ts.ObjectLiteralExpression): NodeDefinition {
  const result: NodeDefinition = { notInline: [] };
  for (const property of definition.properties) {
    if (!ts.isPropertyAssignment(property) || !property.name || !ts.isIdentifier(property.name)) continue;
    const key = property.name.text;
    const value = property.initializer;
    const literal = ts.isStringLiteral(value) || ts.isNumericLiteral(value);
    if (['icon', 'color', 'inputs', 'outputs', 'category'].includes(key) && !literal) result.notInline.push(key);
    if (['defaults', 'credentials'].includes(key) && !ts.isObjectLiteralExpression(value)) result.notInline.push(key);
    if (key === 'category' && ts.isStringLiteral(value)) result.category = value.text;
  }
  return result;
}

function exampleTypes(): Set<string> {
  const dir = path.join(root, 'examples');
  const types = new Set<string>();
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    for (const n of JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { type: string }[]) types.add(n.type);
  }
  return types;
}

describe('the Flow Library scorecard, offline', function () {
  it('P01: states its license as an SPDX id, with the text in LICENSE', function () {
    should(pkg.license).equal('Apache-2.0');
    should(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')).match(/Apache License\s+Version 2\.0/);
  });

  it('P03: gives a repository and a place for bugs', function () {
    should(pkg.repository?.url).match(/^git\+https:\/\/github\.com\/.+\.git$/);
    should(pkg.bugs).be.ok();
  });

  it('P04: uses a scoped name, as packages first published after 2021 should', function () {
    should(pkg.name).match(SCOPED);
    // The tool's second rule binds unscoped names only; it is kept here so a rename cannot break it.
    const unscoped = !SCOPED.test(pkg.name);
    should(unscoped && NODE_RED_PREFIX_WITHOUT_CONTRIB.test(pkg.name)).be.false();
  });

  it('P05: carries the node-red keyword', function () {
    should(pkg.keywords).containEql('node-red');
  });

  it("P06: declares a Node-RED range that npm's latest and maintenance releases satisfy", function () {
    const supported = Object.entries(REGISTRY.nodeRed.distTags)
      .filter(([tag]) => /.*maintenance.*|^latest$/.test(tag))
      .map(([, version]) => version);
    should(supported).not.be.empty();
    for (const version of supported) should(semver.satisfies(version, pkg['node-red'].version ?? '')).be.true();
    // And the Node-RED this run uses.
    const installed = (require('node-red/package.json') as { version: string }).version;
    should(semver.satisfies(installed, pkg['node-red'].version ?? '')).be.true();
  });

  it("P07: needs a Node that the latest Node-RED's minimum Node satisfies", function () {
    const minimum = semver.minVersion(REGISTRY.nodeRed.latestEngines);
    should(minimum).be.ok();
    should(semver.satisfies(minimum!.version, pkg.engines?.node ?? '')).be.true();
  });

  describe('N01, N02: the nodes', function () {
    const files = Object.entries(pkg['node-red'].nodes);
    const defs = new Map<string, NodeDefinition>();
    before(function () {
      for (const [, file] of files) {
        for (const [type, def] of nodeDefinitions(path.join(root, file.replace(/\.js$/, '.html')))) defs.set(type, def);
      }
    });

    it('every node file has a definition the tool can read, with its properties written inline', function () {
      should([...defs.keys()].sort()).eql(files.map(([type]) => type).sort());
      for (const [type, def] of defs) should({ type, notInline: def.notInline }).eql({ type, notInline: [] });
    });

    it('N01: node types carry the ota- prefix, so none is a core type or another package’s usual name', function () {
      for (const type of defs.keys()) should(type).match(/^ota-[a-z]+$/);
    });

    it('N02: every node but the config nodes appears in an example flow', function () {
      const used = exampleTypes();
      const missing = [...defs].filter(([type, def]) => def.category !== 'config' && !used.has(type)).map(([t]) => t);
      should(missing).eql([]);
    });
  });

  describe('D01–D03: the dependencies', function () {
    it('D01: has at most 6', function () {
      should(Object.keys(pkg.dependencies ?? {}).length).be.belowOrEqual(6);
    });

    it('D02: no known-incompatible package is in the installed dependency tree', function () {
      const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { version?: string; dev?: boolean }>;
      };
      const found = Object.entries(lock.packages)
        .filter(([where, entry]) => where && !entry.dev)
        .map(([where, entry]) => ({ name: where.replace(/^.*node_modules\//, ''), version: entry.version ?? '' }))
        .filter(({ name, version }) => name in BAD_PACKAGES && semver.satisfies(version, BAD_PACKAGES[name]));
      should(found).eql([]);
    });

    it('D03: each range takes the newest release, or the README says why not', function () {
      const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
      for (const [name, range] of Object.entries(pkg.dependencies ?? {})) {
        const latest = REGISTRY.latest[name];
        should.exist(latest, `REGISTRY.latest has no entry for ${name}`);
        if (semver.satisfies(latest, range)) continue;
        should(BEHIND_ON_PURPOSE).have.property(name);
        should(readme.includes(BEHIND_ON_PURPOSE[name])).be.true(`README.md does not say: ${BEHIND_ON_PURPOSE[name]}`);
      }
    });
  });
});
