/** Lint keeps the layers pointing one way: protocol ← identity ← fleet ← nodes. */
import should from 'should';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

async function refusals(file: string, code: string, rule = 'no-restricted-imports'): Promise<string[]> {
  const { ESLint } = (await import('eslint')) as typeof import('eslint');
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  return result.messages.filter((m) => m.ruleId === rule).map((m) => m.message);
}

describe('the layers, as lint enforces them', function () {
  this.timeout(30_000);

  it('src/protocol may import neither the fleet, the nodes nor node-red', async function () {
    const found = await refusals(
      'src/protocol/probe.ts',
      "import { Fleet } from '../fleet';\nimport type { Node } from 'node-red';\nexport { Fleet };\nexport type { Node };\n",
    );
    should(found).eql([
      "'../fleet' import is restricted from being used by a pattern. src/protocol may not import a layer above it (protocol ← identity ← fleet ← nodes)",
      "'node-red' import is restricted from being used by a pattern. src/protocol does not use this runtime",
    ]);
  });

  it('src/fleet never imports node-red, and only the store imports the database driver', async function () {
    should(await refusals('src/fleet/probe.ts', "import Database from 'better-sqlite3';\nexport { Database };\n")).eql([
      "'better-sqlite3' import is restricted from being used by a pattern. only the store files use the database driver",
    ]);
    should(
      await refusals('src/fleet/sqlite-store.ts', "import Database from 'better-sqlite3';\nexport { Database };\n"),
    ).eql([]);
  });

  it('the simulator uses identity and protocol, never the fleet', async function () {
    should(
      await refusals('src/sim/probe.ts', "import { parseManifest } from '../identity';\nexport { parseManifest };\n"),
    ).eql([]);
    should(
      await refusals('src/sim/probe.ts', "import { Fleet } from '../fleet/fleet';\nexport { Fleet };\n"),
    ).have.length(1);
  });

  it('a node reaches the fleet through its facade, not its store or in-memory state', async function () {
    const code = (expr: string) =>
      `import type { Fleet } from '../fleet';\nexport const f = (fleet: Fleet) => ${expr};\n`;
    should(await refusals('src/nodes/probe.ts', code('fleet.store.firmware("x")'), 'no-restricted-syntax')).eql([
      'nodes use the Fleet facade (src/fleet/fleet.ts), not its store or in-memory state',
    ]);
    should(await refusals('src/nodes/probe.ts', code('fleet.openBatches.size'), 'no-restricted-syntax')).have.length(1);
    should(await refusals('src/nodes/probe.ts', code('fleet.attachEgress("push-1")'), 'no-restricted-syntax')).eql([]);
  });

  it("a node calls the fleet's store-touching methods only inside handle.ask", async function () {
    const code = (body: string) =>
      `import type { FleetHandle } from './registry';\nexport const probe = (handle: FleetHandle) => ${body};\n`;
    const asked =
      "a call that reads or writes the fleet's store goes through the handle: await handle.ask((f) => f.x(…))";
    should(await refusals('src/nodes/probe.ts', code('handle.fleet.findFirmware("x")'), 'no-restricted-syntax')).eql([
      asked,
    ]);
    should(
      await refusals(
        'src/nodes/probe.ts',
        code('{ const { fleet } = handle; return fleet.createBatch({}); }'),
        'no-restricted-syntax',
      ),
    ).eql([asked]);
    should(
      await refusals('src/nodes/probe.ts', code('handle.ask((f) => f.findFirmware("x"))'), 'no-restricted-syntax'),
    ).eql([]);
    should(await refusals('src/nodes/probe.ts', code('handle.fleet.totals()'), 'no-restricted-syntax')).eql([]);
  });
});
