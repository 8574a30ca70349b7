/** The ota-sim command: exit codes, what it prints, and a clean stop on Ctrl-C. */
import { join } from 'node:path';
import should from 'should';
import { CliIo, run } from '../../src/sim/cli';
import { startAedes, TestBroker } from '../helpers/broker';
import { ChildRun } from '../helpers/child';
import { dev, firmwareOf, makePackage, startPackageServer, waitUntil, Watcher } from './support';

const BIN = join(__dirname, '..', '..', '..', 'bin', 'ota-sim.js');

/** An io that records what is written and lets the test send the stop signal. */
function testIo(): CliIo & { out: string; err: string; signal(): void } {
  let handler: (() => void) | undefined;
  const io = {
    out: '',
    err: '',
    stdout: { write: (text: string) => (io.out += text) },
    stderr: { write: (text: string) => (io.err += text) },
    onStopSignal(h: () => void) {
      handler = h;
      return () => (handler = undefined);
    },
    signal: () => handler?.(),
  };
  return io;
}

describe('ota-sim command', function () {
  let broker: TestBroker;

  before(async function () {
    broker = await startAedes();
  });

  after(async function () {
    await broker.close();
  });

  it('exits with 2 and names the flag for a bad argument', async function () {
    const io = testIo();
    should(await run(['--broker', broker.url, '--product', 'pk1', '--version', '1', '--devices', 'x'], io)).equal(2);
    should(io.err).equal(
      'ota-sim: --devices expects a number of devices (an integer such as 100), got "x"\nRun ota-sim --help for the options.\n',
    );
    should(io.out).equal('');
  });

  it('prints the help text with --help and exits with 0', async function () {
    const io = testIo();
    should(await run(['--help'], io)).equal(0);
    should(io.out).startWith('Usage: ota-sim --broker <url>');
  });

  it('exits with 1 when the broker cannot be reached', async function () {
    const io = testIo();
    should(await run(['--broker', 'mqtt://127.0.0.1:1', '--product', 'pk1', '--version', '1'], io)).equal(1);
    should(io.err).match(/^ota-sim cannot connect to mqtt:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
  });

  it('stops after --duration and prints the summary as JSON', async function () {
    const io = testIo();
    const code = await run(
      [
        '--broker',
        broker.url,
        '--product',
        'pk1',
        '--version',
        '1.0.0',
        '--devices',
        '3',
        '--boot-ms',
        '0',
        '--duration',
        '300ms',
        '--json',
      ],
      io,
    );
    should(code).equal(0);
    should(JSON.parse(io.out)).containDeep({
      productKey: 'pk1',
      seed: 1,
      total: 3,
      states: { idle: 3 },
      byVersion: { '1.0.0': 3 },
    });
    // Not a terminal: the live line is printed as a plain line, at least once at the end.
    should(io.err).match(/^\[░+\] 0\/3 upgraded · 0 failed · 3 idle · \d+ ms\n$/);
  });

  it('with --exit-when-idle stops once the upgrades are over', async function () {
    const pkg = makePackage(10_000);
    const server = await startPackageServer(pkg.bytes);
    const watcher = await Watcher.start(broker.url);
    try {
      const io = testIo();
      const argv = [
        '--broker',
        broker.url,
        '--product',
        'pk1',
        '--version',
        '1.0.0',
        '--name-prefix',
        'idle-',
        '--boot-ms',
        '0',
        '--burn-ms',
        '10',
        '--reboot-ms',
        '10',
        '--exit-when-idle',
        '200ms',
        '--json',
      ];
      const done = run(argv, io);
      await waitUntil(() => watcher.reports.length === 1, 'the boot T1');
      await watcher.notify(dev('idle-001'), firmwareOf(pkg, { version: '1.0.1', url: server.url }));
      should(await done).equal(0);
      should(JSON.parse(io.out)).containDeep({ total: 1, upgraded: 1, byVersion: { '1.0.1': 1 } });
    } finally {
      await watcher.close();
      await server.close();
    }
  });

  it('stops cleanly on the stop signal and prints the final table', async function () {
    const io = testIo();
    const done = run(
      ['--broker', broker.url, '--product', 'pk1', '--version', '1.0.0', '--devices', '2', '--boot-ms', '0'],
      io,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    io.signal();
    should(await done).equal(0);
    should(io.out).match(
      /^ota-sim · product pk1 · 2 devices · \d+ ms · seed 1\n\nstate +devices\n {2}upgraded +0\n {2}failed +0\n {2}idle +2\n\nversion +devices\n {2}1\.0\.0 +2\n$/,
    );
  });

  it('bin/ota-sim.js stops on SIGINT, prints the table and exits with 0', async function () {
    const watcher = await Watcher.start(broker.url);
    try {
      const child = ChildRun.node(BIN, [
        '--broker',
        broker.url,
        '--product',
        'pk1',
        '--version',
        '1.0.0',
        '--devices',
        '2',
        '--name-prefix',
        'bin-',
        '--boot-ms',
        '0',
      ]);
      try {
        await waitUntil(
          () => watcher.reports.filter((m) => m.topic.includes('/bin-')).length === 2,
          'both devices to report',
          10_000,
        );
        should(await child.signal('SIGINT')).equal(0);
        should(child.stdout).match(
          /^ota-sim · product pk1 · 2 devices · [\d.]+ m?s · seed 1\n\nstate +devices\n {2}upgraded +0\n {2}failed +0\n {2}idle +2\n/,
        );
      } finally {
        await child.kill();
      }
    } finally {
      await watcher.close();
    }
  });
});
