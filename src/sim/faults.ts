/**
 * Which simulated devices misbehave, and how: decided from a seed alone, so a run can be repeated
 * device for device. Pure: no clock, no I/O.
 */

export const FAULT_NAMES = [
  'failDownload',
  'failVerify',
  'failBurn',
  'offline',
  'wrongVersion',
  'silent',
  'slow',
] as const;

export type FaultName = (typeof FAULT_NAMES)[number];

/** A fault hits each device with a probability, or exactly `count` devices. */
export type FaultSpec = { probability: number } | { count: number };

export type FaultPlan = Record<FaultName, FaultSpec>;

/** The command-line flag of each fault, for help texts, errors and reports. */
export const FAULT_FLAGS: Record<FaultName, string> = {
  failDownload: '--fail-download',
  failVerify: '--fail-verify',
  failBurn: '--fail-burn',
  offline: '--offline',
  wrongVersion: '--wrong-version',
  silent: '--silent',
  slow: '--slow',
};

export const NO_FAULTS: FaultPlan = Object.freeze(
  Object.fromEntries(FAULT_NAMES.map((name) => [name, { count: 0 }])) as FaultPlan,
);

/**
 * The faults of every device, by index. A count picks exactly that many devices by a seeded
 * shuffle; a probability draws once per device. Each fault has its own random stream, so changing
 * one fault (or the number of devices, for probabilities) never moves another fault.
 */
export function assignFaults(devices: number, plan: FaultPlan, seed: number): Set<FaultName>[] {
  const faults = Array.from({ length: devices }, () => new Set<FaultName>());
  FAULT_NAMES.forEach((name, k) => {
    const spec = plan[name];
    if ('count' in spec) {
      for (const index of pickIndices(devices, Math.min(spec.count, devices), seededRandom(mix(seed, k + 1))))
        faults[index].add(name);
    } else if (spec.probability > 0) {
      for (let i = 0; i < devices; i++) {
        if (uniform(seed, k + 1, i) < spec.probability) faults[i].add(name);
      }
    }
  });
  return faults;
}

/** How many devices carry each fault. */
export function countFaults(faults: Iterable<ReadonlySet<FaultName>>): Record<FaultName, number> {
  const counts = Object.fromEntries(FAULT_NAMES.map((name) => [name, 0])) as Record<FaultName, number>;
  for (const set of faults) for (const name of set) counts[name]++;
  return counts;
}

/** `count` distinct indices below `n`, in increasing order: the head of a seeded Fisher–Yates shuffle. */
function pickIndices(n: number, count: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (n - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, count).sort((a, b) => a - b);
}

/** mulberry32: a small, fast generator of numbers in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A number in [0, 1) that depends only on its seed, a stream number and a device index. */
export function uniform(seed: number, stream: number, index: number): number {
  return seededRandom(mix(mix(seed, stream), index))();
}

/** Mixes two 32-bit numbers into a well-spread third (the murmur3 finaliser). */
function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A device's own random stream (boot delay, the moment it goes offline), apart from the fault streams. */
export function deviceRandom(seed: number, index: number): () => number {
  return seededRandom(mix(mix(seed, 0x51d), index));
}
