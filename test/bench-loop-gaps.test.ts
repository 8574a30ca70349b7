/**
 * The benchmarks' stall meter (bench/lib/loop-gaps.ts) on a real event loop: a known synchronous
 * busy-wait must show as a gap at least as long, wherever it falls in the window. Only lower
 * bounds are asserted on measured times, which a slow machine cannot break.
 */
import should from 'should';
import { LoopGaps, STALL_MS, summarizeGaps, underMeter } from '../bench/lib/loop-gaps';

/** Blocks the event loop for `ms`, as a long synchronous call does. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

const idle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the stall meter of the benchmarks', function () {
  this.timeout(20_000);

  it('summarizes gaps into the longest, p99, p999 and the count over 50 ms', function () {
    const gaps = [...Array.from({ length: 997 }, () => 1), 51, 60, 120];
    should(summarizeGaps(gaps, 1000)).eql({
      gaps: 1000,
      longest: 120,
      p99: 1,
      p999: 60,
      stalls: 3,
      wallMs: 1000,
      histogramMax: NaN,
    });
  });

  it('shows a busy-wait of 120 ms in the middle of the window as a gap of at least 120 ms', async function () {
    const meter = new LoopGaps().start();
    await idle(20);
    busyWait(120);
    await idle(20);
    const report = meter.stop();
    should(report.longest).be.aboveOrEqual(120);
    should(report.stalls).be.aboveOrEqual(1);
    should(report.wallMs).be.aboveOrEqual(report.longest);
  });

  it('shows a busy-wait that starts with the window, before the first tick', async function () {
    const { gaps } = await underMeter(() => busyWait(120));
    should(gaps.longest).be.aboveOrEqual(120);
    should(gaps.stalls).be.aboveOrEqual(1);
  });

  it('counts the gap still open when the meter stops', function () {
    const meter = new LoopGaps().start();
    busyWait(120);
    const report = meter.stop();
    should(report.gaps).equal(1);
    should(report.longest).be.aboveOrEqual(120);
  });

  it(`shows no gap over ${STALL_MS} ms on an idle loop`, async function () {
    const { gaps } = await underMeter(() => idle(300));
    should(gaps.stalls).equal(0);
    should(gaps.gaps).be.above(1);
  });

  it('refuses to start twice or to stop when not running', function () {
    const meter = new LoopGaps().start();
    should(() => meter.start()).throw('the meter is already running');
    meter.stop();
    should(() => meter.stop()).throw('the meter is not running');
  });
});
