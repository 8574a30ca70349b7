/**
 * Benchmark 3, fan-out: T2 notices emitted by an unthrottled batch through `ota-push`, in a real
 * Node-RED runtime embedded in this process, against a core `function` node emitting the same
 * number of prebuilt messages (same topic, payload and properties) in the same runtime and run.
 * Both are timed to the moment their last message reaches a sink (a switched-off debug node).
 * Ours runs from the return of createBatch (the creation itself is benchmark 2) and includes,
 * per notice: the task's transition persisted (QUEUED → NOTIFIED, one transaction per scheduler
 * pass), a freshly signed download URL (hosted firmware), the notice built, and ota-push's message.
 *
 * Then the rate limit, on a ManualClock (the fleet directly, no Node-RED): notices counted per
 * simulated minute of batch time with maximumPerMinute set, against the setting.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descriptorFor, Fleet, ManualClock, MINUTE, PackageFiles, PackageHost, SqliteStore } from '../src/fleet';
import type { Firmware } from '../src/fleet';
import { upgradeMessage } from '../src/protocol';
import { nodeId, RedNode, sinkNode, startRed } from './lib/red';
import { absolute, atLeast, BenchOptions, BenchResult, info, log, main, num, Row, sig } from './lib/report';
import { median, now } from './lib/stats';
import { addFirmware2, recordDevices } from './lib/fleet';
import { schedSeconds } from './lib/net';

const NAME = 'fanout';

interface Handle {
  fleet: Fleet;
  files: PackageFiles;
  host: PackageHost;
}

/** Counts arrivals at a sink and resolves when `count` have come. */
class Counter {
  private target = 0;
  private seen = 0;
  private done: ((t: number) => void) | undefined;

  constructor(sink: RedNode) {
    sink.on('input', () => {
      this.seen++;
      if (this.done && this.seen >= this.target) {
        const done = this.done;
        this.done = undefined;
        done(now());
      }
    });
  }

  expect(count: number, timeoutMs = 600_000): Promise<number> {
    this.seen = 0;
    this.target = count;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.seen} of ${count} messages reached the sink`)),
        timeoutMs,
      );
      this.done = (t) => {
        clearTimeout(timer);
        resolve(t);
      };
    });
  }
}

async function hostedFirmware(handle: Handle, productKey: string): Promise<Firmware> {
  return addFirmware2(handle.fleet, productKey, await handle.files.save(randomBytes(64 * 1024), 1 << 20));
}

interface RateResult {
  perMinute: number;
  minutes: number[];
  worst: number;
  achieved: number;
}

/** Notices per simulated minute with maximumPerMinute set, over `minutes` minutes of batch time. */
function rateAccuracy(perMinute: number, minutes: number): RateResult {
  const dir = mkdtempSync(join(tmpdir(), 'ota-bench-rate-'));
  const clock = new ManualClock();
  const fleet = new Fleet({
    store: new SqliteStore(join(dir, 'fleet.sqlite')),
    clock,
    settings: { requireVerification: false },
    // The batch is complete when createBatch returns, before the clock moves (not a slice at a time).
    batchSliceSize: Infinity,
  });
  try {
    fleet.attachEgress('push');
    const n = Math.ceil(perMinute * minutes * 1.1) + 10;
    recordDevices(fleet, 'pk', n);
    const fw = addFirmware2(fleet, 'pk');
    let sent = 0;
    fleet.on('send', (out) => (sent += out.length));
    fleet.createBatch(
      { firmwareId: fw.id, targets: { selection: 'ALL', productKey: 'pk' }, strategy: { maximumPerMinute: perMinute } },
      { egress: 'push' },
    );
    const perMinuteSeen: number[] = [];
    for (let m = 0; m < minutes; m++) {
      const before = sent;
      clock.advance(MINUTE);
      perMinuteSeen.push(sent - before);
    }
    const worst = perMinuteSeen.reduce(
      (w, c) => (Math.abs(c / perMinute - 1) > Math.abs(w / perMinute - 1) ? c : w),
      perMinute,
    );
    return { perMinute, minutes: perMinuteSeen, worst, achieved: sent / minutes };
  } finally {
    fleet.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const n = options.quick ? 5000 : 20_000;
  const reps = options.quick ? 1 : 2;
  const tab = nodeId('t');
  const ids = { fleet: nodeId('f'), push: nodeId('u'), fn: nodeId('x'), sinkOurs: nodeId('s'), sinkBase: nodeId('b') };
  const flows = [
    { id: tab, type: 'tab', label: 'fanout bench' },
    {
      id: ids.fleet,
      type: 'ota-fleet',
      name: 'bench',
      requireVerification: false,
      publicUrl: 'http://192.0.2.10:1880',
    },
    { id: ids.push, type: 'ota-push', z: tab, fleet: ids.fleet, wires: [[ids.sinkOurs], []] },
    {
      id: ids.fn,
      type: 'function',
      z: tab,
      name: 'prebuilt',
      func: "return [global.get('prebuilt')];",
      outputs: 1,
      wires: [[ids.sinkBase]],
    },
    sinkNode(ids.sinkOurs, tab),
    sinkNode(ids.sinkBase, tab),
  ];
  const prebuilt: object[] = [];
  const red = await startRed(flows, Object.values(ids), { functionGlobalContext: { prebuilt } });
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  try {
    const handle = red.node<{ handle?: Handle }>(ids.fleet).handle;
    if (!handle) throw new Error('the ota-fleet node did not start its fleet');
    const { fleet } = handle;
    const ours = new Counter(red.node(ids.sinkOurs));
    const base = new Counter(red.node(ids.sinkBase));
    const fn = red.node<RedNode>(ids.fn);
    const sched0 = schedSeconds('self');
    const wall0 = now();
    const runs: { ours: number; base: number; create: number }[] = [];
    // One run to warm up (JIT, caches; a fifth of the size, not counted), then the measured ones.
    for (let r = -1; r < reps; r++) {
      const size = r < 0 ? Math.ceil(n / 5) : n;
      const productKey = r < 0 ? 'pkw' : `pk${r}`;
      recordDevices(fleet, productKey, size);
      const firmware = await hostedFirmware(handle, productKey);

      // The baseline: the same messages ota-push sends, built beforehand, emitted by a function node.
      prebuilt.length = 0;
      const descriptor = descriptorFor(firmware, undefined, handle.host, Date.now());
      for (let i = 0; i < size; i++) {
        const device = { productKey, deviceName: `d-${String(i).padStart(6, '0')}` };
        const m = upgradeMessage(device, descriptor, Date.now() + i);
        prebuilt.push({
          topic: m.topic,
          payload: m.payload,
          qos: m.qos,
          productKey,
          deviceName: device.deviceName,
          batchId: r + 2,
        });
      }
      // The baseline is cheap and has no state: three runs, the median counts.
      const baseRuns: number[] = [];
      for (let k = 0; k < 3; k++) {
        const baseDone = base.expect(size);
        const b0 = now();
        fn.receive({});
        baseRuns.push((await baseDone) - b0);
      }
      const baseMs = median(baseRuns);

      const oursDone = ours.expect(size);
      const c0 = now();
      // No download window: what is measured is how fast notices leave (a hosted package's batch
      // keeps HOSTED_IN_FLIGHT by default, and nobody downloads here).
      const batch = fleet.createBatch(
        { firmwareId: firmware.id, targets: { selection: 'ALL', productKey }, strategy: { maximumInFlight: size } },
        { egress: ids.push },
      );
      // A batch larger than a slice is created a slice per turn: its notices start once it is complete.
      await fleet.whenCreated(batch.id);
      const o0 = now();
      const oursMs = (await oursDone) - o0;
      if (fleet.counts(batch.id).NOTIFIED !== size)
        throw new Error(`batch ${batch.id}: ${JSON.stringify(fleet.counts(batch.id))}`);
      if (r < 0) continue;
      runs.push({ ours: oursMs, base: baseMs, create: o0 - c0 });
      log(
        NAME,
        `rep ${r + 1}: ours ${sig((n * 1000) / oursMs)}/s (+ creation ${sig(o0 - c0)} ms), function node ${sig((n * 1000) / baseMs)}/s`,
      );
    }
    const sched1 = schedSeconds('self');
    const waiting = (sched1.wait - sched0.wait) / ((now() - wall0) / 1000);
    const oursMs = runs.reduce((a, r) => a + r.ours, 0);
    const baseMs = runs.reduce((a, r) => a + r.base, 0);
    const createMs = runs.reduce((a, r) => a + r.create, 0);
    const total = n * reps;
    rows.push(
      atLeast(
        NAME,
        `T2 notices/s, unthrottled batch of ${num(n)}`,
        (total * 1000) / oursMs,
        (total * 1000) / baseMs,
        'msg/s',
        0.5,
      ),
    );
    rows.push(
      info(NAME, 'T2 notices/s including batch creation', `${sig((total * 1000) / (oursMs + createMs))} msg/s`),
    );
    rows.push(info(NAME, 'main thread waiting for a CPU (other load)', `${Math.round(waiting * 100)} % of the run`));
    details.unthrottled = { n, reps, runs, waitingForCpu: waiting };
  } finally {
    await red.stop();
  }

  const minutes = options.args.includes('--no-rate') ? 0 : options.quick ? 1 : 5;
  const rates = options.quick ? [600, 6000] : [600, 6000, 10_000];
  const accuracy: RateResult[] = [];
  for (const perMinute of minutes ? rates : []) {
    const t = now();
    const r = rateAccuracy(perMinute, minutes);
    accuracy.push(r);
    log(NAME, `maximumPerMinute ${perMinute}: ${r.minutes.join(', ')} per minute (${sig((now() - t) / 1000)} s)`);
    const deviation = r.worst / perMinute - 1;
    rows.push(
      absolute(
        NAME,
        `maximumPerMinute ${num(perMinute)}: worst of ${minutes} min`,
        `${num(r.worst)}/min`,
        '±2 %',
        Math.abs(deviation) <= 0.02,
        `${num(perMinute)}/min`,
        `${(1 + deviation).toFixed(3)}×`,
      ),
    );
  }
  details.accuracy = accuracy;
  return { name: NAME, rows, details };
}

if (require.main === module) main(run);
