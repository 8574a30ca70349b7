import should from 'should';
import { SqliteStore } from '../../src/fleet';
import { externalFirmware, makeFleet, TestFleet } from '../helpers/fleet';
import { downgrade } from './old-schema';

describe('fleet: release sequences', function () {
  let t: TestFleet;
  beforeEach(function () {
    t = makeFleet();
  });
  afterEach(function () {
    t.close();
  });

  it('each firmware of a product module gets the next number, from 1; other modules count on their own', function () {
    const a = externalFirmware(t.fleet, '2.0.0');
    const b = externalFirmware(t.fleet, '2.1.0');
    const mcu = externalFirmware(t.fleet, '7', 'pk1', 'MCU');
    const other = externalFirmware(t.fleet, '2.0.0', 'pk2');
    should([a.sequence, b.sequence, mcu.sequence, other.sequence]).eql([1, 2, 1, 1]);
    should(t.fleet.listFirmware('pk1').map((f) => [f.version, f.sequence])).eql([
      ['2.0.0', 1],
      ['2.1.0', 2],
      ['7', 1],
    ]);
  });

  it('a deleted firmware never gives its number to the next one', function () {
    externalFirmware(t.fleet, '2.0.0');
    const newest = externalFirmware(t.fleet, '2.1.0');
    t.fleet.deleteFirmware(newest.id);
    should(externalFirmware(t.fleet, '2.2.0').sequence).equal(3);
  });

  it('the same version and bytes added again keeps its number', function () {
    const first = externalFirmware(t.fleet, '2.0.0');
    should(externalFirmware(t.fleet, '2.0.0')).match({ id: first.id, sequence: 1 });
    should(externalFirmware(t.fleet, '2.1.0').sequence).equal(2);
  });

  it('firmware stored before sequences existed is numbered in the order it was added, and the count goes on from there', function () {
    externalFirmware(t.fleet, '2.0.0');
    t.clock.advance(1000);
    externalFirmware(t.fleet, '1.5.0');
    t.fleet.close();
    // Back to schema 2: no sequence column, no counters.
    downgrade(t.file, 2);
    const store = new SqliteStore(t.file);
    should(store.listFirmware('pk1').map((f) => [f.version, f.sequence])).eql([
      ['2.0.0', 1],
      ['1.5.0', 2],
    ]);
    should(store.nextReleaseSequence('pk1', 'default')).equal(3);
    should(store.nextReleaseSequence('pk1', 'MCU')).equal(1);
    store.close();
  });
});
