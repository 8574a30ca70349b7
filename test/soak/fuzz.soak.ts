/** Soak: SOAK_MESSAGES malformed messages into every ingress node, SOAK_REQUESTS bad admin requests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { snapshot } from '../helpers/fleet-state';
import { fleetSuite, httpRequest } from '../helpers/fleet-red';
import { deviceMessageCases, pushCases, verifyCases } from '../helpers/fuzz';
import { adminCases } from '../helpers/fuzz-admin';
import { deployFuzzed, fuzzNode, printFigures } from '../helpers/fuzz-run';

helper.init(require.resolve('node-red'));

const MESSAGES = Number(process.env.SOAK_MESSAGES ?? 100_000);
const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 20_000);
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 2 ** 31);

describe(`soak: ${MESSAGES} malformed messages per ingress node (seed ${SEED})`, function () {
  this.timeout(0);
  const suite = fleetSuite('soak-fuzz');
  let scratch: string;
  before(() => (scratch = mkdtempSync(join(tmpdir(), 'ota-soak-files-'))));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('ota-inform', async function () {
    const d = await deployFuzzed(suite);
    printFigures(
      'soak fuzz ota-inform',
      await fuzzNode(d, d.f.inform, deviceMessageCases(d.target, ['T1', 'T4', 'T6', 'T8']), MESSAGES, SEED),
    );
  });
  it('ota-progress', async function () {
    const d = await deployFuzzed(suite);
    printFigures(
      'soak fuzz ota-progress',
      await fuzzNode(d, d.f.progress, deviceMessageCases(d.target, ['T3']), MESSAGES, SEED + 1),
    );
  });
  it('ota-verify', async function () {
    const d = await deployFuzzed(suite);
    printFigures(
      'soak fuzz ota-verify',
      await fuzzNode(
        d,
        d.f.verify,
        verifyCases({ missingFile: join(scratch, 'missing.bin'), dir: scratch }),
        MESSAGES,
        SEED + 2,
      ),
    );
  });
  it('ota-push', async function () {
    const d = await deployFuzzed(suite);
    printFigures('soak fuzz ota-push', await fuzzNode(d, d.f.push, pushCases(d.target), MESSAGES, SEED + 3));
  });
  it(`the admin API (${REQUESTS} bad requests)`, async function () {
    const d = await deployFuzzed(suite);
    const before = await d.ask(snapshot);
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(
        adminCases({ ...d.target, fleetId: d.f.fleet.id, idle: d.target.devices.slice(10) }),
        async (c) => {
          const a = await httpRequest(suite.adminUrl + c.path, {
            method: c.method,
            headers: c.headers,
            body: c.body === undefined ? undefined : Buffer.from(c.body),
          });
          should(c.expect).containEql(a.status);
          should(Object.keys(JSON.parse(a.body.toString()))).eql(['error']);
          statuses[a.status] = (statuses[a.status] ?? 0) + 1;
        },
      ),
      { numRuns: REQUESTS, seed: SEED + 10 },
    );
    should(await d.ask(snapshot)).eql(before);
    printFigures('soak fuzz admin API', { requests: REQUESTS, seed: SEED + 10, statuses });
  });
});
