/**
 * Feeding fuzz cases (test/helpers/fuzz.ts) into deployed OTA nodes bound to one fleet, one at a
 * time, under fast-check: each must end in done(err) reaching the Catch node with the refusal
 * it was built for, send nothing on any output, and change nothing in the fleet.
 */
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import should from 'should';
import type { Fleet } from '../../src/fleet';
import { fleetById, FleetHandle } from '../../src/nodes/registry';
import { catchAll } from './core-nodes';
import { countChanges, FleetSnapshot, snapshot, watchUncaught } from './fleet-state';
import { eventually, FleetSuite, fleetConfig, loadFlow, t1, t3 } from './fleet-red';
import { FlowNode, node, onTab, probe } from './flow';
import type { FuzzCase, FuzzTarget } from './fuzz';
import type { Msg } from './red';

/** The fuzzed platform: every ingress node bound to (or beside) one fleet, a probe on every output. */
export interface FuzzFlow {
  flow: FlowNode[];
  fleet: FlowNode;
  inform: FlowNode;
  progress: FlowNode;
  push: FlowNode;
  /** Device role, no fleet (it checks what a device downloaded). */
  verify: FlowNode;
  outputs: FlowNode[];
  caught: FlowNode;
}

export function fuzzFlow(suite: FleetSuite): FuzzFlow {
  const fleet = fleetConfig(suite, { requireVerification: false });
  const [informed, progressed, sent, events, passed, failed, caught] = Array.from({ length: 7 }, () => probe());
  const inform = node('ota-inform', { role: 'platform', fleet: fleet.id }, [[informed.id]]);
  const progress = node('ota-progress', { role: 'platform', fleet: fleet.id }, [[progressed.id]]);
  const push = node('ota-push', { fleet: fleet.id }, [[sent.id], [events.id]]);
  const verify = node('ota-verify', { role: 'device', productKey: 'pk1', deviceName: 'dev-000' }, [
    [passed.id],
    [failed.id],
  ]);
  const outputs = [informed, progressed, sent, events, passed, failed];
  const flow = onTab(fleet, inform, progress, push, verify, catchAll(caught), ...outputs, caught);
  return { flow, fleet, inform, progress, push, verify, outputs, caught };
}

/**
 * What reaches the probes, and a way to wait for the next message anywhere. Only the last caught
 * message is kept (a long run catches hundreds of thousands, some of 64 KiB); anything sent on
 * an output is a failure and is kept.
 */
class Outlets {
  caughtCount = 0;
  lastCaught: Msg | undefined;
  readonly sent: Msg[] = [];
  private wake: (() => void) | undefined;

  constructor(f: FuzzFlow) {
    helper.getNode(f.caught.id).on('input', (msg: Msg) => {
      this.caughtCount++;
      this.lastCaught = msg;
      this.wake?.();
    });
    for (const out of f.outputs) {
      helper.getNode(out.id).on('input', (msg: Msg) => {
        this.sent.push({ ...msg, _probe: out.id });
        this.wake?.();
      });
    }
  }

  get total(): number {
    return this.caughtCount + this.sent.length;
  }

  /** Forgets what arrived so far. */
  reset(): void {
    this.caughtCount = 0;
    this.lastCaught = undefined;
    this.sent.splice(0);
  }

  /** Resolves when more than `seen` messages arrived in all, or after `ms`. */
  async beyond(seen: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.total <= seen) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

export interface Deployed {
  f: FuzzFlow;
  /** The fleet's events; its store through `ask`. */
  fleet: Fleet;
  ask: FleetHandle['ask'];
  target: FuzzTarget;
  outlets: Outlets;
}

const DEVICES = Array.from({ length: 20 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);

/**
 * Deploys the fuzz flow and gives its fleet something to lose: 20 devices at 1.0.0, a batch to
 * 2.0.0 of 10 of them (notified; 5 of them upgrading), no retries or timeouts, so nothing moves
 * on its own while the fuzz runs.
 */
export async function deployFuzzed(suite: FleetSuite): Promise<Deployed> {
  const f = fuzzFlow(suite);
  await loadFlow(f.flow);
  const outlets = new Outlets(f);
  const handle = fleetById(f.fleet.id) as FleetHandle;
  should.exist(handle);
  const { fleet, ask } = handle;
  for (const name of DEVICES) helper.getNode(f.inform.id).receive(t1('pk1', name, '1.0.0'));
  await eventually('the inventory', async () => (await ask((x) => x.devices().length)) === DEVICES.length);
  helper.getNode(f.push.id).receive({
    _msgid: 'batch',
    payload: {
      firmware: { version: '2.0.0', url: 'https://cdn.example.com/pk1/2.0.0.bin', size: 1024, md5: 'a'.repeat(32) },
      type: 'static',
      targets: { selection: 'SPECIFIC', productKey: 'pk1', devices: DEVICES.slice(0, 10) },
      strategy: { retryCount: 0 },
    },
  });
  await eventually('the notices', async () => (await ask((x) => x.listBatches()[0]?.counts.NOTIFIED)) === 10);
  for (const name of DEVICES.slice(0, 5)) helper.getNode(f.progress.id).receive(t3('pk1', name, 50));
  await eventually('the progress', async () => (await ask((x) => x.listBatches()[0].counts.IN_PROGRESS)) === 5);
  const batch = (await ask((x) => x.listBatches()))[0];
  await new Promise((r) => setTimeout(r, 200)); // the last events of the seeding
  should(outlets.caughtCount).equal(0, `the seeding was refused: ${JSON.stringify(outlets.lastCaught?.error)}`);
  outlets.reset();
  return {
    f,
    fleet,
    ask,
    outlets,
    target: { productKey: 'pk1', devices: DEVICES, batchId: batch.id, firmwareId: batch.firmwareId },
  };
}

export interface FuzzFigures {
  node: string;
  messages: number;
  seed: number;
  ms: number;
  /** Distinct kinds of defect tried (topic, encoding, field and form, without the values). */
  kinds: number;
  outcome: string;
}

/** A defect's kind: its description without the values (for counting how many kinds were tried). */
function kindOf(defect: string): string {
  return defect
    .replace(/ = .*$/, '')
    .replace(/ \(oversized\)$/, '')
    .replace(/ missing$/, '')
    .replace(/\b[0-9a-f]{2,}\b/g, 'N')
    .replace(/\d+/g, 'N');
}

function preview(c: FuzzCase): string {
  const show = (v: unknown): string => {
    if (Buffer.isBuffer(v)) return `<Buffer ${v.length} bytes ${v.subarray(0, 40).toString('hex')}…>`;
    if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}… (${v.length} chars)` : v);
    try {
      const text = JSON.stringify(v);
      return text === undefined ? String(v) : text.length > 300 ? `${text.slice(0, 300)}…` : text;
    } catch {
      return String(v);
    }
  };
  return `${c.defect} {${Object.entries(c.msg)
    .map(([k, v]) => `${k}: ${show(v)}`)
    .join(', ')}}`;
}

/**
 * Feeds `runs` cases from `cases` into `target`, one at a time, and checks each: a Catch node
 * gets it with the expected refusal from this node, no output sends anything, the fleet
 * announces no change; at the end the stored state equals the state before, no exception
 * escaped and no prototype was polluted.
 */
export async function fuzzNode(
  d: Deployed,
  target: FlowNode,
  cases: fc.Arbitrary<FuzzCase>,
  runs: number,
  seed: number,
): Promise<FuzzFigures> {
  forgetSpiedCalls();
  const before: FleetSnapshot = await d.ask(snapshot);
  const changes = countChanges(d.fleet);
  const uncaught = watchUncaught();
  const kinds = new Set<string>();
  const start = Date.now();
  let n = 0;
  const shown = cases.map((c) => Object.assign(c, { [fc.toStringMethod]: () => preview(c) }));
  try {
    await fc.assert(
      fc.asyncProperty(shown, async (c) => {
        const id = `fuzz-${++n}`;
        if (n % 500 === 0) forgetSpiedCalls();
        const seen = d.outlets.total;
        const caughtBefore = d.outlets.caughtCount;
        helper.getNode(target.id).receive({ ...c.msg, _msgid: id });
        await d.outlets.beyond(seen, 2000);
        // Anything sent on an output, or nothing caught, is a failure.
        should(d.outlets.sent).eql([], `${c.defect}: the node sent a message`);
        should(d.outlets.caughtCount).equal(caughtBefore + 1, `${c.defect}: no error reached the Catch node`);
        const caught = d.outlets.lastCaught as Msg;
        should(caught._msgid).equal(id, `${c.defect}: the Catch node got another message`);
        const error = caught.error as { message: string; code?: string; source: { id: string } };
        should(error.source.id).equal(target.id);
        should(error.message).match(
          c.names,
          `${c.defect}: the refusal ${JSON.stringify(error.message)} does not match ${c.names}`,
        );
        should(error.code).equal(c.code, `${c.defect}: ${error.message}`);
        should(changes.count).equal(0, `${c.defect}: the fleet changed (${JSON.stringify(changes.kinds)})`);
        should(uncaught.errors).eql([]);
        kinds.add(kindOf(c.defect));
      }),
      { numRuns: runs, seed, endOnFailure: false },
    );
    await new Promise((r) => setTimeout(r, 100));
    should(d.outlets.sent).eql([]);
    should(changes.count).equal(0);
    should(uncaught.errors).eql([]);
    should(({} as Record<string, unknown>).polluted).be.undefined();
    should(await d.ask(snapshot)).eql(before);
  } finally {
    changes.stop();
    uncaught.stop();
  }
  return {
    node: String(target.type),
    messages: n,
    seed,
    ms: Date.now() - start,
    kinds: kinds.size,
    outcome: 'every message refused, nothing sent, nothing changed',
  };
}

/**
 * The test helper wraps every Node method (error, status, send, …) and the log in sinon spies
 * that keep each call with its arguments and an Error for its call stack: 100,000 refusals would
 * keep 100,000 messages, errors and stacks (4 GB). The spies sit behind a Proxy, which sinon's
 * restore does not take out, so their record is cleared instead.
 */
function forgetSpiedCalls(): void {
  const h = helper as unknown as { _NodePrototype?: Record<string, unknown>; _logSpy?: { resetHistory?(): void } };
  for (const name of ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send']) {
    const method = h._NodePrototype?.[name] as { resetHistory?(): void } | undefined;
    method?.resetHistory?.();
  }
  h._logSpy?.resetHistory?.();
}

/** Prints figures in one line, for RELIABILITY.md. */
export function printFigures(what: string, figures: object): void {
  console.log(`      figures ${what}: ${JSON.stringify(figures)}`);
}
