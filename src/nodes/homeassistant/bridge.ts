/**
 * The Home Assistant side of a fleet, without Node-RED: which entities exist (the selection),
 * what each one's config and state are, what was published (remembered with the fleet, memo.ts,
 * so a device dropped from the selection is cleared even after a restart, and a deleted node's
 * entities by the next node to start), installs pressed in HA, how each install ended, and the
 * paced stream of MQTT messages out. ota-homeassistant.ts wires it to the node.
 */
import type { BatchView, DeviceModule, DeviceSelection, Fleet, Firmware, Installable, Transition } from '../../fleet';
import { ACTIVE_TASK_STATES } from '../../fleet';
import type { DeviceRef } from '../../protocol';
import { AVAILABLE, discoveryConfig, NOT_AVAILABLE } from './discovery';
import { diffSelection } from './diff';
import { availabilityTopic, EntityRef, entityKey, EntityTopics, entityTopics, objectIdOf } from './entity';
import { forgetPublished, Published, readIndex, readPublished, writeIndex, writePublished } from './memo';
import { MqttOut, Pacer } from './pacer';
import type { HaSettings } from './settings';
import { entityState } from './state';

/** Tasks read per page when the node starts (the running ones, to show them in progress). */
const RESTORE_PAGE = 10_000;

/** What the bridge needs of a fleet: its facade, nothing more. */
export type BridgeFleet = Pick<
  Fleet,
  | 'selectDevices'
  | 'selectedModulesOf'
  | 'latestFirmware'
  | 'installLatest'
  | 'memo'
  | 'setMemo'
  | 'listBatches'
  | 'tasks'
  | 'on'
  | 'off'
>;

export interface BridgeOutput {
  /** MQTT messages for `mqtt out` (paced, except availability). */
  publish(messages: MqttOut[]): void;
  /** Something changed that the status shows. */
  changed(): void;
}

interface Entity extends EntityRef {
  objectId: string;
  topics: EntityTopics;
  installed: string;
  task?: { active: boolean; step: number | null };
  /** The config and state last queued, to send only what changed. */
  config?: string;
  state?: string;
}

/** An install refused: why, and the entity it was for when the command named a known one. */
export class InstallRefusal extends Error {
  constructor(
    message: string,
    readonly objectId: string,
    readonly entity?: EntityRef & { objectId: string },
  ) {
    super(message);
    this.name = 'InstallRefusal';
  }
}

export class HaBridge {
  private readonly entities = new Map<string, Entity>();
  private readonly byObjectId = new Map<string, Entity>();
  /** Entity keys by device (`pk\0dn`), for tag changes. */
  private readonly byDevice = new Map<string, Set<string>>();
  /** Object ids whose config may be retained at the broker under the current prefix. */
  private readonly published = new Set<string>();
  private readonly latestCache = new Map<string, Installable>();
  private readonly pacer: Pacer;
  private memoTimer: NodeJS.Immediate | undefined;
  private closed = false;
  installs = 0;
  refusals = 0;

  constructor(
    private readonly fleet: BridgeFleet,
    private readonly settings: HaSettings,
    private readonly memoKey: string,
    private readonly out: BridgeOutput,
    /** Whether another node's note belongs to a node no longer in the flows (its entities are cleared). */
    private readonly isOrphan: (memoKey: string) => boolean = () => false,
  ) {
    this.pacer = new Pacer(settings.ratePerSecond, (batch) => this.sent(batch));
  }

  get selected(): boolean {
    return this.settings.selection !== undefined;
  }

  /** Counts the status shows. */
  summary(): { entities: number; pending: number; sent: number; held: boolean } {
    return {
      entities: this.entities.size,
      pending: this.pacer.pending,
      sent: this.pacer.sent,
      held: this.pacer.isHeld,
    };
  }

  /** Reads the selection, clears what left it since last time, queues every config and state, listens to the fleet. */
  start(): void {
    const previous = this.recall();
    const selection = this.settings.selection;
    const now = selection ? this.fleet.selectDevices(selection) : [];
    for (const d of now) this.add(d, false);
    this.restoreTasks(selection);
    const moved = previous && (previous.prefix !== this.settings.prefix || previous.base !== this.settings.base);
    if (previous && moved) for (const id of previous.ids) this.queueClear(id, previous.prefix, previous.base);
    else if (previous) {
      for (const id of previous.ids) this.published.add(id);
      for (const id of diffSelection(previous.ids, this.byObjectId.keys()).removed)
        this.queueClear(id, this.settings.prefix, this.settings.base);
    }
    for (const e of this.entities.values()) this.queueEntity(e, true);
    this.sweepOrphans();
    this.fleet.on('device', this.onDevice);
    this.fleet.on('task', this.onTask);
    this.fleet.on('firmware', this.onFirmware);
    this.fleet.on('tags', this.onTags);
    this.saveMemoSoon();
  }

  /** The broker takes what the node sends (its availability came back, or HA spoke): start publishing. */
  linkUp(): void {
    this.pacer.release();
    this.out.changed();
  }

  /** The node's availability, retained, sent at once (not paced: it is one message). */
  availability(online: boolean): void {
    this.out.publish([
      { topic: availabilityTopic(this.settings.base), payload: online ? AVAILABLE : NOT_AVAILABLE, retain: true },
    ]);
  }

  /** HA (re)started: it gets every config and state again, and the availability. */
  birth(): void {
    this.availability(true);
    for (const e of this.entities.values()) this.queueEntity(e, true, true);
    this.linkUp();
  }

  /**
   * Install pressed in HA on entity `objectId`: a one-device batch of the newest firmware it may
   * get. Refused (InstallRefusal) when the entity is unknown, or the fleet refuses; the refusal
   * is written to the entity's attributes, its state stays as it was.
   */
  install(objectId: string): {
    entity: EntityRef & { objectId: string };
    batch: BatchView;
    firmware: Firmware | undefined;
  } {
    const e = this.byObjectId.get(objectId);
    if (!e) {
      this.refusals++;
      throw new InstallRefusal(
        `no device of this node's selection has the entity ${objectId}: it is unknown, or was removed from the selection`,
        objectId,
      );
    }
    const ref = { productKey: e.productKey, deviceName: e.deviceName, module: e.module, objectId };
    let batch: BatchView;
    try {
      batch = this.fleet.installLatest(e, e.module);
    } catch (err) {
      this.refused(objectId, (err as Error).message);
      throw new InstallRefusal((err as Error).message, objectId, ref);
    }
    this.installs++;
    const firmware = this.latestOf(e).firmware;
    e.task = { active: true, step: null };
    this.queueEntity(e, false);
    this.attributes(e, { result: 'started', batch_id: batch.id, version: firmware?.version ?? null });
    return { entity: ref, batch, firmware };
  }

  /** Counts a refused install, and writes the reason to the entity's attributes. */
  private refused(objectId: string, reason: string): void {
    this.refusals++;
    const e = this.byObjectId.get(objectId);
    if (e) this.attributes(e, { result: 'refused', reason });
  }

  /**
   * Stops listening, and says the entities are unavailable. With `clear` (the node was deleted
   * from the flows) every entity is cleared at once, best effort: the note stays, so the next
   * node of the fleet to start clears them again in case these messages were lost.
   */
  close(clear: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.fleet.off('device', this.onDevice);
    this.fleet.off('task', this.onTask);
    this.fleet.off('firmware', this.onFirmware);
    this.fleet.off('tags', this.onTags);
    this.pacer.close();
    if (this.memoTimer) clearImmediate(this.memoTimer);
    if (clear) {
      const clears = [...this.published].flatMap((id) => this.clears(id, this.settings.prefix, this.settings.base));
      if (clears.length) this.out.publish(clears);
    }
    this.availability(false);
    this.saveMemo();
  }

  // ---- entities ---------------------------------------------------------------------------

  private add(d: DeviceModule, queue: boolean): Entity {
    const ref = { productKey: d.productKey, deviceName: d.deviceName, module: d.module };
    const key = entityKey(ref);
    const existing = this.entities.get(key);
    if (existing) return existing;
    const objectId = objectIdOf(ref, this.settings.base);
    const e: Entity = {
      ...ref,
      objectId,
      topics: entityTopics(this.settings.prefix, this.settings.base, objectId),
      installed: d.version,
    };
    this.entities.set(key, e);
    this.byObjectId.set(objectId, e);
    const deviceKey = `${d.productKey}\u0000${d.deviceName}`;
    const keys = this.byDevice.get(deviceKey) ?? new Set<string>();
    keys.add(key);
    this.byDevice.set(deviceKey, keys);
    if (queue) {
      this.queueEntity(e, true);
      this.saveMemoSoon();
    }
    return e;
  }

  private remove(e: Entity): void {
    const key = entityKey(e);
    this.entities.delete(key);
    this.byObjectId.delete(e.objectId);
    this.byDevice.get(`${e.productKey}\u0000${e.deviceName}`)?.delete(key);
    this.queueClear(e.objectId, this.settings.prefix, this.settings.base);
  }

  /** Tasks already running when the node starts: the entities show them in progress. */
  private restoreTasks(selection: DeviceSelection | undefined): void {
    if (!selection) return;
    for (const batch of this.fleet.listBatches()) {
      if (
        batch.targets.productKey !== selection.productKey ||
        !['PLANNED', 'IN_PROGRESS', 'PAUSED'].includes(batch.state)
      )
        continue;
      // The batch once by id, a page at a time (a batch of a million tasks is never one array),
      // keeping the active tasks: one walk, not one per active state.
      for (let page = this.fleet.tasks(batch.id, { limit: RESTORE_PAGE }); page.length > 0;) {
        for (const t of page) {
          const e = ACTIVE_TASK_STATES.includes(t.state) ? this.entities.get(entityKey(t)) : undefined;
          if (e) e.task = { active: true, step: t.step };
        }
        if (page.length < RESTORE_PAGE) break;
        page = this.fleet.tasks(batch.id, { limit: RESTORE_PAGE, after: page[page.length - 1].id });
      }
    }
  }

  private latestOf(e: Entity): Installable {
    const key = `${e.productKey}\u0000${e.module}\u0000${e.installed}`;
    let found = this.latestCache.get(key);
    if (!found) this.latestCache.set(key, (found = this.fleet.latestFirmware(e.productKey, e.module, e.installed)));
    return found;
  }

  /** Queues the entity's config (with `withConfig`) and state, each only when it changed (or `force`). */
  private queueEntity(e: Entity, withConfig: boolean, force = false): void {
    if (this.closed) return;
    if (withConfig) {
      const config = JSON.stringify(
        discoveryConfig({
          entity: e,
          objectId: e.objectId,
          topics: e.topics,
          base: this.settings.base,
          payloadInstall: this.settings.payloadInstall,
          installedVersion: e.installed,
        }),
      );
      if (force || config !== e.config) {
        e.config = config;
        this.published.add(e.objectId);
        this.pacer.put({ topic: e.topics.config, payload: config, retain: true });
      }
    }
    const latest = this.latestOf(e);
    const state = JSON.stringify(
      entityState({
        entity: e,
        installedVersion: e.installed,
        latest: latest.firmware,
        reason: latest.reason,
        task: e.task,
      }),
    );
    if (force || state !== e.state) {
      e.state = state;
      this.pacer.put({ topic: e.topics.state, payload: state, retain: true });
    }
    this.out.changed();
  }

  /** The entity's attributes: how its last install went (started, refused, or how its task ended). */
  private attributes(e: Entity, what: Record<string, unknown>): void {
    const payload = JSON.stringify({ ...what, at: new Date().toISOString() });
    this.pacer.put({ topic: e.topics.attributes, payload, retain: true });
  }

  private clears(objectId: string, prefix: string, base: string): MqttOut[] {
    const t = entityTopics(prefix, base, objectId);
    // The config last, so the entity is gone from HA only once its topics are empty.
    return [t.state, t.attributes, t.config].map((topic) => ({ topic, payload: '', retain: true }));
  }

  private queueClear(objectId: string, prefix: string, base: string): void {
    for (const m of this.clears(objectId, prefix, base)) this.pacer.put(m);
    this.out.changed();
  }

  /** What the pacer sent: cleared configs are forgotten (then nothing is retained for them). */
  private sent(batch: MqttOut[]): void {
    let forgot = false;
    for (const m of batch) {
      if (m.payload !== '' || !m.topic.endsWith('/config')) continue;
      const objectId = m.topic.split('/').at(-2) as string;
      if (m.topic.startsWith(`${this.settings.prefix}/update/`) && !this.byObjectId.has(objectId)) {
        this.published.delete(objectId);
        forgot = true;
      }
    }
    this.out.publish(batch);
    if (forgot) this.saveMemoSoon();
    this.out.changed();
  }

  // ---- fleet events -----------------------------------------------------------------------

  private readonly onDevice = (d: DeviceModule) => {
    const e = this.entities.get(entityKey(d));
    if (e) {
      if (e.installed === d.version) return;
      e.installed = d.version;
      return this.queueEntity(e, true);
    }
    const selection = this.settings.selection;
    if (!selection || d.productKey !== selection.productKey) return;
    if (this.fleet.selectedModulesOf(d, selection).some((m) => m.module === d.module)) this.add(d, true);
  };

  private readonly onTask = (t: Transition) => {
    const e = this.entities.get(entityKey(t));
    if (!e) return;
    e.task = { active: ACTIVE_TASK_STATES.includes(t.to), step: t.to === 'IN_PROGRESS' ? t.step : null };
    this.queueEntity(e, false);
    // The state only says the install stopped; the attributes say how, and why it failed.
    if (!e.task.active) this.attributes(e, { result: t.to.toLowerCase(), batch_id: t.batchId, reason: t.reason });
  };

  private readonly onFirmware = (f: Firmware) => {
    if (f.productKey !== this.settings.selection?.productKey) return;
    this.latestCache.clear();
    for (const e of this.entities.values()) if (e.module === f.module) this.queueEntity(e, false);
  };

  private readonly onTags = (devices: DeviceRef[]) => {
    const selection = this.settings.selection;
    if (!selection) return;
    for (const device of devices) {
      if (device.productKey !== selection.productKey) continue;
      const now = this.fleet.selectedModulesOf(device, selection);
      const keep = new Set(now.map((m) => entityKey(m)));
      for (const key of [...(this.byDevice.get(`${device.productKey}\u0000${device.deviceName}`) ?? [])]) {
        const e = this.entities.get(key);
        if (e && !keep.has(key)) this.remove(e);
      }
      for (const m of now) this.add(m, true);
    }
    this.saveMemoSoon();
  };

  // ---- what was published, remembered with the fleet (memo.ts) ---------------------------

  private recall(): Published | undefined {
    return readPublished(this.fleet, this.memoKey);
  }

  /**
   * Clears the entities of nodes deleted from the flows (their clears at close may have been
   * lost with a stopping `mqtt out`), except those this node publishes now, and forgets their notes.
   */
  private sweepOrphans(): void {
    const keys = readIndex(this.fleet);
    const kept = keys.filter((key) => key === this.memoKey || !this.isOrphan(key));
    for (const key of keys.filter((k) => !kept.includes(k))) {
      const orphan = readPublished(this.fleet, key);
      for (const id of orphan?.ids ?? []) {
        const ours = orphan?.prefix === this.settings.prefix && this.byObjectId.has(id);
        if (orphan && !ours) this.queueClear(id, orphan.prefix, orphan.base);
      }
      forgetPublished(this.fleet, key);
    }
    writeIndex(this.fleet, [...kept, this.memoKey]);
  }

  private saveMemoSoon(): void {
    if (this.memoTimer || this.closed) return;
    // Once per turn of the event loop: a burst of changes is one write, and it is written before a
    // deploy can close the fleet's store under this node.
    this.memoTimer = setImmediate(() => {
      this.memoTimer = undefined;
      this.saveMemo();
    });
  }

  private saveMemo(): void {
    writePublished(this.fleet, this.memoKey, {
      prefix: this.settings.prefix,
      base: this.settings.base,
      ids: [...this.published],
    });
  }
}
