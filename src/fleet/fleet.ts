/**
 * A fleet: inventory, firmware catalog, batches and their tasks, and the scheduler that pushes
 * notices, behind one API. Nodes and the admin API use only this class; it never touches
 * Node-RED. The parts: core.ts (units of work, state changes), ingest.ts (what devices say),
 * catalog.ts, batches.ts, scheduler.ts, settle.ts.
 */
import { randomBytes } from 'node:crypto';
import type {
  BlockRequest,
  DeviceRef,
  FirmwareDescriptor,
  FirmwareQuery,
  ProgressReport,
  VersionReport,
} from '../protocol';
import { removeUnfinished } from './batch-creation';
import { Action, BatchOptions, controlBatch, ControlOptions, createBatch, pushDirect } from './batches';
import { addFirmware, deleteFirmware, firmwareFromDescriptor, NewFirmware } from './catalog';
import { FleetCore, FleetOptions, TaskOutcome, Touched } from './core';
import { checkLogin, mayPublish, maySubscribe, MqttLogin, parseLogin } from '../identity';
import { BAD_LOGIN, CredentialRecord, deviceOfUsername, parseCredentials } from './credentials';
import { notFound } from './errors';
import { storeIdentity } from './package-dir';
import { installLatest } from './install';
import { Installable, newestInstallable } from './installable';
import { queryFirmware, reportProgress, reportVersion, requestBlock } from './ingest';
import { Scheduler, SchedulerState } from './scheduler';
import { DeviceSelection, selectedModules, selectedModulesOf } from './selection';
import { settleBatch } from './settle';
import type { TaskCounts } from './states';
import type { CredentialQuery, DevicePage, DeviceQuery, TaskPage, TaskQuery } from './store';
import type { BatchView, DeviceModule, Firmware, Task, Transition } from './types';

/** The prefix of the fleet's store keys that integrations keep their notes under. */
const MEMO_PREFIX = 'memo:';

/** How often the process that schedules a fleet shared with others looks for work they added (they also tell it). */
export const SHARED_STORE_POLL_MS = 5_000;

/** Keys the login check of an unregistered device, which then fails as a wrong password does. */
const UNREGISTERED = randomBytes(16).toString('hex');

export class Fleet extends FleetCore {
  private readonly scheduler = new Scheduler(this);

  private schedulerAtStart: SchedulerState | undefined;

  constructor(options: FleetOptions) {
    super(options);
    if (this.units) {
      // The store answers only inside units: the first one does what a start does.
      this.units.later(() => {
        removeUnfinished(this, this.store.listBatches());
        this.scheduler.recoverOpenBatches();
      });
    } else {
      // A batch a stopped process left CREATING is removed, as if never asked for (batch-creation.ts).
      removeUnfinished(this, this.store.listBatches());
    }
    this.wake(0);
  }

  protected override onWake(): void {
    const units = this.units;
    if (!units) this.scheduler.pass();
    else if (units.schedules)
      units.later(() => {
        this.scheduler.pass();
        units.stillSchedules();
        // Other processes add work too (a batch, a report): the holder looks at least this often.
        if (units.shared) this.wake(SHARED_STORE_POLL_MS);
      });
  }

  /**
   * This process now holds the scheduler's lease (replayed-fleet.ts): it schedules from now on,
   * and each NOTIFIED task from before gets one more notice (the last holder may have stopped
   * between storing a notice and sending it), as after a restart.
   */
  takeOverScheduling(): void {
    const units = this.units;
    if (!units) return;
    units.later(() => this.scheduler.recoverFrom(this.clock.now()));
    this.wake(0);
  }

  protected override onRunStart(first: boolean): void {
    if (first) this.schedulerAtStart = this.scheduler.snapshot();
    else if (this.schedulerAtStart) this.scheduler.restore(this.schedulerAtStart);
  }

  protected override afterCommit(batchId: number, touched: Touched): void {
    settleBatch(this, batchId, touched);
  }

  /** Runs the scheduler now (tests and direct pushes; normally the timer does). */
  tick(): void {
    this.scheduler.pass();
  }

  // what devices say
  reportVersion(device: DeviceRef, report: VersionReport): TaskOutcome {
    return reportVersion(this, device, report);
  }

  reportProgress(device: DeviceRef, report: ProgressReport): TaskOutcome {
    return reportProgress(this, device, report);
  }

  queryFirmware(
    device: DeviceRef,
    query: FirmwareQuery,
    kind: 'firmwareGet' | 'request' = 'firmwareGet',
  ): TaskOutcome & { pending: boolean } {
    return queryFirmware(this, device, query, kind);
  }

  requestBlock(device: DeviceRef, request: BlockRequest): Promise<TaskOutcome> {
    return requestBlock(this, device, request);
  }

  // the same, group-committed with the reports that arrive in the same turn (what the nodes use)
  submitVersion(device: DeviceRef, report: VersionReport): Promise<TaskOutcome> {
    return this.submit(() => reportVersion(this, device, report));
  }

  submitProgress(device: DeviceRef, report: ProgressReport): Promise<TaskOutcome> {
    return this.submit(() => reportProgress(this, device, report));
  }

  submitQuery(
    device: DeviceRef,
    query: FirmwareQuery,
    kind: 'firmwareGet' | 'request' = 'firmwareGet',
  ): Promise<TaskOutcome & { pending: boolean }> {
    return this.submit(() => queryFirmware(this, device, query, kind));
  }

  /** T8: the version report and the query it carries, in one operation. */
  submitRequest(device: DeviceRef, report: VersionReport): Promise<TaskOutcome & { pending: boolean }> {
    return this.submit(() => {
      reportVersion(this, device, report);
      return queryFirmware(this, device, { id: report.id, module: report.module }, 'request');
    });
  }

  // inventory
  devices(query: DeviceQuery = {}): DeviceModule[] {
    return this.store.listDevices(query);
  }

  /** A page of devices for a client that pages by cursor (`next`: where the following page starts, when it stopped early). */
  devicePage(query: DeviceQuery = {}): DevicePage {
    return this.store.devicePage(query);
  }

  device(device: DeviceRef) {
    return {
      ...device,
      modules: this.store.deviceModules(device),
      tags: this.store.tagsOf(device),
      tasks: this.store.tasksOfDevice(device),
    };
  }

  versions(productKey?: string) {
    return this.store.versionDistribution(productKey);
  }

  setTags(devices: DeviceRef[], tags: string[]): void {
    this.run(() => devices.forEach((device) => this.store.setTags(device, tags)));
    this.emit('tags', devices);
  }

  /** The device modules of the inventory in a selection by product key, module and tag (selection.ts). */
  selectDevices(selection: DeviceSelection): DeviceModule[] {
    return selectedModules(this.store, selection);
  }

  /** The modules of one device that are in a selection (none when it is not in it). */
  selectedModulesOf(device: DeviceRef, selection: DeviceSelection): DeviceModule[] {
    return selectedModulesOf(this.store, device, selection);
  }

  /**
   * The newest firmware a device of `productKey` running `version` of `module` may be upgraded to
   * (installable.ts), or why there is none.
   */
  latestFirmware(productKey: string, module: string, version?: string): Installable {
    return newestInstallable(
      this.store.listFirmware(productKey),
      { productKey, module, version },
      this.settings.requireVerification,
    );
  }

  /** A one-device batch of the newest firmware the device may get (install.ts); refused with the reason otherwise. */
  installLatest(device: DeviceRef, module: string): BatchView {
    return this.view(installLatest(this, device, module));
  }

  /**
   * The store's identity (every process on the store shares it): `candidate`, a random id, becomes
   * it the first time it is asked for. Made by the caller, so that a unit run again asks the same.
   */
  identity(candidate: string): string {
    return storeIdentity(this.store, () => candidate);
  }

  /** A secret the fleet keeps in its store (the URL signing key when none is configured): `candidate` the first time. */
  keptSecret(key: string, candidate: string): string {
    let value = this.store.getMeta(key);
    if (!value) {
      value = candidate;
      this.store.setMeta(key, value);
    }
    return value;
  }

  /** A note an integration keeps with the fleet, durable in its store (e.g. what it published). */
  memo(key: string): string | undefined {
    return this.store.getMeta(MEMO_PREFIX + key);
  }

  setMemo(key: string, value: string): void {
    this.store.setMeta(MEMO_PREFIX + key, value);
  }

  // device registry
  /** Registers the devices of a JSON array or CSV text (credentials.ts), all or none; a device already registered gets the new secret. */
  registerCredentials(body: unknown): { registered: number } {
    const credentials = parseCredentials(body);
    const at = this.clock.now();
    this.run(() => this.store.putCredentials(credentials, at));
    return { registered: credentials.length };
  }

  removeCredential(device: DeviceRef): void {
    if (!this.run(() => this.store.deleteCredential(device)))
      throw notFound(`${device.productKey}/${device.deviceName} is not registered`);
  }

  /** Registered devices, never their secrets. */
  listCredentials(query: CredentialQuery = {}): CredentialRecord[] {
    return this.store.listCredentials(query);
  }

  /**
   * An MQTT login of Alibaba's form checked against the device's registered secret. An unknown
   * device and a wrong password get the same answer, in about the same time: the HMAC is computed
   * either way, so neither the answer nor its delay tells which devices are registered.
   */
  authenticate(login: MqttLogin): { ok: true; device: DeviceRef } | { ok: false; reason: string } {
    const parsed = parseLogin(login);
    if (!parsed.ok) return parsed;
    const device = { productKey: parsed.claim.productKey, deviceName: parsed.claim.deviceName };
    const secret = this.store.deviceSecret(device);
    const signed = checkLogin(parsed.claim, secret ?? UNREGISTERED);
    return secret !== undefined && signed ? { ok: true, device } : { ok: false, reason: BAD_LOGIN };
  }

  /**
   * May a device that logged in publish on this topic, or subscribe to this filter? Only its own
   * reports and notices (identity/topic-rights.ts), and only while it has a registered secret.
   */
  authorize(device: DeviceRef, action: 'publish' | 'subscribe', topic: string): boolean {
    if (this.store.deviceSecret(device) === undefined) return false;
    return action === 'publish' ? mayPublish(device, topic) : maySubscribe(device, topic);
  }

  /** The device an authenticated client's user name (`deviceName&productKey`) names, or undefined. */
  deviceOfLogin(username: string): DeviceRef | undefined {
    return deviceOfUsername(username);
  }

  // catalog
  listFirmware(productKey?: string): Firmware[] {
    return this.store.listFirmware(productKey);
  }

  firmware(id: string): Firmware {
    return this.firmwareOf(id);
  }

  /** The catalog record with this id, or undefined (where an unknown id is not an error). */
  findFirmware(id: string): Firmware | undefined {
    return this.store.firmware(id);
  }

  addFirmware(input: NewFirmware): Firmware {
    return addFirmware(this, input);
  }

  firmwareFromDescriptor(productKey: string, descriptor: FirmwareDescriptor): Firmware {
    return firmwareFromDescriptor(this, productKey, descriptor);
  }

  /** Deletes a record nothing uses; its `firmware` event tells the offers made of it (Home Assistant's) to go. */
  deleteFirmware(id: string): Firmware {
    return deleteFirmware(this, id);
  }

  // batches
  /**
   * A batch whose candidates fit in one slice comes back complete (PLANNED or IN_PROGRESS); a
   * larger one comes back CREATING at once and gets its tasks a slice at a time: `whenCreated`.
   */
  createBatch(input: unknown, options?: BatchOptions): BatchView {
    return this.view(createBatch(this, input, options));
  }

  /**
   * The batch once it is no longer CREATING: complete (PLANNED or IN_PROGRESS), or CANCELED by a
   * user meanwhile. Rejects when its creation failed (the batch is then removed) or the fleet closed
   * (the next start removes it).
   */
  whenCreated(id: number): Promise<BatchView> {
    const creating = this.creating.get(id);
    if (creating) return creating.settled;
    try {
      return Promise.resolve(this.batch(id));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Records a direct push as one-off batches and sends the notices at once. */
  pushDirect(
    what: FirmwareDescriptor | { firmwareId: string },
    devices: DeviceRef[],
    egress: string,
    options: { allowUnverified?: boolean } = {},
  ): BatchView[] {
    const batches = pushDirect(this, what, devices, egress, options.allowUnverified === true);
    this.tick();
    return batches.map((b) => this.view(this.batchRecord(b.id)));
  }

  control(action: Action | string, batchId: number, options?: ControlOptions): BatchView {
    const batch = controlBatch(this, action, batchId, options);
    return this.view(this.batchRecord(batch.id));
  }

  listBatches(): BatchView[] {
    return this.store.listBatches().map((b) => this.view(this.openBatches.get(b.id) ?? b));
  }

  batch(id: number): BatchView {
    return this.view(this.batchRecord(id));
  }

  tasks(batchId: number, query: TaskQuery = {}): Task[] {
    this.batchRecord(batchId);
    return this.store.tasksOf(batchId, query);
  }

  /** A page of a batch's tasks for a client that pages by cursor (`next`: where the following page starts, when it stopped early). */
  taskPage(batchId: number, query: TaskQuery = {}): TaskPage {
    this.batchRecord(batchId);
    return this.store.taskPage(batchId, query);
  }

  counts(batchId: number): TaskCounts {
    return { ...this.countsOf(batchId) };
  }

  transitions(query: { taskId?: number; batchId?: number; limit?: number }): Transition[] {
    return this.store.transitions(query);
  }

  /** Whether any batch is planned, running or paused. */
  hasOpenBatches(): boolean {
    return this.openBatches.size > 0;
  }

  /** Tasks of open batches by what a status line shows. */
  totals(): { queued: number; upgrading: number; succeeded: number; failed: number; canceled: number } {
    const t = { queued: 0, upgrading: 0, succeeded: 0, failed: 0, canceled: 0 };
    for (const id of this.openBatches.keys()) {
      const c = this.countsOf(id);
      t.queued += c.CONFIRM + c.QUEUED;
      t.upgrading += c.NOTIFIED + c.IN_PROGRESS;
      t.succeeded += c.SUCCEEDED;
      t.failed += c.FAILED;
      t.canceled += c.CANCELED;
    }
    return t;
  }
}

export type { DeviceSelection } from './selection';
export type { Installable } from './installable';
