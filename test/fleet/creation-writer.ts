/**
 * A child process for the kill test: stores `n` devices, an older batch holding 20 of them, then
 * a batch of all of them created `sliceSize` tasks a turn with the `replace` policy. Once the
 * creation has stored `stopAt` tasks (0: while its devices are still read) it prints `stopped
 * <batch id>` and blocks, mid-creation, until it is killed.
 * `node creation-writer.js <file> <n> <sliceSize> <stopAt>`.
 */
import { Fleet, SqliteStore } from '../../src/fleet';

const [file, nText, sliceText, stopText] = process.argv.slice(2);
const n = Number(nText);
const stopAt = Number(stopText);
const store = new SqliteStore(file);
store.transaction(() => {
  for (let i = 0; i < n; i++)
    store.recordVersion({ productKey: 'pk1', deviceName: `d-${String(i).padStart(6, '0')}` }, 'default', '1.0.0', i);
});
const fleet = new Fleet({ store, name: 'kill', batchSliceSize: Number(sliceText) });
const firmware = (version: string) =>
  fleet.addFirmware({
    productKey: 'pk1',
    module: 'default',
    version,
    size: 1024,
    md5: 'a'.repeat(32),
    sha256: 'b'.repeat(64),
    signMethod: 'Md5',
    url: `https://cdn.example.com/${version}.bin`,
    hosted: false,
    isDiff: false,
    verification: 'verified',
  });
const older = fleet.createBatch({
  firmwareId: firmware('2.0.0').id,
  targets: {
    selection: 'SPECIFIC',
    productKey: 'pk1',
    devices: Array.from({ length: 20 }, (_, i) => `d-${String(i * 7).padStart(6, '0')}`),
  },
});
process.stdout.write(`older ${older.id}\n`);
const batch = fleet.createBatch({
  firmwareId: firmware('3.0.0').id,
  targets: { selection: 'GRAY', productKey: 'pk1', percent: 90 },
  strategy: { overwrite: 'replace', waves: [10, 100] },
});
const poll = () => {
  const view = fleet.batch(batch.id);
  const done = view.creation?.done ?? 0;
  if (view.state === 'CREATING' && (stopAt === 0 ? view.creation?.total === null : done >= stopAt)) {
    process.stdout.write(`stopped ${batch.id} at ${done}\n`);
    // Frozen mid-creation: nothing more is stored until the kill.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
  }
  if (view.state !== 'CREATING') process.stdout.write(`created ${batch.id} before the stop\n`);
  else setImmediate(poll);
};
poll();
