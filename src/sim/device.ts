/**
 * One simulated device, behaving like a device built on Link SDK 4: it reports its versions (T1)
 * at every boot, takes a notice (T2, or T5 in pull mode), reports T3 0 as the download starts and
 * then every few percent up to 100, verifies, burns, reboots and reports its new version. Faults
 * make it fail a step, vanish for a while, reboot into another version, stay silent or be slow.
 *
 * With a trust key it installs only releases whose signed manifest passes, and keeps the highest
 * release sequence it installed per module, so an older release pushed again is refused.
 *
 * A notice of several files (`files`): it downloads each from its own URL in the notice's order,
 * reports progress over their total size, and checks each file against its entry.
 *
 * Its work runs in one MQTT session at a time; going offline or stopping aborts the session, and
 * every wait, request and download tied to it stops with it.
 */
import { KeyObject } from 'node:crypto';
import {
  buildFirmwareQuery,
  buildTopic,
  DeviceRef,
  FirmwareDescriptor,
  MqttMessage,
  PackageDigest,
  PackageFile,
  parseUpgradeNotice,
  progressReportMessage,
  versionReportMessage,
} from '../protocol';
import { ManifestCheckName, nextInstalledSequences } from '../identity';
import { FAULT_FLAGS, FaultName } from './faults';
import { downloadOverHttp, DownloadFailed } from './http-download';
import { LinkOpener, MqttLink } from './link';
import { MqttDownloader } from './mqtt-download';
import { SimOptions } from './options';
import { PackageHasher, verifyFiles, verifyPackage, verifyRelease } from './package-check';
import type { SharedDigests, StreamHasher } from './shared-digests';
import { ProgressSteps } from './progress';
import { canTransition, DeviceSnapshot, READY_STATES, SimState } from './states';
import { Interrupted, isInterrupted, SimTimers, sleep, unlessAborted } from './timers';

export interface DeviceContext {
  options: Pick<SimOptions, 'productKey' | 'modules' | 'moduleVersions' | 'pull' | 'timing' | 'insecure'>;
  publicKey?: KeyObject;
  /** The fleet key whose signed release manifests this device requires. */
  trustKey?: KeyObject;
  /** Digests shared by the devices that download the same bytes. */
  digests?: SharedDigests;
  timers: SimTimers;
  open: LinkOpener;
  /** This device's own random stream. */
  random: () => number;
  onState(device: SimDevice, from: SimState, to: SimState): void;
  /** A notice the device could not read (and, like an SDK, dropped). */
  onRefused(device: SimDevice, reason: string): void;
  /** Trouble the device cannot report itself, such as a failed reconnection. */
  onTrouble(device: SimDevice, message: string): void;
}

/** A failure the device reports with T3; `countedAs` is its cause in the summary (default `step <n>`). */
class StepFailure extends Error {
  constructor(
    readonly step: number,
    readonly desc: string,
    readonly countedAs = `step ${step}`,
  ) {
    super(desc);
  }
}

/** How the summary counts a package refused by its release manifest, by the check that refused it. */
export const REFUSAL_CAUSES: Readonly<Record<ManifestCheckName, string>> = {
  unsigned: 'refused: unsigned release',
  malformed: 'refused: malformed manifest',
  signature: 'refused: bad manifest signature',
  notice: 'refused: manifest not for this notice',
  package: 'refused: manifest not for this package',
  expired: 'refused: expired manifest',
  replay: 'refused: downgrade replay',
};

/** Where one file sits in a download: the bytes of the files before it, and the total of all. */
interface DownloadPlace {
  before: number;
  total: number;
}

interface Session {
  controller: AbortController;
  link?: MqttLink;
  subscribed: Set<string>;
}

export class SimDevice implements DeviceSnapshot {
  readonly ref: DeviceRef;
  readonly versions: Record<string, string>;
  /** Module → the highest release sequence installed (devices with a trust key only). */
  installedSequences: Readonly<Record<string, number>> = {};
  failure?: { cause: string; desc: string };
  progress = 0;
  private current: SimState = 'booting';
  private target?: { module: string; version: string };
  private session?: Session;
  private mqttDownload?: MqttDownloader;
  private nextId = 1;
  private readonly life = new AbortController();
  private readonly topics: { notice: string; reply: string; block: string };

  constructor(
    readonly index: number,
    readonly name: string,
    readonly faults: ReadonlySet<FaultName>,
    private readonly ctx: DeviceContext,
  ) {
    this.ref = { productKey: ctx.options.productKey, deviceName: name };
    this.versions = { ...ctx.options.moduleVersions };
    this.topics = {
      notice: buildTopic('upgrade', this.ref),
      reply: buildTopic('firmwareGetReply', this.ref),
      block: buildTopic('fileDownloadReply', this.ref),
    };
  }

  get state(): SimState {
    return this.current;
  }

  /** Powers on after a random boot delay, connects and reports; an `--offline` device then schedules its absence. */
  async powerOn(): Promise<void> {
    const { timing } = this.ctx.options;
    await sleep(this.ctx.timers, this.slowed(Math.floor(this.ctx.random() * timing.bootMs)), this.life.signal);
    await this.connect();
    if (this.faults.has('offline')) void this.goOfflineLater(Math.floor(this.ctx.random() * timing.offlineWithinMs));
  }

  /** Ends everything the device has under way; its MQTT client is closed by the simulation. */
  stop(): void {
    this.life.abort();
    this.session?.controller.abort();
  }

  // ---- sessions ------------------------------------------------------------------------------

  /** One boot: connect, subscribe to its own notice topics, report every module (T1) and, in pull mode, ask (T4). */
  private async connect(): Promise<void> {
    if (this.life.signal.aborted) throw new Interrupted();
    const session: Session = { controller: new AbortController(), subscribed: new Set() };
    this.session = session;
    const { signal } = session.controller;
    this.nextId = 1; // a rebooted device counts its message ids from the start, as the SDK does
    const link = await this.ctx.open(this.ref, (topic, payload) => this.onMessage(session, topic, payload), signal);
    session.link = link;
    try {
      if (signal.aborted) throw new Interrupted();
      await this.subscribe(
        session,
        this.ctx.options.pull ? [this.topics.notice, this.topics.reply] : [this.topics.notice],
      );
      // Ready before reporting: the platform may answer the report before its acknowledgement is back.
      this.enter(this.stateAfterBoot());
      for (const module of this.ctx.options.modules) {
        await this.publish(
          session,
          versionReportMessage(this.ref, { id: this.nextId++, version: this.versions[module], module }),
        );
      }
      if (this.ctx.options.pull) {
        for (const module of this.ctx.options.modules) {
          const payload = buildFirmwareQuery({ id: this.nextId++, module: module === 'default' ? undefined : module });
          await this.publish(session, { topic: buildTopic('firmwareGet', this.ref), payload, qos: 1 });
        }
      }
    } catch (err) {
      await link.end('vanish').catch(() => undefined);
      throw err;
    }
  }

  /** Where a boot ends: the outcome of the last notice, or idle. */
  private stateAfterBoot(): SimState {
    if (this.target && this.versions[this.target.module] === this.target.version) return 'upgraded';
    if (
      this.target &&
      this.faults.has('wrongVersion') &&
      this.versions[this.target.module] === wrongVersion(this.target.version)
    ) {
      this.failure = {
        cause: 'wrong version',
        desc: `rebooted into ${this.versions[this.target.module]} instead of ${this.target.version} (${FAULT_FLAGS.wrongVersion})`,
      };
      return 'failed';
    }
    return this.failure ? 'failed' : 'idle';
  }

  private async goOfflineLater(afterMs: number): Promise<void> {
    try {
      await sleep(this.ctx.timers, afterMs, this.life.signal);
      const session = this.session;
      session?.controller.abort();
      this.mqttDownload = undefined;
      this.enter('offline');
      await session?.link?.end('vanish').catch(() => undefined);
      await sleep(this.ctx.timers, this.ctx.options.timing.offlineMs, this.life.signal);
      this.enter('booting');
      await this.connect();
    } catch (err) {
      if (!isInterrupted(err)) this.ctx.onTrouble(this, `did not come back online: ${(err as Error).message}`);
    }
  }

  private async subscribe(session: Session, topics: string[]): Promise<void> {
    const fresh = topics.filter((t) => !session.subscribed.has(t));
    if (fresh.length === 0) return;
    await unlessAborted((session.link as MqttLink).subscribe(fresh), session.controller.signal);
    for (const t of fresh) session.subscribed.add(t);
  }

  private publish(session: Session, message: MqttMessage): Promise<void> {
    if (!session.link) return Promise.reject(new Interrupted());
    return unlessAborted(session.link.publish(message), session.controller.signal);
  }

  private onMessage(session: Session, topic: string, payload: Buffer): void {
    if (session !== this.session || session.controller.signal.aborted) return;
    if (topic === this.topics.block) {
      this.mqttDownload?.deliver(payload);
      return;
    }
    if (topic !== this.topics.notice && topic !== this.topics.reply) return;
    if (this.faults.has('silent')) return;
    let firmware: FirmwareDescriptor | undefined;
    try {
      firmware = parseUpgradeNotice(payload, topic === this.topics.notice ? 'T2' : 'T5').firmware;
    } catch (err) {
      this.ctx.onRefused(this, (err as Error).message);
      return;
    }
    // T5 with data {}: nothing pending. A notice while busy is ignored, as iotkit 3.x does.
    if (!firmware || !READY_STATES.has(this.current)) return;
    void this.upgrade(session, firmware);
  }

  // ---- one upgrade ---------------------------------------------------------------------------

  private async upgrade(session: Session, fw: FirmwareDescriptor): Promise<void> {
    const { signal } = session.controller;
    const { timing } = this.ctx.options;
    this.target = { module: fw.module, version: fw.version };
    this.failure = undefined;
    this.progress = 0;
    this.enter('notified');
    try {
      if (!(fw.module in this.versions)) {
        throw new StepFailure(
          -1,
          `this device has no module "${fw.module}" (it has ${Object.keys(this.versions).join(', ')})`,
        );
      }
      this.enter('downloading');
      await this.report(session, 0, fw.module);
      const downloaded: { files: Map<string, PackageDigest> } | { digest: PackageDigest } = fw.files
        ? { files: await this.downloadFiles(session, fw, fw.files) }
        : { digest: await this.download(session, fw) };
      await this.report(session, 100, fw.module);

      this.enter('verifying');
      if (this.faults.has('failVerify')) {
        throw new StepFailure(-3, `simulated fault: the package looks corrupt (${FAULT_FLAGS.failVerify})`);
      }
      const sequence =
        'files' in downloaded ? this.checkFiles(downloaded.files, fw) : this.checkPackage(downloaded.digest, fw);

      this.enter('burning');
      await sleep(this.ctx.timers, this.slowed(timing.burnMs), signal);
      if (this.faults.has('failBurn'))
        throw new StepFailure(-4, `simulated fault: writing the flash failed (${FAULT_FLAGS.failBurn})`);
      // The flash holds the new firmware now: an absence from here on still boots into it.
      this.versions[fw.module] = this.faults.has('wrongVersion') ? wrongVersion(fw.version) : fw.version;
      if (sequence !== undefined)
        this.installedSequences = nextInstalledSequences(this.installedSequences, fw.module, sequence);

      this.enter('rebooting');
      await (session.link as MqttLink).end('reboot');
      await sleep(this.ctx.timers, this.slowed(timing.rebootMs), signal);
      await this.connect();
    } catch (err) {
      if (isInterrupted(err) || signal.aborted) return; // gone offline or stopped: the upgrade went with the session
      const failure =
        err instanceof StepFailure
          ? { step: err.step, desc: err.desc, cause: err.countedAs }
          : err instanceof DownloadFailed
            ? { step: err.step, desc: err.message, cause: `step ${err.step}` }
            : { step: -1, desc: `unexpected error: ${(err as Error).message}`, cause: 'step -1' };
      this.failure = { cause: failure.cause, desc: failure.desc };
      try {
        await this.report(session, failure.step, fw.module, failure.desc);
      } catch (reportErr) {
        if (isInterrupted(reportErr) || signal.aborted) return;
      }
      this.enter('failed');
    }
  }

  /** Size and digest (and digestsign, with a public key), then the release: its sequence, or a refusal (step -3). */
  private checkPackage(digest: PackageDigest, fw: FirmwareDescriptor): number | undefined {
    const check = verifyPackage(digest, fw, this.ctx.publicKey);
    if (!check.ok) throw new StepFailure(-3, check.reason);
    return this.checkRelease(digest, fw);
  }

  /** Each file of a multi-file notice against its entry; no release sequence, as no manifest signs files. */
  private checkFiles(digests: ReadonlyMap<string, PackageDigest>, fw: FirmwareDescriptor): undefined {
    const check = verifyFiles(digests, fw, { publicKey: this.ctx.publicKey, trustKey: this.ctx.trustKey });
    if (!check.ok) throw new StepFailure(-3, check.reason, check.refused ? REFUSAL_CAUSES[check.refused] : undefined);
    return undefined;
  }

  /** With a trust key: the release sequence the package may be installed as, or a refusal (step -3). */
  private checkRelease(digest: PackageDigest, fw: FirmwareDescriptor): number | undefined {
    const trustKey = this.ctx.trustKey;
    if (!trustKey) return undefined;
    const installedSequence = this.installedSequences[fw.module];
    const release = verifyRelease(digest, fw, {
      productKey: this.ref.productKey,
      trustKey,
      now: this.ctx.timers.now(),
      installedSequence,
    });
    if (!release.ok)
      throw new StepFailure(-3, release.reason, release.refused ? REFUSAL_CAUSES[release.refused] : undefined);
    return release.sequence;
  }

  /** The one package of a notice, over HTTP or MQTT: its digests. */
  private async download(session: Session, fw: FirmwareDescriptor): Promise<PackageDigest> {
    const { signal } = session.controller;
    const { timing } = this.ctx.options;
    const hasher = this.hasherFor(fw, fw.sign, fw.size);
    const steps = new ProgressSteps(fw.size, timing.progressEveryPercent);
    if (fw.url) {
      await this.downloadOverHttp(session, fw, { url: fw.url, size: fw.size }, hasher, steps, {
        before: 0,
        total: fw.size,
      });
      return hasher.digest();
    }
    await this.subscribe(session, [this.topics.block]);
    const downloader = new MqttDownloader({
      device: this.ref,
      streamId: fw.streamId as number,
      fileId: fw.streamFileId ?? 1,
      size: fw.size,
      timeoutMs: timing.blockTimeoutMs,
      timers: this.ctx.timers,
      signal,
      publish: (m) => this.publish(session, m),
      onChunk: this.chunkSink(session, fw, hasher, steps, { before: 0, total: fw.size }),
    });
    this.mqttDownload = downloader;
    try {
      await downloader.run();
    } finally {
      if (this.mqttDownload === downloader) this.mqttDownload = undefined;
    }
    return hasher.digest();
  }

  /** Every file of a multi-file notice, one after the other, with progress over their total: the digests by fileName. */
  private async downloadFiles(
    session: Session,
    fw: FirmwareDescriptor,
    files: PackageFile[],
  ): Promise<Map<string, PackageDigest>> {
    const total = files.reduce((sum, f) => sum + f.fileSize, 0);
    const steps = new ProgressSteps(total, this.ctx.options.timing.progressEveryPercent);
    const digests = new Map<string, PackageDigest>();
    let before = 0;
    for (const file of files) {
      const hasher = this.hasherFor(fw, file.fileSign, file.fileSize);
      await this.downloadOverHttp(session, fw, { url: file.fileUrl, size: file.fileSize }, hasher, steps, {
        before,
        total,
      });
      digests.set(file.fileName, hasher.digest());
      before += file.fileSize;
    }
    return digests;
  }

  /** What hashes a package (or one file) of `size` bytes the notice signs with `sign`. */
  private hasherFor(fw: FirmwareDescriptor, sign: string, size: number): StreamHasher {
    const keys = { publicKey: this.ctx.publicKey, trustKey: this.ctx.trustKey };
    const fresh = () => new PackageHasher(fw, keys);
    const shared = this.ctx.digests;
    if (!shared) return fresh();
    // Which digests a hasher computes (by signMethod and keys) is part of the key.
    const key = `${fw.signMethod}:${keys.publicKey || keys.trustKey ? 'sha256' : ''}:${size}:${sign}`;
    return shared.hasher(key, size, fresh);
  }

  /** One file over HTTP, resumed or restarted like any package; `at` places it in the whole download. */
  private async downloadOverHttp(
    session: Session,
    fw: FirmwareDescriptor,
    file: { url: string; size: number },
    hasher: StreamHasher,
    steps: ProgressSteps,
    at: DownloadPlace,
  ): Promise<void> {
    const { signal } = session.controller;
    await downloadOverHttp({
      url: file.url,
      size: file.size,
      signal,
      insecure: this.ctx.options.insecure,
      onChunk: this.chunkSink(session, fw, hasher, steps, at),
      onRestart: () => {
        hasher.reset();
        steps.restart(at.before);
      },
      pause: (ms) => sleep(this.ctx.timers, ms, signal),
    });
  }

  /** What each chunk does: the download fault, hashing, T3 steps, and the slow fault. */
  private chunkSink(
    session: Session,
    fw: FirmwareDescriptor,
    hasher: StreamHasher,
    steps: ProgressSteps,
    at: DownloadPlace,
  ): (chunk: Buffer) => Promise<void> {
    const { signal } = session.controller;
    const { timing } = this.ctx.options;
    return async (chunk: Buffer) => {
      const received = at.before + hasher.size;
      if (this.faults.has('failDownload') && received + chunk.length >= at.total / 2) {
        throw new StepFailure(
          -2,
          `simulated fault: the download broke off after ${received} of ${at.total} bytes (${FAULT_FLAGS.failDownload})`,
        );
      }
      hasher.update(chunk);
      for (const step of steps.advance(chunk.length)) await this.report(session, step, fw.module);
      this.progress = steps.percent;
      if (this.faults.has('slow'))
        await sleep(this.ctx.timers, (chunk.length * 1000) / timing.slowBytesPerSecond, signal);
    };
  }

  /** T3 at QoS 0, as iotkit-embedded 3.x and Link SDK 4 publish it (docs/sdk-shapes.md): no acknowledgement awaited. */
  private report(session: Session, step: number, module: string, desc?: string): Promise<void> {
    const message = progressReportMessage(this.ref, { id: this.nextId++, step, desc, module });
    return this.publish(session, { ...message, qos: 0 });
  }

  // ---- state ---------------------------------------------------------------------------------

  private enter(to: SimState): void {
    const from = this.current;
    if (from === to) return;
    if (!canTransition(from, to)) throw new Error(`ota-sim: ${this.name} cannot go from ${from} to ${to}`);
    this.current = to;
    this.ctx.onState(this, from, to);
  }

  private slowed(ms: number): number {
    return this.faults.has('slow') ? ms * this.ctx.options.timing.slowFactor : ms;
  }
}

/** The version a `--wrong-version` device reboots into: neither its old one nor the one announced. */
export function wrongVersion(announced: string): string {
  return `${announced.slice(0, 58)}-wrong`;
}
