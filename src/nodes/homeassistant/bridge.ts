/**
 * The Home Assistant side of a fleet, without Node-RED: which entities exist (the selection),
 * what each one's config and state are, what was published (remembered with the fleet, memo.ts,
 * so a device dropped from the selection is cleared even after a restart, and a deleted node's
 * entities by the next node to start), installs pressed in HA, how each install ended, and the
 * paced stream of MQTT messages out. ota-homeassistant.ts wires it to the node.
 */
import type {
  AskFleet,
  BatchView,
  DeviceModule,
  DeviceSelection,
  Fleet,
  Firmware,
  Installable,
  Transition,
} from '../../fleet';
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

/** What the bridge needs of a fleet: its events, and one unit of work at a time for the rest (a FleetHandle). */
export interface BridgeFleet {
  fleet: Pick<Fleet, 'on' | 'off'>;
  ask: AskFleet;
}

/** What the bridge reads when it starts, in one unit of work. */
interface StartRead {
  previous: Published | undefined;
  devices: DeviceModule[];
  /** The step of each entity's running task, by entity key. */
  running: Map<string, number | null>;
  /** The notes of nodes deleted from the flows (forgotten in the same unit). */
  orphans: (Published | undefined)[];
  /** What each entity is offered, by latestKey. */
  latest: Map<string, Installable>;
}

/** The steps of the selection's running tasks, by entity key (a task read later wins, as it did one by one). */
function runningTasks(f: Fleet, selection: DeviceSelection, keys: Set<string>): Map<string, number | null> {
  const running = new Map<string, number | null>();
  for (const batch of f.listBatches()) {
    if (
      batch.targets.productKey !== selection.productKey ||
      !['PLANNED', 'IN_PROGRESS', 'PAUSED'].includes(batch.state)
    )
      continue;
    // The batch once by id, a page at a time (a batch of a million tasks is never one array),
    // keeping the active tasks: one walk, not one per active state.
    for (let page = f.tasks(batch.id, { limit: RESTORE_PAGE }); page.length > 0;) {
      for (const t of page) {
        const key = entityKey(t);
        if (ACTIVE_TASK_STATES.includes(t.state) && keys.has(key)) running.set(key, t.step);
      }
      if (page.length < RESTORE_PAGE) break;
      page = f.tasks(batch.id, { limit: RESTORE_PAGE, after: page[page.length - 1].id });
    }
  }
  return running;
}

/** The key of what `latestFirmware` answers for an entity. */
function latestKey(e: { productKey: string; module: string; installed: string }): string {
  return `${e.productKey}\u0000${e.module}\u0000${e.installed}`;
}

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
  /** Counts the clears of latestCache: an answer read before a clear is not kept. */
  private latestGeneration = 0;
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

  /**
   * Reads the selection, clears what left it since last time, queues every config and state,
   * listens to the fleet. Resolves once started (or at once when closed meanwhile).
   */
  async start(): Promise<void> {
    const selection = this.settings.selection;
    const read = await this.fleet.ask((f) => this.readAtStart(f, selection));
    if (this.closed) return;
    const { previous, devices } = read;
    for (const [key, found] of read.latest) this.latestCache.set(key, found);
    for (const d of devices) this.add(d, false);
    for (const [key, step] of read.running) {
      const e = this.entities.get(key);
      if (e) e.task = { active: true, step };
    }
    const moved = previous && (previous.prefix !== this.settings.prefix || previous.base !== this.settings.base);
    if (previous && moved) for (const id of previous.ids) this.queueClear(id, previous.prefix, previous.base);
    else if (previous) {
      for (const id of previous.ids) this.published.add(id);
      for (const id of diffSelection(previous.ids, this.byObjectId.keys()).removed)
        this.queueClear(id, this.settings.prefix, this.settings.base);
    }
    for (const e of this.entities.values()) this.queueEntity(e, true);
    this.clearOrphans(read.orphans);
    const events = this.fleet.fleet;
    events.on('device', this.onDevice);
    events.on('task', this.onTask);
    events.on('firmware', this.onFirmware);
    events.on('tags', this.onTags);
    this.saveMemoSoon();
  }

  /**
   * The unit of work of a start: the note of what was published, the selected devices, the
   * running tasks, what each is offered; the notes of nodes deleted from the flows are forgotten
   * (their entities are cleared by the caller).
   */
  private readAtStart(f: Fleet, selection: DeviceSelection | undefined): StartRead {
    const previous = readPublished(f, this.memoKey);
    const devices = selection ? f.selectDevices(selection) : [];
    const keys = new Set(devices.map((d) => entityKey(d)));
    const running = selection ? runningTasks(f, selection, keys) : new Map<string, number | null>();
    const index = readIndex(f);
    const kept = index.filter((key) => key === this.memoKey || !this.isOrphan(key));
    const orphans = index.filter((key) => !kept.includes(key)).map((key) => readPublished(f, key));
    for (const key of index) if (!kept.includes(key)) forgetPublished(f, key);
    writeIndex(f, [...kept, this.memoKey]);
    const latest = new Map<string, Installable>();
    for (const d of devices) {
      const key = latestKey({ ...d, installed: d.version });
      if (!latest.has(key) && !this.latestCache.has(key))
        latest.set(key, f.latestFirmware(d.productKey, d.module, d.version));
    }
    return { previous, devices, running, orphans, latest };
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
  async install(objectId: string): Promise<{
    entity: EntityRef & { objectId: string };
    batch: BatchView;
    firmware: Firmware | undefined;
  }> {
    const e = this.byObjectId.get(objectId);
    if (!e) {
      this.refusals++;
      throw new InstallRefusal(
        `no device of this node's selection has the entity ${objectId}: it is unknown, or was removed from the selection`,
        objectId,
      );
    }
    const ref = { productKey: e.productKey, deviceName: e.deviceName, module: e.module, objectId };
    const cached = this.latestCache.get(latestKey(e));
    const installed = e.installed;
    let started: { batch: BatchView; latest: Installable };
    try {
      started = await this.fleet.ask((f) => ({
        batch: f.installLatest(e, e.module),
        latest: cached ?? f.latestFirmware(e.productKey, e.module, installed),
      }));
    } catch (err) {
      this.refused(objectId, (err as Error).message);
      throw new InstallRefusal((err as Error).message, objectId, ref);
    }
    const { batch, latest } = started;
    this.installs++;
    if (!cached && e.installed === installed) this.latestCache.set(latestKey(e), latest);
    const firmware = latest.firmware;
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
  close(clear: boolean): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const events = this.fleet.fleet;
    events.off('device', this.onDevice);
    events.off('task', this.onTask);
    events.off('firmware', this.onFirmware);
    events.off('tags', this.onTags);
    this.pacer.close();
    if (this.memoTimer) clearImmediate(this.memoTimer);
    if (clear) {
      const clears = [...this.published].flatMap((id) => this.clears(id, this.settings.prefix, this.settings.base));
      if (clears.length) this.out.publish(clears);
    }
    this.availability(false);
    return this.saveMemo();
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

  /**
   * Calls `then` once what each entity is offered is known (at once when it is): read in one unit
   * of work, kept unless a firmware event cleared the cache meanwhile (then read again).
   */
  private withLatest(entities: Entity[], then: () => void): void {
    const missing = new Map<string, Entity>();
    for (const e of entities) {
      const key = latestKey(e);
      if (!this.latestCache.has(key)) missing.set(key, e);
    }
    if (missing.size === 0) return then();
    const asked = [...missing].map(([key, e]) => ({
      key,
      productKey: e.productKey,
      module: e.module,
      installed: e.installed,
    }));
    const generation = this.latestGeneration;
    this.fleet
      .ask((f) => asked.map((a) => f.latestFirmware(a.productKey, a.module, a.installed)))
      .then(
        (found) => {
          if (this.closed) return;
          if (generation === this.latestGeneration) asked.forEach((a, i) => this.latestCache.set(a.key, found[i]));
          this.withLatest(entities, then);
        },
        () => undefined, // the fleet closed: the node closes with it
      );
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
    this.withLatest([e], () => this.queueState(e, force));
  }

  /** Queues the entity's state when it changed (or `force`), with what it is offered now. */
  private queueState(e: Entity, force: boolean): void {
    const latest = this.latestCache.get(latestKey(e));
    if (this.closed || !latest) return;
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
    this.fleet
      .ask((f) => f.selectedModulesOf(d, selection))
      .then(
        (modules) => {
          if (!this.closed && modules.some((m) => m.module === d.module)) this.add(d, true);
        },
        () => undefined, // the fleet closed: the node closes with it
      );
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
    this.latestGeneration++;
    const offered = [...this.entities.values()].filter((e) => e.module === f.module);
    // What each is offered now, read in one unit of work for all of them.
    this.withLatest(offered, () => {
      for (const e of offered) this.queueEntity(e, false);
    });
  };

  private readonly onTags = (devices: DeviceRef[]) => {
    const selection = this.settings.selection;
    if (!selection) return;
    const tagged = devices.filter((device) => device.productKey === selection.productKey);
    this.fleet
      .ask((f) => tagged.map((device) => f.selectedModulesOf(device, selection)))
      .then(
        (selected) => {
          if (!this.closed) this.retag(tagged, selected);
        },
        () => undefined, // the fleet closed: the node closes with it
      );
  };

  /** Each device's entities as its tags now select them: those no longer selected are removed. */
  private retag(devices: DeviceRef[], selected: DeviceModule[][]): void {
    devices.forEach((device, i) => {
      const now = selected[i];
      const keep = new Set(now.map((m) => entityKey(m)));
      for (const key of [...(this.byDevice.get(`${device.productKey}\u0000${device.deviceName}`) ?? [])]) {
        const e = this.entities.get(key);
        if (e && !keep.has(key)) this.remove(e);
      }
      for (const m of now) this.add(m, true);
    });
    this.saveMemoSoon();
  }

  // ---- what was published, remembered with the fleet (memo.ts) ---------------------------

  /**
   * Clears the entities of nodes deleted from the flows (their clears at close may have been
   * lost with a stopping `mqtt out`), except those this node publishes now. Their notes were
   * forgotten when read (readAtStart).
   */
  private clearOrphans(orphans: (Published | undefined)[]): void {
    for (const orphan of orphans) {
      for (const id of orphan?.ids ?? []) {
        const ours = orphan?.prefix === this.settings.prefix && this.byObjectId.has(id);
        if (orphan && !ours) this.queueClear(id, orphan.prefix, orphan.base);
      }
    }
  }

  private saveMemoSoon(): void {
    if (this.memoTimer || this.closed) return;
    // Once per turn of the event loop: a burst of changes is one write, and it is written before a
    // deploy can close the fleet's store under this node.
    this.memoTimer = setImmediate(() => {
      this.memoTimer = undefined;
      // A note not written now is written at the next change, or at close.
      this.saveMemo().catch(() => undefined);
    });
  }

  private saveMemo(): Promise<void> {
    const published = { prefix: this.settings.prefix, base: this.settings.base, ids: [...this.published] };
    return this.fleet.ask((f) => writePublished(f, this.memoKey, published));
  }
}
