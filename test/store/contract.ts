/**
 * The one contract every fleet store passes, run through its promise-answering face
 * (`AsyncFleetStore`): the SQLite store behind `promisedStore` (contract-sqlite.test.ts) and a
 * store on a database server alike. Each test opens a fresh, empty store and closes it after, and
 * acts through the interface only: no SQL, no store's own methods, no id assumed but that ids
 * grow, no timing. The parts, by topic, live in contract-*.ts.
 */
import should from 'should';
import { describeBatches } from './contract-batches';
import { describeCandidates } from './contract-candidates';
import { describeCatalog } from './contract-catalog';
import { noting, OPERATIONS } from './contract-coverage';
import type { OpenStore } from './contract-fixtures';
import { describeInventory } from './contract-inventory';
import { describeProperty } from './contract-property';
import { describeTasks } from './contract-tasks';
import { describeTransactions } from './contract-transactions';

export type { OpenStore } from './contract-fixtures';

/** Describes the whole contract for the store `open` makes (a new, empty one per call). */
export function describeStoreContract(name: string, open: OpenStore): void {
  describe(`the store contract on ${name}`, function () {
    const called = new Set<string>();
    const watched = noting(open, called);
    let ran = 0;
    afterEach(function () {
      ran++;
    });

    describe('inventory', () => describeInventory(watched));
    describe('candidates', () => describeCandidates(watched));
    describe('registry and catalog', () => describeCatalog(watched));
    describe('batches', () => describeBatches(watched));
    describe('tasks', () => describeTasks(watched));
    describe('transactions', () => describeTransactions(watched));
    describe('a property of the counters', () => describeProperty(watched));

    // Last: mocha runs a suite's own tests before its inner suites, so this is a suite too.
    describe('coverage', function () {
      it('every operation of the interface is called by the contract', function () {
        // Only a full run can tell (a run of some tests by --grep calls fewer).
        const others = (this.test?.parent?.parent?.total() ?? 0) - 1;
        if (ran < others) return;
        should(OPERATIONS.filter((op) => !called.has(op))).eql([]);
      });
    });
  });
}
