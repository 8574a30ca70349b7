/**
 * The one contract every fleet store passes, run through its promise-answering face
 * (`AsyncFleetStore`): the SQLite store behind `promisedStore` (contract-sqlite.test.ts) and a
 * store on a database server alike. Each test opens a fresh, empty store and closes it after, and
 * acts through the interface only: no SQL, no store's own methods, no id assumed but that ids
 * grow, no timing. The parts, by topic, live in contract-*.ts.
 */
import { describeBatches } from './contract-batches';
import { describeCandidates } from './contract-candidates';
import { describeCatalog } from './contract-catalog';
import type { OpenStore } from './contract-fixtures';
import { describeInventory } from './contract-inventory';
import { describeProperty } from './contract-property';
import { describeTasks } from './contract-tasks';
import { describeTransactions } from './contract-transactions';

export type { OpenStore } from './contract-fixtures';

/** Describes the whole contract for the store `open` makes (a new, empty one per call). */
export function describeStoreContract(name: string, open: OpenStore): void {
  describe(`the store contract on ${name}`, function () {
    describe('inventory', () => describeInventory(open));
    describe('candidates', () => describeCandidates(open));
    describe('registry and catalog', () => describeCatalog(open));
    describe('batches', () => describeBatches(open));
    describe('tasks', () => describeTasks(open));
    describe('transactions', () => describeTransactions(open));
    describe('a property of the counters', () => describeProperty(open));
  });
}
