/**
 * The other ways a simulated device gets its firmware: asking with T4 (pull mode), downloading
 * over MQTT (T6/T7, answered by a small responder here), with a signature to check, per module.
 */
import should from 'should';
import {
  blockReplyMessage,
  firmwareReplyMessage,
  generateSigningKeyPair,
  parseBlockRequest,
  parseFirmwareQuery,
  parseTopic,
  readPrivateKey,
  signPackageDigest,
} from '../../src/protocol';
import { Simulation } from '../../src/sim';
import { startAedes, TestBroker } from '../helpers/broker';
import {
  dev,
  firmwareOf,
  makePackage,
  PackageServer,
  startPackageServer,
  t1,
  t3,
  testOptions,
  waitForState,
  waitUntil,
  Watcher,
} from './support';

const PACKAGE = makePackage(12_000);
const STREAM = { dProtocol: 'mqtt', streamId: 1234, streamFileId: 1 };

describe('ota-sim: pull mode, download over MQTT, signatures and modules', function () {
  let broker: TestBroker;
  let server: PackageServer;
  let watcher: Watcher;
  let sim: Simulation | undefined;

  before(async function () {
    broker = await startAedes();
    server = await startPackageServer(PACKAGE.bytes);
  });

  after(async function () {
    await server.close();
    await broker.close();
  });

  afterEach(async function () {
    await sim?.stop();
    sim = undefined;
    await watcher.close();
  });

  /**
   * Answers every T6 with the block asked for, through `answer`, which may hold a request back
   * (return false) or change the offset it claims.
   */
  function serveBlocks(
    answer: (
      request: { id: string; offset: number; size: number },
      n: number,
    ) => { offset: number; corrupt?: boolean } | false = (r) => r,
  ): void {
    let n = 0;
    watcher.client.on('message', (topic, payload) => {
      if (!topic.endsWith('/thing/file/download')) return;
      const device = parseTopic(topic);
      const req = parseBlockRequest(payload);
      const reply = answer({ id: String(req.id), offset: req.offset, size: req.size }, n++);
      if (!reply) return;
      const block = PACKAGE.bytes.subarray(req.offset, req.offset + req.size);
      const m = blockReplyMessage(
        device,
        { id: req.id, fileLength: PACKAGE.bytes.length, offset: reply.offset },
        block,
      );
      const frame = m.payload as Buffer;
      if (reply.corrupt) frame[frame.length - 1] ^= 0xff; // the CRC no longer matches
      void watcher.client.publishAsync(m.topic, frame, { qos: 0 });
    });
  }

  function blockRequests(): { id: string; offset: number; size: number }[] {
    return watcher.seen
      .filter((m) => m.topic.endsWith('/thing/file/download'))
      .map((m) => {
        const r = parseBlockRequest(m.text);
        return { id: String(r.id), offset: r.offset, size: r.size };
      });
  }

  it('a pull-mode device asks with T4 at boot and upgrades from the T5 answer', async function () {
    watcher = await Watcher.start(broker.url, ['/ota/device/#', '/sys/+/+/thing/ota/firmware/get']);
    const firmware = firmwareOf(PACKAGE, { version: '1.0.1', url: server.url });
    let asked = 0;
    watcher.client.on('message', (topic, payload) => {
      if (!topic.endsWith('/thing/ota/firmware/get')) return;
      const query = parseFirmwareQuery(payload);
      // The first query gets the firmware, the one after the reboot "nothing pending".
      const m = firmwareReplyMessage(parseTopic(topic), query.id, asked++ === 0 ? firmware : undefined);
      void watcher.client.publishAsync(m.topic, m.payload, { qos: 1 });
    });
    sim = new Simulation(testOptions(broker.url, { pull: true }));
    await sim.start();
    await waitForState(sim, 'sim-001', 'upgraded');
    await waitUntil(() => asked === 2, 'the T4 after the reboot');
    const texts = watcher.of('sim-001').map((m) => m.text);
    const query = (id: number) => JSON.stringify({ id, version: '1.0', params: {}, method: 'thing.ota.firmware.get' });
    should(texts.slice(0, 3)).eql([t1(1, '1.0.0'), query(2), t3(3, 0)]);
    should(texts.slice(-3)).eql([t3(23, 100), t1(1, '1.0.1'), query(2)]);
  });

  it('downloads over MQTT in blocks of 5120 bytes, the last one only what remains', async function () {
    watcher = await Watcher.start(broker.url, ['/ota/device/#', '/sys/+/+/thing/file/download']);
    serveBlocks();
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', ...STREAM }));
    await waitForState(sim, 'sim-001', 'upgraded');
    should(blockRequests()).eql([
      { id: '1', offset: 0, size: 5120 },
      { id: '2', offset: 5120, size: 5120 },
      { id: '3', offset: 10240, size: 1760 },
    ]);
    const t6 = watcher.seen.find((m) => m.topic === '/sys/pk1/sim-001/thing/file/download');
    should(JSON.parse(t6?.text ?? '{}')).eql({
      id: '1',
      version: '1.0',
      params: { fileToken: 'default', fileInfo: { streamId: 1234, fileId: 1 }, fileBlock: { size: 5120, offset: 0 } },
    });
  });

  it('ignores a block for another offset and asks again after the timeout', async function () {
    watcher = await Watcher.start(broker.url, ['/ota/device/#', '/sys/+/+/thing/file/download']);
    serveBlocks((r, n) => (n === 0 ? { offset: r.offset + 1 } : r));
    sim = new Simulation(testOptions(broker.url, { timing: { blockTimeoutMs: 500 } }));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', ...STREAM }));
    await waitForState(sim, 'sim-001', 'upgraded');
    should(blockRequests().map((r) => `${r.id}@${r.offset}`)).eql(['1@0', '2@0', '3@5120', '4@10240']);
  });

  it('asks again at once for a frame whose CRC does not match', async function () {
    watcher = await Watcher.start(broker.url, ['/ota/device/#', '/sys/+/+/thing/file/download']);
    serveBlocks((r, n) => (n === 1 ? { offset: r.offset, corrupt: true } : r));
    // A timeout far beyond the test's: only an immediate resend lets the download finish in time.
    sim = new Simulation(testOptions(broker.url, { timing: { blockTimeoutMs: 60_000 } }));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', ...STREAM }));
    await waitForState(sim, 'sim-001', 'upgraded');
    should(blockRequests().map((r) => `${r.id}@${r.offset}`)).eql(['1@0', '2@5120', '3@5120', '4@10240']);
  });

  it('gives up after 3 resends and reports step -4, as Link SDK 4 does', async function () {
    watcher = await Watcher.start(broker.url, ['/ota/device/#', '/sys/+/+/thing/file/download']);
    serveBlocks(() => false);
    sim = new Simulation(testOptions(broker.url, { timing: { blockTimeoutMs: 100 } }));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', ...STREAM }));
    await waitForState(sim, 'sim-001', 'failed');
    const reports = await watcher.untilFailure('sim-001');
    should(blockRequests().map((r) => r.offset)).eql([0, 0, 0, 0]);
    should(JSON.parse(reports[reports.length - 1].text).params).eql({
      step: '-4',
      desc: 'download over MQTT failed at offset 0 of 12000: no reply within 100 ms, 3 resends',
    });
  });

  describe('with --public-key', function () {
    const keys = generateSigningKeyPair();
    const digestsign = signPackageDigest(readPrivateKey('key', keys.privateKey), PACKAGE.sha256);

    it('upgrades when digestsign is the signature of the package', async function () {
      watcher = await Watcher.start(broker.url);
      sim = new Simulation(testOptions(broker.url, { publicKey: keys.publicKey }));
      await sim.start();
      await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url, digestsign }));
      await waitForState(sim, 'sim-001', 'upgraded');
    });

    it('reports step -3 for a notice without digestsign', async function () {
      watcher = await Watcher.start(broker.url);
      sim = new Simulation(testOptions(broker.url, { publicKey: keys.publicKey }));
      await sim.start();
      await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url }));
      await waitForState(sim, 'sim-001', 'failed');
      const reports = await watcher.untilFailure('sim-001');
      should(reports[reports.length - 1].text).equal(
        t3(23, -3, 'the notice carries no digestsign, and this device requires signed packages'),
      );
    });

    it('reports step -3 for a signature made by another key', async function () {
      watcher = await Watcher.start(broker.url);
      const other = generateSigningKeyPair();
      sim = new Simulation(testOptions(broker.url, { publicKey: other.publicKey }));
      await sim.start();
      await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '1.0.1', url: server.url, digestsign }));
      await waitForState(sim, 'sim-001', 'failed');
      should(sim.summary().failuresByCause).eql({ 'step -3': 1 });
    });
  });

  it('reports every module at boot and upgrades the one a notice names, with the module in T3', async function () {
    watcher = await Watcher.start(broker.url);
    sim = new Simulation(testOptions(broker.url, { modules: ['default', 'MCU=2.0.0'] }));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '2.0.1', url: server.url, module: 'MCU' }));
    await waitForState(sim, 'sim-001', 'upgraded');
    await waitUntil(() => watcher.of('sim-001').length === 25, 'the T1 of both modules after the reboot');
    const texts = watcher.of('sim-001').map((m) => m.text);
    const mcu = (id: number, version: string) => JSON.stringify({ id, params: { version, module: 'MCU' } });
    should(texts.slice(0, 3)).eql([
      t1(1, '1.0.0'),
      mcu(2, '2.0.0'),
      JSON.stringify({ id: 3, params: { step: '0', desc: '', module: 'MCU' } }),
    ]);
    should(texts.slice(-2)).eql([t1(1, '1.0.0'), mcu(2, '2.0.1')]);
    should(sim.summary().byModule).eql({ default: { '1.0.0': 1 }, MCU: { '2.0.1': 1 } });
  });

  it('reports step -1 for a notice naming a module it does not have', async function () {
    watcher = await Watcher.start(broker.url);
    sim = new Simulation(testOptions(broker.url));
    await sim.start();
    await watcher.notify(dev('sim-001'), firmwareOf(PACKAGE, { version: '2.0.1', url: server.url, module: 'MCU' }));
    await waitForState(sim, 'sim-001', 'failed');
    const reports = await watcher.untilFailure('sim-001');
    should(reports[reports.length - 1].text).equal(
      JSON.stringify({
        id: 2,
        params: { step: '-1', desc: 'this device has no module "MCU" (it has default)', module: 'MCU' },
      }),
    );
  });
});
