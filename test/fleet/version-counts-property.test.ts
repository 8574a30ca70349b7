/**
 * Property: whatever devices report, in whatever order, with restarts, rolled-back transactions
 * and crashes in between, the store's version distribution equals a count of its devices (and
 * the devices hold exactly what was committed). A crash is simulated by copying the WAL-mode file
 * and its log while the process is alive, at a point inside or after a transaction, and going on
 * from the copy: what a process killed at that instant leaves on disk.
 */
import fc from 'fast-check';
import should from 'should';
import type { VersionCount } from '../../src/fleet';
import { countedDistribution, printFigures, counterRows, shouldMatchDevices } from './version-counts-check';
import { CrashableStore } from './crashable-store';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_801) + 505;
const PRODUCTS = ['pk1', 'pk2', 'pk3'];

interface Report {
  productKey: string;
  deviceName: string;
  module: string;
  version: string;
}

type Step =
  | { kind: 'reports'; reports: Report[] }
  | { kind: 'repeat'; pick: number }
  | { kind: 'remove'; pick: number }
  | { kind: 'restart' }
  | { kind: 'abort'; reports: Report[]; after: number }
  | { kind: 'kill'; reports: Report[]; after: number; committed: boolean };

const report: fc.Arbitrary<Report> = fc.record({
  productKey: fc.constantFrom(...PRODUCTS),
  deviceName: fc.constantFrom('d0', 'd1', 'd2', 'd3', 'd4', 'd5'),
  module: fc.constantFrom('default', 'MCU'),
  version: fc.constantFrom('1.0.0', '1.0.1', '1.1.0', '2.0.0'),
});
const reports = fc.array(report, { minLength: 1, maxLength: 12 });

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('reports' as const), reports }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('repeat' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('abort' as const), reports, after: fc.nat({ max: 12 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('kill' as const),
      reports,
      after: fc.nat({ max: 12 }),
      committed: fc.boolean(),
    }),
  },
);

const keyOf = (r: Report) => JSON.stringify([r.productKey, r.deviceName, r.module]);

/** What the committed device rows must be: key → report. */
type Model = Map<string, Report>;

/** The distribution a model implies, in the store's order. */
function modelDistribution(model: Model): VersionCount[] {
  const counts = new Map<string, VersionCount>();
  for (const r of model.values()) {
    const key = JSON.stringify([r.productKey, r.module, r.version]);
    const c = counts.get(key) ?? { productKey: r.productKey, module: r.module, version: r.version, count: 0 };
    c.count++;
    counts.set(key, c);
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...counts.values()].sort(
    (a, b) =>
      cmp(a.productKey, b.productKey) || cmp(a.module, b.module) || b.count - a.count || cmp(a.version, b.version),
  );
}

class Crash extends Error {}

/** One run: a store on a fresh file, the steps applied to it and to the model, checked after each. */
class Run extends CrashableStore {
  private readonly model: Model = new Map();
  private at = 0;

  constructor(private readonly figures: Record<string, number>) {
    super('ota-versions-prop-');
  }

  private record(r: Report): void {
    this.store.recordVersion({ productKey: r.productKey, deviceName: r.deviceName }, r.module, r.version, ++this.at);
  }

  private commit(list: Report[]): void {
    this.store.transaction(() => list.forEach((r) => this.record(r)));
    for (const r of list) this.model.set(keyOf(r), r);
  }

  private picked(pick: number): Report | undefined {
    const all = [...this.model.values()];
    return all.length ? all[pick % all.length] : undefined;
  }

  apply(s: Step): void {
    this.figures[s.kind] = (this.figures[s.kind] ?? 0) + 1;
    switch (s.kind) {
      case 'reports':
        return this.commit(s.reports);
      case 'repeat': {
        const r = this.picked(s.pick);
        if (r) this.commit([r]);
        return;
      }
      case 'remove': {
        // An operator's sqlite3 deletes a device row: the triggers count it all the same.
        const r = this.picked(s.pick);
        if (!r) return;
        this.checker
          .prepare('DELETE FROM devices WHERE product_key = ? AND device_name = ? AND module = ?')
          .run(r.productKey, r.deviceName, r.module);
        this.model.delete(keyOf(r));
        return;
      }
      case 'restart':
        return this.reopen(this.file);
      case 'abort':
        should(() =>
          this.store.transaction(() => {
            s.reports.slice(0, s.after).forEach((r) => this.record(r));
            throw new Crash('midway');
          }),
        ).throw(Crash);
        return;
      case 'kill':
        // Committed: all the reports; killed inside: the first `after`, none of which may survive.
        return this.killAfter(s.committed, () =>
          s.committed ? this.commit(s.reports) : s.reports.slice(0, s.after).forEach((r) => this.record(r)),
        );
    }
  }

  check(): void {
    const expected = modelDistribution(this.model);
    should(countedDistribution(this.checker)).eql(expected);
    shouldMatchDevices(this.store, this.checker, PRODUCTS);
    should(counterRows(this.checker).every((r) => r.count > 0)).be.true();
  }
}

describe('the SQLite store: version counters under any sequence of reports, restarts and crashes', function () {
  // 200 runs of up to 30 steps, each on a file of its own: 17 s on CI's machine, more on a busy disk.
  this.timeout(120_000);
  it('the distribution always equals a count of the devices, and the devices what was committed (200 runs)', function () {
    const figures: Record<string, number> = { runs: 0 };
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30, size: 'max' }), (steps) => {
        figures.runs++;
        const run = new Run(figures);
        try {
          for (const s of steps) {
            run.apply(s);
            run.check();
          }
        } finally {
          run.close();
        }
      }),
      { numRuns: 200, seed: SEED },
    );
    printFigures('version counters', { ...figures, seed: SEED });
  });
});
