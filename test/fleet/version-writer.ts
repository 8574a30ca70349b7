/**
 * A child process for the kill test: writes device reports into a store as fast as it can, in
 * transactions of 1 to 400 reports, and prints `committed <n>` after each commit, until it is
 * killed. `node version-writer.js <file> <seed> [thread]`: with `thread`, the store resets its log
 * every 1000 pages once its checkpoint thread runs (it starts as the writes fill the log), each
 * transaction also stores its number (meta `committed`), and `thread restarted` is printed once the
 * store has reset the log while the thread runs.
 */
import { SqliteStore } from '../../src/fleet';

/** A small seeded generator (mulberry32), so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const [file, seedText, thread] = process.argv.slice(2);
const next = random(Number(seedText));
const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)];
const store = new SqliteStore(file, thread === 'thread' ? { checkpointThread: { restartPages: 1000 } } : {});
let restarted = false;
const products = ['pk1', 'pk2', 'pk3'];
const modules = ['default', 'MCU'];
const versions = ['1.0.0', '1.0.1', '1.1.0', '2.0.0', '2.0.1', '3.0.0'];
let at = 0;
async function main(): Promise<void> {
  for (let n = 1; ; n++) {
    // A turn of the event loop between transactions, as in Node-RED (the store resets its log in one).
    await new Promise((r) => setImmediate(r));
    const size = 1 + Math.floor(next() * 400);
    store.transaction(() => {
      for (let i = 0; i < size; i++) {
        const device = { productKey: pick(products), deviceName: `d-${Math.floor(next() * 5000)}` };
        store.recordVersion(device, pick(modules), pick(versions), ++at);
      }
      if (thread) store.setMeta('committed', String(n));
    });
    process.stdout.write(`committed ${n}\n`);
    if (thread && !restarted && (store.checkpointState?.restarts ?? 0) > 0) {
      restarted = true;
      process.stdout.write('thread restarted\n');
    }
  }
}
void main();
