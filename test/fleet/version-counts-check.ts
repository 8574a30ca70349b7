/**
 * The version distribution as the tests compute it on their own: a GROUP BY over the devices
 * table, read through a second connection to the store's file, never through the store.
 */
import Database from 'better-sqlite3';
import should from 'should';
import type { SqliteStore, VersionCount } from '../../src/fleet';

/** The distribution by counting devices, in the order the store promises. */
export function countedDistribution(db: Database.Database, productKey?: string): VersionCount[] {
  const where = productKey === undefined ? '' : 'WHERE product_key = ?';
  return db
    .prepare(
      `SELECT product_key AS productKey, module, version, COUNT(*) AS count FROM devices ${where}
       GROUP BY product_key, module, version ORDER BY product_key, module, count DESC, version`,
    )
    .all(...(productKey === undefined ? [] : [productKey])) as VersionCount[];
}

/** The store's distribution, whole and per product, equals the count over its devices. */
export function shouldMatchDevices(store: SqliteStore, checker: Database.Database, productKeys: string[]): void {
  const counted = countedDistribution(checker);
  should(store.versionDistribution()).eql(counted);
  for (const productKey of productKeys) {
    should(store.versionDistribution(productKey)).eql(counted.filter((c) => c.productKey === productKey));
  }
}

/** The counter rows as stored, zero rows included (there must be none). */
export function counterRows(db: Database.Database): VersionCount[] {
  return db
    .prepare(
      'SELECT product_key AS productKey, module, version, count FROM version_counts ORDER BY product_key, module, version',
    )
    .all() as VersionCount[];
}

/** Prints a test's figures on one line, as the fuzz tests do (without loading Node-RED to do it). */
export function printFigures(what: string, figures: object): void {
  console.log(`      figures ${what}: ${JSON.stringify(figures)}`);
}
