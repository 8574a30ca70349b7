/**
 * A package download over MQTT as Link SDK 4 does it: T6 asks for one block of 5120 bytes (the
 * last block only for what remains), T7 brings it in a frame checked by the codec. A reply for
 * another offset is ignored and the request sent again after 10 s; a broken frame is asked for
 * again at once; after more than 3 resends in a row the download fails with step -4, the step
 * Link SDK 4 reports here (docs/sdk-shapes.md).
 */
import { buildBlockRequest, buildTopic, DeviceRef, MqttMessage, parseBlockReply } from '../protocol';
import { DownloadFailed } from './http-download';
import { Interrupted, SimTimers } from './timers';

export const BLOCK_SIZE = 5120;
export const MAX_RESENDS = 3;
/** What Link SDK 4 reports when a download over MQTT times out or runs out of resends. */
export const MQTT_DOWNLOAD_FAILED_STEP = -4;

export interface MqttDownload {
  device: DeviceRef;
  streamId: number;
  fileId: number;
  size: number;
  timeoutMs: number;
  timers: SimTimers;
  signal: AbortSignal;
  publish(message: MqttMessage): Promise<void>;
  /** Each block in order; a returned promise holds the download back (a slow device). */
  onChunk(chunk: Buffer): void | Promise<void>;
}

type Outcome = { kind: 'block'; block: Buffer } | { kind: 'timeout' } | { kind: 'broken'; reason: string };

export class MqttDownloader {
  private waiting?: { offset: number; settle(outcome: Outcome): void };

  constructor(private readonly d: MqttDownload) {}

  /** A frame that arrived on the device's T7 topic. */
  deliver(frame: Buffer): void {
    const waiting = this.waiting;
    if (!waiting) return;
    let reply: ReturnType<typeof parseBlockReply>;
    try {
      reply = parseBlockReply(frame);
    } catch (err) {
      waiting.settle({ kind: 'broken', reason: (err as Error).message });
      return;
    }
    if (reply.header.bOffset === waiting.offset) waiting.settle({ kind: 'block', block: reply.block });
  }

  /** Downloads the whole package; resolves with the number of bytes received. */
  async run(): Promise<number> {
    const { d } = this;
    let offset = 0;
    let id = 0;
    let resends = 0;
    while (offset < d.size) {
      const outcome = await this.request(++id, offset, Math.min(BLOCK_SIZE, d.size - offset));
      if (outcome.kind === 'block') {
        // An empty block before the end: the platform has no more, and verification will say so.
        if (outcome.block.length === 0) break;
        offset += outcome.block.length;
        resends = 0;
        await d.onChunk(outcome.block);
        continue;
      }
      if (++resends > MAX_RESENDS) {
        const last = outcome.kind === 'timeout' ? `no reply within ${d.timeoutMs} ms` : outcome.reason;
        throw new DownloadFailed(
          `download over MQTT failed at offset ${offset} of ${d.size}: ${last}, ${MAX_RESENDS} resends`,
          MQTT_DOWNLOAD_FAILED_STEP,
        );
      }
    }
    return offset;
  }

  private async request(id: number, offset: number, size: number): Promise<Outcome> {
    const { d } = this;
    const outcome = this.wait(offset);
    outcome.catch(() => undefined);
    const payload = buildBlockRequest({ id: String(id), streamId: d.streamId, fileId: d.fileId, size, offset });
    await d.publish({ topic: buildTopic('fileDownload', d.device), payload, qos: 1 });
    return outcome;
  }

  private wait(offset: number): Promise<Outcome> {
    const { timers, signal, timeoutMs } = this.d;
    if (signal.aborted) return Promise.reject(new Interrupted());
    return new Promise((resolve, reject) => {
      const finish = () => {
        timers.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiting = undefined;
      };
      const onAbort = () => {
        finish();
        reject(new Interrupted());
      };
      const timer = timers.setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
      const settle = (o: Outcome) => {
        finish();
        resolve(o);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting = { offset, settle };
    });
  }
}
