/**
 * Benchmark 1, ingest: T1 and T3 messages through `ota-inform` / `ota-progress` bound to a fleet
 * with its SQLite store, in a real Node-RED runtime embedded in this process, against the same
 * messages through a core `json` node, in the same runtime and the same run.
 *
 * Every message is injected by calling the first node's `receive` with what a core `mqtt in` node
 * (datatype buffer) would send — `{topic, payload: Buffer, qos, retain}` — and timed when it
 * reaches a sink (a switched-off debug node). ota-inform and ota-progress send only after the
 * fleet's transaction has committed, so receive → sink is receipt → durable state.
 *
 * Phases, each on its own message set (baseline first, then ours, on the same messages):
 *   T1 new     — every device reports 1.0.0 for the first time (inventory insert);
 *   (a batch to 2.0.0 for all of them is created and pushed: tasks NOTIFIED)
 *   T3 start   — step 10: NOTIFIED → IN_PROGRESS (a logged transition);
 *   T3 step    — step 60: the task's step within IN_PROGRESS;
 *   T1 done    — every device reports 2.0.0: IN_PROGRESS → SUCCEEDED, the batch completes.
 * The phases run twice, on two products of their own: the devices' reports in the order of their
 * names, which is the order of their rows in the store's indexes (a device's rows sit next to the
 * previous device's, so a transaction of 64 reports dirties a few pages), and in a random order
 * (each report dirties pages of its own, as devices that connect and answer when they will do): the
 * two ends of what a fleet sends.
 * Throughput is a closed loop with WINDOW messages in flight; latency is reported under that load
 * and unloaded (one message at a time, on separate devices).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { seededRandom, shuffled, type Fleet } from '../src/fleet';
import { buildProgressReport, buildVersionReport } from '../src/protocol';
import { BenchMessage, Driver, DriveResult, nodeId, RedNode, sinkNode, startRed } from './lib/red';
import { atLeast, BenchOptions, BenchResult, info, log, main, Row, absolute, sig } from './lib/report';
import { now, summarize } from './lib/stats';
import { addFirmware2 } from './lib/fleet';
import { schedSeconds } from './lib/net';

const NAME = 'ingest';
const WINDOW = 64;

interface Prebuilt {
  topic: string;
  payload: Buffer;
}

interface Groups {
  warm: string[];
  load: string[];
  idle: string[];
}

function names(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);
}

/** Devices of one product, in the order they report. */
interface Order {
  label: string;
  product: string;
  groups: Groups;
}

const informs = (product: string, devices: string[], version: string): Prebuilt[] =>
  devices.map((d, i) => ({
    topic: `/ota/device/inform/${product}/${d}`,
    payload: Buffer.from(buildVersionReport({ id: i + 1, version })),
  }));

const progresses = (product: string, devices: string[], step: number): Prebuilt[] =>
  devices.map((d, i) => ({
    topic: `/ota/device/progress/${product}/${d}`,
    payload: Buffer.from(buildProgressReport({ id: i + 1, step, desc: '' })),
  }));

/** What core `mqtt in` (datatype buffer, QoS 1) sends for a message. */
const asMqttIn =
  (messages: Prebuilt[]) =>
  (i: number): BenchMessage => ({ topic: messages[i].topic, payload: messages[i].payload, qos: 1, retain: false });

interface PhaseResult {
  label: string;
  ours: DriveResult;
  oursIdle: DriveResult;
  base: DriveResult;
  baseIdle: DriveResult;
  /** CPU time of this process per message under load (user + system, µs): what a loaded machine changes least. */
  oursCpu: number;
  baseCpu: number;
}

/** Runs `fn` and adds the process's CPU time it took (µs) to `into.us`. */
async function timedCpu<T>(into: { us: number }, fn: () => Promise<T>): Promise<T> {
  const start = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(start);
  into.us += used.user + used.system;
  return result;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const n = options.quick ? 5000 : 20_000;
  const rounds = options.quick ? 2 : 4;
  const groups: Groups = {
    warm: names('w-', options.quick ? 500 : 1000),
    load: names('d-', n),
    idle: names('i-', options.quick ? 500 : 1000),
  };
  const all = [...groups.warm, ...groups.load, ...groups.idle];
  const random = seededRandom(7);
  const orders: Order[] = [
    { label: '', product: 'pk1', groups },
    {
      label: ', random order',
      product: 'pk2',
      groups: {
        warm: shuffled(groups.warm, random),
        load: shuffled(groups.load, random),
        idle: shuffled(groups.idle, random),
      },
    },
  ];

  const tab = nodeId('t');
  const ids = {
    fleet: nodeId('f'),
    inform: nodeId('n'),
    progress: nodeId('p'),
    push: nodeId('u'),
    json: nodeId('j'),
    sinkOurs: nodeId('s'),
    sinkBase: nodeId('b'),
  };
  const flows = [
    { id: tab, type: 'tab', label: 'ingest bench' },
    { id: ids.fleet, type: 'ota-fleet', name: 'bench', requireVerification: false },
    { id: ids.inform, type: 'ota-inform', z: tab, role: 'platform', fleet: ids.fleet, wires: [[ids.sinkOurs]] },
    { id: ids.progress, type: 'ota-progress', z: tab, role: 'platform', fleet: ids.fleet, wires: [[ids.sinkOurs]] },
    // The egress a batch needs; its outputs lead nowhere here (the notices are benchmark 3).
    { id: ids.push, type: 'ota-push', z: tab, fleet: ids.fleet, wires: [[], []] },
    { id: ids.json, type: 'json', z: tab, property: 'payload', action: 'obj', pretty: false, wires: [[ids.sinkBase]] },
    sinkNode(ids.sinkOurs, tab),
    sinkNode(ids.sinkBase, tab),
  ];
  log(NAME, `Node-RED embedded, ${all.length} devices a product (${n} under load, window ${WINDOW})`);
  const red = await startRed(flows, Object.values(ids));
  try {
    const fleet = red.node<{ handle?: { fleet: Fleet } }>(ids.fleet).handle?.fleet;
    if (!fleet) throw new Error('the ota-fleet node did not start its fleet');
    const ours = new Driver(red.node(ids.sinkOurs));
    const base = new Driver(red.node(ids.sinkBase));
    const json = red.node<RedNode>(ids.json);
    const inform = red.node<RedNode>(ids.inform);
    const progress = red.node<RedNode>(ids.progress);

    // Baseline and ours alternate in rounds over slices of the devices, so a burst of load from
    // elsewhere on the machine hits both alike.
    const combine = (parts: DriveResult[]): DriveResult => {
      const count = parts.reduce((a, p) => a + p.count, 0);
      const ms = parts.reduce((a, p) => a + p.ms, 0);
      const latencies = new Float64Array(count);
      let at = 0;
      for (const p of parts) {
        latencies.set(p.latencies, at);
        at += p.count;
      }
      return { count, ms, perSecond: (count * 1000) / ms, latencies };
    };
    const slices = <T>(items: T[]): T[][] => {
      const size = Math.ceil(items.length / rounds);
      return Array.from({ length: rounds }, (_, r) => items.slice(r * size, (r + 1) * size)).filter(
        (s) => s.length > 0,
      );
    };
    const phase = async (
      label: string,
      groups: Groups,
      entry: RedNode,
      build: (devices: string[]) => Prebuilt[],
    ): Promise<PhaseResult> => {
      const warm = build(groups.warm);
      await base.run(json, warm.length, WINDOW, asMqttIn(warm));
      await ours.run(entry, warm.length, WINDOW, asMqttIn(warm));
      const parts = {
        base: [] as DriveResult[],
        ours: [] as DriveResult[],
        baseIdle: [] as DriveResult[],
        oursIdle: [] as DriveResult[],
      };
      const idleSlices = slices(groups.idle);
      const cpu = { base: { us: 0 }, ours: { us: 0 } };
      for (const [r, slice] of slices(groups.load).entries()) {
        const load = build(slice);
        parts.base.push(await timedCpu(cpu.base, () => base.run(json, load.length, WINDOW, asMqttIn(load))));
        parts.ours.push(await timedCpu(cpu.ours, () => ours.run(entry, load.length, WINDOW, asMqttIn(load))));
        const idle = build(idleSlices[r] ?? []);
        if (idle.length === 0) continue;
        parts.baseIdle.push(await base.run(json, idle.length, 1, asMqttIn(idle)));
        parts.oursIdle.push(await ours.run(entry, idle.length, 1, asMqttIn(idle)));
      }
      const result = {
        label,
        ours: combine(parts.ours),
        oursIdle: combine(parts.oursIdle),
        base: combine(parts.base),
        baseIdle: combine(parts.baseIdle),
        oursCpu: cpu.ours.us / groups.load.length,
        baseCpu: cpu.base.us / groups.load.length,
      };
      log(NAME, `${label}: ours ${sig(result.ours.perSecond)} msg/s, json ${sig(result.base.perSecond)} msg/s`);
      return result;
    };

    /** The four phases on one product's devices in one order; its batch ends COMPLETED. */
    const upgrade = async ({ label, product, groups }: Order): Promise<PhaseResult[]> => {
      const results: PhaseResult[] = [];
      results.push(await phase(`T1 new device${label}`, groups, inform, (d) => informs(product, d, '1.0.0')));
      const firmware = addFirmware2(fleet, product);
      const batch = fleet.createBatch(
        { firmwareId: firmware.id, targets: { selection: 'ALL', productKey: product } },
        { egress: ids.push },
      );
      const until = Date.now() + 300_000;
      while (fleet.counts(batch.id).NOTIFIED < all.length) {
        if (Date.now() > until)
          throw new Error(`the batch did not notify every device: ${JSON.stringify(fleet.counts(batch.id))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      log(NAME, `batch ${batch.id}: ${all.length} tasks NOTIFIED`);
      const p = (d: string[], step: number) => progresses(product, d, step);
      results.push(await phase(`T3 NOTIFIED→IN_PROGRESS${label}`, groups, progress, (d) => p(d, 10)));
      results.push(await phase(`T3 step in IN_PROGRESS${label}`, groups, progress, (d) => p(d, 60)));
      results.push(
        await phase(`T1 IN_PROGRESS→SUCCEEDED${label}`, groups, inform, (d) => informs(product, d, '2.0.0')),
      );
      return results;
    };

    const sched0 = schedSeconds('self');
    const wall0 = now();
    const phases: PhaseResult[] = [];
    for (const order of orders) phases.push(...(await upgrade(order)));

    // Durable: a second connection to the file sees every device, task and transition.
    const db = new Database(join(red.userDir, 'ota', ids.fleet, 'fleet.sqlite'), { readonly: true });
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    const stored = {
      devicesAt2: count("SELECT COUNT(*) AS n FROM devices WHERE version = '2.0.0'"),
      succeeded: count("SELECT COUNT(*) AS n FROM tasks WHERE state = 'SUCCEEDED' AND step = 100"),
      transitions: count('SELECT COUNT(*) AS n FROM transitions'),
      batchesCompleted: count("SELECT COUNT(*) AS n FROM batches WHERE state = 'COMPLETED'"),
    };
    db.close();
    const devices = orders.length * all.length;
    const expected = {
      devicesAt2: devices,
      succeeded: devices,
      transitions: 3 * devices,
      batchesCompleted: orders.length,
    };
    const durable = JSON.stringify(stored) === JSON.stringify(expected);

    const sched1 = schedSeconds('self');
    const waiting = (sched1.wait - sched0.wait) / ((now() - wall0) / 1000);
    const rows: Row[] = [];
    for (const p of phases) {
      rows.push(atLeast(NAME, `${p.label}: msg/s`, p.ours.perSecond, p.base.perSecond, 'msg/s', 0.5));
    }
    for (const p of phases) {
      const lo = summarize(p.ours.latencies);
      const lb = summarize(p.base.latencies);
      const io = summarize(p.oursIdle.latencies);
      const ib = summarize(p.baseIdle.latencies);
      rows.push(
        info(
          NAME,
          `${p.label}: p99 latency, window ${WINDOW} / 1`,
          `${sig(lo.p99)} / ${sig(io.p99)} ms`,
          `${sig(lb.p99)} / ${sig(ib.p99)} ms`,
        ),
      );
    }
    for (const p of phases) {
      rows.push(
        info(
          NAME,
          `${p.label}: CPU per message (base ÷ ours)`,
          `${sig(p.oursCpu)} µs`,
          `${sig(p.baseCpu)} µs`,
          `${(p.baseCpu / p.oursCpu).toFixed(2)}×`,
        ),
      );
    }
    rows.push(info(NAME, 'main thread waiting for a CPU (other load)', `${Math.round(waiting * 100)} % of the run`));
    rows.push(
      absolute(
        NAME,
        'durable after the run (2nd connection)',
        `${stored.succeeded} SUCCEEDED, ${stored.transitions} transitions`,
        `= ${expected.succeeded}, ${expected.transitions}`,
        durable,
      ),
    );
    return {
      name: NAME,
      rows,
      details: {
        devices,
        window: WINDOW,
        waitingForCpu: waiting,
        stored,
        expected,
        phases: phases.map((p) => ({
          label: p.label,
          ours: {
            perSecond: p.ours.perSecond,
            ms: p.ours.ms,
            latency: summarize(p.ours.latencies),
            idleLatency: summarize(p.oursIdle.latencies),
            cpuMicrosPerMessage: p.oursCpu,
          },
          json: {
            perSecond: p.base.perSecond,
            ms: p.base.ms,
            latency: summarize(p.base.latencies),
            idleLatency: summarize(p.baseIdle.latencies),
            cpuMicrosPerMessage: p.baseCpu,
          },
        })),
      },
    };
  } finally {
    await red.stop();
  }
}

if (require.main === module) main(run);
