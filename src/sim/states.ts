/**
 * The life of a simulated device as one table, and the fleet summary counted from it. Pure.
 */
import { FAULT_NAMES, FaultName } from './faults';

export const SIM_STATES = [
  'booting',
  'idle',
  'notified',
  'downloading',
  'verifying',
  'burning',
  'rebooting',
  'upgraded',
  'failed',
  'offline',
] as const;

export type SimState = (typeof SIM_STATES)[number];

/**
 * Where each state may go. `booting` ends in `idle`, or in `upgraded`/`failed` when the device
 * comes back from being offline after an upgrade; any connected state can drop to `offline`.
 */
export const TRANSITIONS: Readonly<Record<SimState, readonly SimState[]>> = {
  booting: ['idle', 'upgraded', 'failed', 'offline'],
  idle: ['notified', 'offline'],
  notified: ['downloading', 'failed', 'offline'],
  downloading: ['verifying', 'failed', 'offline'],
  verifying: ['burning', 'failed', 'offline'],
  burning: ['rebooting', 'failed', 'offline'],
  rebooting: ['upgraded', 'failed', 'offline'],
  upgraded: ['notified', 'offline'],
  failed: ['notified', 'offline'],
  offline: ['booting'],
};

/** States in which a device is working on a notice. */
export const BUSY_STATES: ReadonlySet<SimState> = new Set([
  'notified',
  'downloading',
  'verifying',
  'burning',
  'rebooting',
]);

/** States in which a device takes a new notice; in the others it ignores one, as iotkit 3.x does. */
export const READY_STATES: ReadonlySet<SimState> = new Set(['idle', 'upgraded', 'failed']);

export function canTransition(from: SimState, to: SimState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** What the summary needs to know about one device. */
export interface DeviceSnapshot {
  name: string;
  state: SimState;
  /** Module → running version. */
  versions: Readonly<Record<string, string>>;
  faults: ReadonlySet<FaultName>;
  /**
   * Why the device is `failed`: `step -2` (the T3 it reported), `wrong version`, or for a package
   * refused by its release manifest (reported as step -3) `refused: downgrade replay` and the like;
   * and the detail.
   */
  failure?: { cause: string; desc: string };
  /** Percent of the current download. */
  progress: number;
  /** Module → the highest release sequence installed, for devices with a trust key. */
  installedSequences?: Readonly<Record<string, number>>;
}

export interface SimSummary {
  total: number;
  states: Record<SimState, number>;
  upgraded: number;
  failed: number;
  /** Devices by the version of their first module (the whole firmware unless --modules says otherwise). */
  byVersion: Record<string, number>;
  /** Devices by module and version. */
  byModule: Record<string, Record<string, number>>;
  /** Failed devices by cause: `step -1` … `step -4`, `wrong version`, `refused: <check>` (release manifest). */
  failuresByCause: Record<string, number>;
  /** Devices given each fault. */
  faults: Record<FaultName, number>;
  /** Mean progress of the devices that are downloading, 0 when none is. */
  downloadProgress: number;
}

export function summarize(devices: Iterable<DeviceSnapshot>, modules: readonly string[]): SimSummary {
  const states = Object.fromEntries(SIM_STATES.map((s) => [s, 0])) as Record<SimState, number>;
  const faults = Object.fromEntries(FAULT_NAMES.map((f) => [f, 0])) as Record<FaultName, number>;
  const byVersion: Record<string, number> = {};
  const byModule: Record<string, Record<string, number>> = Object.fromEntries(modules.map((m) => [m, {}]));
  const failuresByCause: Record<string, number> = {};
  let total = 0;
  let downloading = 0;
  let progress = 0;
  for (const d of devices) {
    total++;
    states[d.state]++;
    for (const f of d.faults) faults[f]++;
    const first = d.versions[modules[0]];
    if (first !== undefined) byVersion[first] = (byVersion[first] ?? 0) + 1;
    for (const [module, version] of Object.entries(d.versions)) {
      const counts = (byModule[module] ??= {});
      counts[version] = (counts[version] ?? 0) + 1;
    }
    if (d.state === 'failed' && d.failure)
      failuresByCause[d.failure.cause] = (failuresByCause[d.failure.cause] ?? 0) + 1;
    if (d.state === 'downloading') {
      downloading++;
      progress += d.progress;
    }
  }
  return {
    total,
    states,
    upgraded: states.upgraded,
    failed: states.failed,
    byVersion,
    byModule,
    failuresByCause,
    faults,
    downloadProgress: downloading === 0 ? 0 : Math.floor(progress / downloading),
  };
}
