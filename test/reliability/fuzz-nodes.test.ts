/**
 * Bad input into every ingress node: seeded fast-check runs of malformed messages (wrong types,
 * missing and extra fields, huge strings, deep nesting, invalid UTF-8, binary, wrong topics,
 * injection attempts in product keys and device names), each with exactly one defect. Every one
 * must be refused with an error naming what is wrong, send nothing and change nothing.
 * FUZZ_RUNS and FUZZ_SEED size and seed the run (the soak runs more: test/soak/).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import helper from 'node-red-node-test-helper';
import should from 'should';
import { fleetSuite } from '../helpers/fleet-red';
import { watchUncaught } from '../helpers/fleet-state';
import type { FlowNode } from '../helpers/flow';
import { deviceMessageCases, nested, pushCases, verifyCases } from '../helpers/fuzz';
import { deployFuzzed, fuzzNode, printFigures } from '../helpers/fuzz-run';

helper.init(require.resolve('node-red'));

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801);

describe('reliability: malformed messages into every ingress node', function () {
  this.timeout(0);
  const suite = fleetSuite('fuzz');
  let scratch: string;

  before(function () {
    scratch = mkdtempSync(join(tmpdir(), 'ota-fuzz-files-'));
  });

  after(function () {
    rmSync(scratch, { recursive: true, force: true });
  });

  it(`ota-inform (platform) refuses ${RUNS} malformed T1/T4/T6/T8 messages, each naming the field, and nothing changes`, async function () {
    const d = await deployFuzzed(suite);
    printFigures(
      'fuzz ota-inform',
      await fuzzNode(d, d.f.inform, deviceMessageCases(d.target, ['T1', 'T4', 'T6', 'T8']), RUNS, SEED),
    );
  });

  it(`ota-progress (platform) refuses ${RUNS} malformed T3 messages, each naming the field, and nothing changes`, async function () {
    const d = await deployFuzzed(suite);
    printFigures(
      'fuzz ota-progress',
      await fuzzNode(d, d.f.progress, deviceMessageCases(d.target, ['T3']), RUNS, SEED + 1),
    );
  });

  it(`ota-verify (device) refuses ${RUNS} broken notices and packages, each naming the field`, async function () {
    const d = await deployFuzzed(suite);
    const cases = verifyCases({ missingFile: join(scratch, 'no-such-package.bin'), dir: scratch });
    printFigures('fuzz ota-verify', await fuzzNode(d, d.f.verify, cases, RUNS, SEED + 2));
  });

  it(`ota-push refuses ${RUNS} garbage controls, batch requests and direct pushes, and no batch moves`, async function () {
    const d = await deployFuzzed(suite);
    printFigures('fuzz ota-push', await fuzzNode(d, d.f.push, pushCases(d.target), RUNS, SEED + 3));
  });
});

describe('reliability: malformed messages the fuzz run leaves out (findings)', function () {
  this.timeout(20_000);
  const suite = fleetSuite('fuzz-findings');

  /** Feeds one message and returns what the Catch node got for it (or undefined). */
  async function refusalOf(
    d: Awaited<ReturnType<typeof deployFuzzed>>,
    target: FlowNode,
    msg: Record<string, unknown>,
  ): Promise<{ message: string; code?: string } | undefined> {
    helper.getNode(target.id).receive({ _msgid: 'finding', ...msg });
    await d.outlets.beyond(0, 1000);
    return d.outlets.lastCaught?.error as { message: string; code?: string } | undefined;
  }

  // Found by this suite (ota-push turned msg.action into a string first: ["cancel"] canceled) and fixed.
  it('a msg.action that is an array, not a string, is refused and the batch keeps running', async function () {
    const d = await deployFuzzed(suite);
    const error = await refusalOf(d, d.f.push, { action: ['cancel'], batchId: d.target.batchId });
    should(error?.message).match(/^ProtocolError: (msg\.)?action must be/);
    should(d.fleet.batch(d.target.batchId).state).equal('IN_PROGRESS');
  });

  // Found by this suite ("TypeError: Cannot convert object to primitive value") and fixed.
  it('a msg.action without a prototype is refused naming msg.action', async function () {
    const d = await deployFuzzed(suite);
    const error = await refusalOf(d, d.f.push, { action: Object.create(null), batchId: d.target.batchId });
    should(error?.message).match(/^ProtocolError: (msg\.)?action must be/);
  });

  // Found by this suite and fixed: Node-RED deep-clones the message for the Catch node, and a parsed
  // payload this deep (20 KB from any device when `mqtt in` parses JSON) overflowed the stack and
  // took red.js down. Refused messages now have such properties replaced before done(err).
  it('a parsed payload nested 10,000 deep is refused naming the field, and nothing escapes', async function () {
    const d = await deployFuzzed(suite);
    const uncaught = watchUncaught();
    try {
      const error = await refusalOf(d, d.f.inform, {
        topic: '/ota/device/inform/pk1/dev-000',
        payload: { params: { version: nested(10_000) } },
      });
      should(error?.message).match(/^ProtocolError: params\.version must be a string/);
      should(uncaught.errors).eql([]);
    } finally {
      uncaught.stop();
    }
  });
});
