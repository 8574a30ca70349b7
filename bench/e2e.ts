/**
 * Benchmark 6, end to end through Mosquitto: simulated devices (src/sim, the `ota-sim` engine,
 * in this process) upgraded by one unthrottled batch on a real Node-RED (a child process running
 * the platform flow of test/helpers/platform-flow.ts: core mqtt in/out around ota-inform,
 * ota-progress and ota-push, task and batch events published back to the broker), which hosts
 * the package and serves every download. Timed from the batch's creation to the moment the
 * platform counts every task SUCCEEDED. The broker's own totals ($SYS) say how many messages the
 * upgrade moved; the ceiling to compare with is the broker's rate in the same run for one mqtt.js
 * publisher → one subscriber at QoS 1.
 */
import { randomBytes } from 'node:crypto';
import { Simulation, simOptions } from '../src/sim';
import { freePort } from '../test/helpers/net';
import { NodeRedChild } from '../test/helpers/node-red-child';
import { platformFlow } from '../test/helpers/platform-flow';
import { brokerRate, startMosquitto } from './lib/mosquitto';
import { childFlags, cpuSeconds, request, schedSeconds, tcpCounters } from './lib/net';
import { BenchOptions, BenchResult, info, log, main, num, Row, sig } from './lib/report';
import { now, sleep, summarize } from './lib/stats';

const NAME = 'e2e';
const PRODUCT = 'pk1';
/** Devices per MQTT connection of the simulator. */
const SHARE = 100;
/** Devices report T3 at 0, 50 and 100 %. */
const PROGRESS_EVERY = 50;
const PACKAGE_BYTES = 64 * 1024;

interface BatchView {
  id: number;
  state: string;
  counts: Record<string, number>;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const n = Number(options.args.find((a) => a.startsWith('--devices='))?.slice(10) ?? (options.quick ? 1000 : 10_000));
  const timeoutMs = options.quick ? 120_000 : 900_000;
  const broker = await startMosquitto();
  let red: NodeRedChild | undefined;
  let sim: Simulation | undefined;
  try {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const { flows, fleetId } = platformFlow({ host: '127.0.0.1', port: broker.port }, { publicUrl: base });
    // --admin-root=/admin: the editor and admin API on a path of their own, off the download path.
    const adminRoot = options.args.find((a) => a.startsWith('--admin-root='))?.slice(13) ?? '';
    const admin = `${base}${adminRoot.replace(/\/$/, '')}`;
    // BENCH_CHILD_FLAGS (e.g. --cpu-prof) apply to Node-RED too.
    red = await NodeRedChild.prepare({
      port,
      flows,
      nodeArgs: childFlags(),
      settings: {
        logging: { console: { level: 'warn', metrics: false, audit: false } },
        ...(adminRoot ? { httpAdminRoot: adminRoot } : {}),
      },
    });
    await red.start(60_000, async () => (await request<unknown[]>('GET', `${admin}/ota/fleets`)).length > 0);
    const nodeRed = red;
    const tail = () => nodeRed.output.slice(-4000);
    const api = `${admin}/ota/fleets/${fleetId}`;
    log(
      NAME,
      `Mosquitto ${await broker.version()} on ${broker.port}, Node-RED on ${port} (admin root ${adminRoot || '/'}); ${num(n)} devices, ${SHARE} per connection`,
    );

    // Devices power on and report 1.0.0.
    sim = new Simulation(
      simOptions({
        broker: broker.url,
        productKey: PRODUCT,
        version: '1.0.0',
        devices: n,
        share: SHARE,
        timing: { bootMs: 500, burnMs: 0, rebootMs: 0, progressEveryPercent: PROGRESS_EVERY, connectWave: 1000 },
      }),
    );
    const warnings: string[] = [];
    sim.on('warning', (w) => warnings.push(w));
    let upgraded = 0;
    let allUpgradedAt = 0;
    let batchAt = Infinity;
    // When, after the batch's creation, devices entered each state: where an upgrade spends its time.
    const entered = new Map<string, number[]>();
    sim.on('state', (_d, _from, to) => {
      const t = now();
      if (t >= batchAt) {
        let list = entered.get(to);
        if (!list) entered.set(to, (list = []));
        list.push(t - batchAt);
      }
      if (to === 'upgraded' && ++upgraded === n) allUpgradedAt = t;
    });
    let t = now();
    await sim.start();
    const connections = sim.connectionCount;
    const inventory = async () =>
      (await request<{ version: string; count: number }[]>('GET', `${api}/versions?productKey=${PRODUCT}`)).reduce(
        (a, v) => a + (v.version === '1.0.0' ? v.count : 0),
        0,
      );
    while ((await inventory()) < n) {
      if (now() - t > 120_000)
        throw new Error(`the inventory holds ${await inventory()} of ${n} devices after 2 min\n${tail()}`);
      await sleep(250);
    }
    log(
      NAME,
      `${num(n)} devices booted and in the inventory in ${sig((now() - t) / 1000)} s, over ${connections} connections`,
    );

    const firmware = await request<{ id: string }>(
      'POST',
      `${api}/firmware?productKey=${PRODUCT}&module=default&version=2.0.0`,
      randomBytes(PACKAGE_BYTES),
    );
    await sleep(1500); // the broker's $SYS totals are published every second
    const before = await broker.counters();
    const redPid = red.pid as number;
    const cpuBefore = { sim: process.cpuUsage(), red: cpuSeconds(redPid), broker: cpuSeconds(broker.pid) };
    const schedBefore = { red: schedSeconds(redPid), sim: schedSeconds('self') };
    const tcpBefore = tcpCounters();

    t = now();
    batchAt = t;
    // --rate=N, --in-flight=N (ad hoc, not in the table): the same batch with maximumPerMinute or
    // maximumInFlight N.
    const rate = options.args.find((a) => a.startsWith('--rate='))?.slice(7);
    const inFlight = options.args.find((a) => a.startsWith('--in-flight='))?.slice(12);
    const strategy = {
      ...(rate ? { maximumPerMinute: Number(rate) } : {}),
      ...(inFlight ? { maximumInFlight: Number(inFlight) } : {}),
    };
    const batch = await request<BatchView>('POST', `${api}/batches`, {
      firmwareId: firmware.id,
      type: 'static',
      targets: { selection: 'ALL', productKey: PRODUCT },
      strategy,
    });
    let notifiedAt = 0;
    let view = batch;
    let lastLog = now();
    const progress: { s: number; platform: Record<string, number>; devices: Record<string, number> }[] = [];
    for (;;) {
      view = await request<BatchView>('GET', `${api}/batches/${batch.id}`);
      const c = view.counts;
      if (now() - lastLog >= 5000) {
        lastLog = now();
        const states = Object.fromEntries(Object.entries(sim.summary().states).filter(([, v]) => v > 0));
        progress.push({ s: Math.round((lastLog - t) / 100) / 10, platform: { ...c }, devices: states });
        log(NAME, `  ${sig((lastLog - t) / 1000)} s: platform ${JSON.stringify(c)}; devices ${JSON.stringify(states)}`);
      }
      // A large batch is CREATING first (POST answers 202): none of its tasks is pending before it is complete.
      if (!notifiedAt && view.state !== 'CREATING' && c.QUEUED === 0 && c.CONFIRM === 0) notifiedAt = now();
      if (c.SUCCEEDED + c.FAILED + c.CANCELED === n) break;
      if (now() - t > timeoutMs)
        throw new Error(`the batch did not finish within ${timeoutMs / 1000} s: ${JSON.stringify(c)}`);
      await sleep(100);
    }
    const doneAt = now();
    const simCpu = process.cpuUsage(cpuBefore.sim);
    const cpu = {
      simulator: (simCpu.user + simCpu.system) / 1e6,
      nodeRed: cpuSeconds(redPid) - cpuBefore.red,
      mosquitto: cpuSeconds(broker.pid) - cpuBefore.broker,
    };
    const tcpAfter = tcpCounters();
    const tcp = {
      listenOverflows: tcpAfter.listenOverflows - tcpBefore.listenOverflows,
      synRetrans: tcpAfter.synRetrans - tcpBefore.synRetrans,
    };
    // Node-RED's and the simulator's event-loop threads: time on a CPU, and time runnable but waiting for one.
    const redSched = schedSeconds(redPid);
    const simSched = schedSeconds('self');
    const sched = {
      nodeRed: { run: redSched.run - schedBefore.red.run, wait: redSched.wait - schedBefore.red.wait },
      simulator: { run: simSched.run - schedBefore.sim.run, wait: simSched.wait - schedBefore.sim.wait },
    };
    await sleep(1500);
    const after = await broker.counters();
    const totalMs = doneAt - t;
    const received = after.received - before.received;
    const sent = after.sent - before.sent;
    const timeline = Object.fromEntries([...entered].map(([state, list]) => [state, summarize(list)]));
    for (const [state, st] of Object.entries(timeline))
      log(
        NAME,
        `  devices entered ${state}: p50 ${sig(st.p50 / 1000)} s, p99 ${sig(st.p99 / 1000)} s, last ${sig(st.max / 1000)} s`,
      );
    const share = (s: number) => `${Math.round((s * 100000) / totalMs)} %`;
    log(
      NAME,
      `batch ${batch.id}: ${JSON.stringify(view.counts)} in ${sig(totalMs / 1000)} s; broker received ${num(received)}, sent ${num(sent)}`,
    );
    log(
      NAME,
      `CPU during the batch (of one core): simulator ${share(cpu.simulator)}, Node-RED ${share(cpu.nodeRed)}, mosquitto ${share(cpu.mosquitto)}`,
    );
    log(
      NAME,
      `TCP during the batch: ${num(tcp.listenOverflows)} connections dropped by a full accept queue, ${num(tcp.synRetrans)} SYNs sent again`,
    );
    log(
      NAME,
      `event-loop threads waiting for a CPU: Node-RED ${share(sched.nodeRed.wait)}, simulator ${share(sched.simulator.wait)} of the batch's time`,
    );

    await sim.stop();
    sim = undefined;
    // SIGTERM: a profiled Node-RED writes its profile as it exits.
    await red.stop(3000);
    await red.close();
    red = undefined;

    // The ceiling: the broker alone, the same number of messages, one publisher → one subscriber.
    const ceiling = await brokerRate(broker.url, Math.max(10_000, received));
    log(NAME, `broker alone: ${sig(ceiling.perSecond)} msg/s`);

    const receivedRate = (received * 1000) / totalMs;
    const rows: Row[] = [
      info(NAME, `${num(n)} devices, one unthrottled batch: time to complete`, `${sig(totalMs / 1000)} s`),
      info(NAME, 'devices upgraded per second', `${sig((n * 1000) / totalMs)} /s`),
      info(NAME, 'time until every device was notified', `${sig((notifiedAt - t) / 1000)} s`),
      info(
        NAME,
        'broker PUBLISH in /s during the batch (vs broker alone)',
        `${sig(receivedRate)} msg/s`,
        `${sig(ceiling.perSecond)} msg/s`,
        `${(receivedRate / ceiling.perSecond).toFixed(2)}×`,
      ),
      info(NAME, 'PUBLISH messages per device (broker in / out)', `${sig(received / n)} / ${sig(sent / n)}`),
      info(NAME, 'simulator MQTT connections', `${connections} (${SHARE} devices each)`),
      info(
        NAME,
        'CPU during the batch: Node-RED / simulator / mosquitto',
        `${share(cpu.nodeRed)} / ${share(cpu.simulator)} / ${share(cpu.mosquitto)}`,
      ),
      info(
        NAME,
        'TCP connections refused by a full accept queue (SYN retried)',
        `${num(tcp.listenOverflows)} (${num(tcp.synRetrans)} SYN retries)`,
      ),
      info(
        NAME,
        'Node-RED main thread: on a CPU / waiting for one',
        `${share(sched.nodeRed.run)} / ${share(sched.nodeRed.wait)}`,
      ),
    ];
    if (view.counts.SUCCEEDED !== n) rows.push(info(NAME, 'tasks not SUCCEEDED', JSON.stringify(view.counts)));
    return {
      name: NAME,
      rows,
      details: {
        devices: n,
        share: SHARE,
        connections,
        progressEveryPercent: PROGRESS_EVERY,
        packageBytes: PACKAGE_BYTES,
        totalMs,
        notifiedMs: notifiedAt - t,
        simAllUpgradedMs: allUpgradedAt ? allUpgradedAt - t : null,
        counts: view.counts,
        broker: { received, sent, ceiling },
        cpuSeconds: cpu,
        schedSeconds: sched,
        tcp,
        timeline,
        progress,
        warnings: warnings.slice(0, 20),
        warningCount: warnings.length,
      },
      notes: [
        `e2e: devices simulated by src/sim (Simulation), ${SHARE} per MQTT connection, T3 every ${PROGRESS_EVERY} %, a ${PACKAGE_BYTES / 1024} KiB package served by the platform.`,
      ],
    };
  } finally {
    await sim?.stop();
    await red?.stop(3000);
    await red?.close();
    await broker.stop();
  }
}

if (require.main === module) main(run);
