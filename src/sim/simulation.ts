/**
 * A fleet of simulated devices on one broker: powered on in waves, counted by state, stopped as a
 * whole. Emits 'state' (device, from, to) for every change, 'refused' (device, reason) for a notice
 * a device could not read, and 'warning' (message) for connection trouble.
 */
import { EventEmitter } from 'node:events';
import { KeyObject } from 'node:crypto';
import { readPublicKey } from '../protocol';
import { SimDevice } from './device';
import { assignFaults, deviceRandom } from './faults';
import { Connections, directLinks, LinkOpener, probeBroker, SharedConnection, withoutCredentials } from './link';
import { signedLogins, simLogin } from './login';
import { SharedDigests } from './shared-digests';
import { deviceName, deviceSecretOf, SimOptions } from './options';
import { BUSY_STATES, DeviceSnapshot, SimState, SimSummary, summarize } from './states';
import { isInterrupted, SimTimers, systemTimers } from './timers';

export interface SimulationEvents {
  state: [device: DeviceSnapshot, from: SimState, to: SimState];
  refused: [device: DeviceSnapshot, reason: string];
  warning: [message: string];
}

export interface SimulationDeps {
  timers?: SimTimers;
}

export class Simulation extends EventEmitter<SimulationEvents> {
  private readonly timers: SimTimers;
  private readonly connections: Connections;
  private readonly shared: SharedConnection[] = [];
  private readonly deviceList: SimDevice[] = [];
  private readonly idleWaiters = new Set<{ resolve(): void; timer?: unknown }>();
  private busy = 0;
  private idleSince: number;
  private startedAt?: number;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(
    readonly options: SimOptions,
    deps: SimulationDeps = {},
  ) {
    super();
    this.timers = deps.timers ?? systemTimers;
    this.idleSince = this.timers.now();
    this.connections = new Connections(options, (clientId, err) => {
      this.emit('warning', `${clientId} @ ${withoutCredentials(options.broker)}: ${err.message}`);
    });
  }

  /** Checks the broker, then powers the devices on in waves; resolves once every device has booted. */
  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  /** Ends every device, client and timer. Safe to call more than once, and before or during start. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const device of this.deviceList) device.stop();
      for (const connection of this.shared) connection.abort();
      await this.connections.closeAll();
      for (const waiter of this.idleWaiters) {
        this.timers.clearTimeout(waiter.timer);
        waiter.resolve();
      }
      this.idleWaiters.clear();
    })();
    return this.stopping;
  }

  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  /** Every device, in index order. */
  get devices(): readonly DeviceSnapshot[] {
    return this.deviceList;
  }

  /** MQTT connections open right now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Milliseconds since start. */
  get elapsedMs(): number {
    return this.startedAt === undefined ? 0 : this.timers.now() - this.startedAt;
  }

  summary(): SimSummary {
    return summarize(this.deviceList, this.options.modules);
  }

  /** Resolves once no device has been working on a notice for `quietMs` (at once after stop). */
  idle(quietMs = 1000): Promise<void> {
    return new Promise((resolve) => {
      const waiter: { resolve(): void; timer?: unknown } = { resolve };
      const check = () => {
        const quietFor = this.busy === 0 ? this.timers.now() - this.idleSince : 0;
        if (this.stopped || (this.busy === 0 && quietFor >= quietMs)) {
          this.idleWaiters.delete(waiter);
          resolve();
          return;
        }
        waiter.timer = this.timers.setTimeout(check, this.busy === 0 ? quietMs - quietFor : Math.min(quietMs, 100));
      };
      this.idleWaiters.add(waiter);
      check();
    });
  }

  private async run(): Promise<void> {
    const { options } = this;
    if (this.stopped) return;
    await probeBroker(options, undefined, this.probeLogin());
    if (this.stopped) return;
    this.startedAt = this.timers.now();
    const publicKey: KeyObject | undefined = options.publicKey
      ? readPublicKey('publicKey', options.publicKey)
      : undefined;
    const trustKey: KeyObject | undefined = options.trustKey ? readPublicKey('trustKey', options.trustKey) : undefined;
    const faults = assignFaults(options.devices, options.faults, options.seed);
    const direct = directLinks(this.connections, signedLogins(options));
    const digests = new SharedDigests({ now: () => this.timers.now() });
    for (let index = 0; index < options.devices; index++) {
      this.deviceList.push(
        new SimDevice(index, deviceName(options, index), faults[index], {
          options,
          publicKey,
          trustKey,
          digests,
          timers: this.timers,
          open: options.share === 1 ? direct : this.sharedOpener(index),
          random: deviceRandom(options.seed, index),
          onState: (device, from, to) => this.onState(device, from, to),
          onRefused: (device, reason) => this.emit('refused', device, reason),
          onTrouble: (device, message) => this.emit('warning', `${device.name} ${message}`),
        }),
      );
    }
    const wave = options.timing.connectWave;
    for (let first = 0; first < this.deviceList.length && !this.stopped; first += wave) {
      await Promise.all(this.deviceList.slice(first, first + wave).map((device) => this.powerOn(device)));
    }
  }

  /** With signed logins, the probe logs in as the first device, under a client id of its own. */
  private probeLogin() {
    const first = { productKey: this.options.productKey, deviceName: deviceName(this.options, 0) };
    const secret = deviceSecretOf(this.options, first.productKey, first.deviceName);
    return secret === undefined ? undefined : simLogin(first, secret, `ota-sim-probe-${process.pid}`);
  }

  private sharedOpener(index: number): LinkOpener {
    const group = Math.floor(index / this.options.share);
    if (!this.shared[group]) {
      const { productKey, namePrefix } = this.options;
      this.shared[group] = new SharedConnection(this.connections, `${productKey}.${namePrefix}shared-${group + 1}`);
    }
    return this.shared[group].open;
  }

  private async powerOn(device: SimDevice): Promise<void> {
    try {
      await device.powerOn();
    } catch (err) {
      if (!isInterrupted(err) && !this.stopped)
        this.emit('warning', `${device.name} did not boot: ${(err as Error).message}`);
    }
  }

  private onState(device: SimDevice, from: SimState, to: SimState): void {
    const wasBusy = BUSY_STATES.has(from);
    const isBusy = BUSY_STATES.has(to);
    if (wasBusy !== isBusy) {
      this.busy += isBusy ? 1 : -1;
      if (this.busy === 0) this.idleSince = this.timers.now();
    }
    this.emit('state', device, from, to);
  }
}
