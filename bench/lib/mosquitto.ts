/**
 * Mosquitto for the end-to-end benchmark: the tests' Mosquitto (test/helpers/mosquitto.ts) with
 * the limits a load test would hit lifted (connections, queued QoS 1 messages), publishing its
 * $SYS counters every second, so the broker itself says how many messages it carried.
 */
import mqtt from 'mqtt';
import { Mosquitto } from '../../test/helpers/mosquitto';

export interface BenchMosquitto {
  url: string;
  port: number;
  pid: number;
  /** The broker's own PUBLISH totals ($SYS/broker/publish/messages/received and …/sent), as of its last report. */
  counters(): Promise<{ received: number; sent: number }>;
  version(): Promise<string>;
  stop(): Promise<void>;
}

export async function startMosquitto(): Promise<BenchMosquitto> {
  const broker = await Mosquitto.start({
    config: [
      'max_connections -1',
      // A subscriber that falls behind must not lose QoS 1 messages.
      'max_queued_messages 1000000',
      'sys_interval 1',
    ],
  });
  if (!broker) throw new Error('mosquitto is not installed');
  const url = broker.url;
  const readSys = async (topics: string[]): Promise<Record<string, string>> => {
    const client = await mqtt.connectAsync(url, { clientId: `bench-sys-${process.pid}-${Date.now()}` });
    try {
      const got: Record<string, string> = {};
      const all = new Promise<void>((resolve) => {
        client.on('message', (topic, payload) => {
          got[topic] = payload.toString();
          if (topics.every((t) => t in got)) resolve();
        });
      });
      await client.subscribeAsync(topics);
      await Promise.race([all, new Promise((r) => setTimeout(r, 3000))]);
      return got;
    } finally {
      await client.endAsync(true);
    }
  };
  return {
    url,
    port: broker.port,
    pid: broker.pid as number,
    async counters() {
      const received = '$SYS/broker/publish/messages/received';
      const sent = '$SYS/broker/publish/messages/sent';
      const got = await readSys([received, sent]);
      return { received: Number(got[received] ?? NaN), sent: Number(got[sent] ?? NaN) };
    },
    async version() {
      return (await readSys(['$SYS/broker/version']))['$SYS/broker/version'] ?? 'unknown';
    },
    stop: () => broker.close(),
  };
}

/**
 * The broker's own rate: one mqtt.js publisher sends `count` QoS 1 messages of `size` bytes
 * (at most `window` unacknowledged) to one subscriber (QoS 1); timed until the subscriber has
 * them all.
 */
export async function brokerRate(
  url: string,
  count: number,
  size = 200,
  window = 1000,
): Promise<{ ms: number; perSecond: number }> {
  const tag = `${process.pid}-${Date.now()}`;
  const sub = await mqtt.connectAsync(url, { clientId: `bench-sub-${tag}`, clean: true });
  const pub = await mqtt.connectAsync(url, { clientId: `bench-pub-${tag}`, clean: true });
  try {
    await sub.subscribeAsync('bench/rate/+', { qos: 1 });
    const payload = Buffer.alloc(size, 'x');
    let received = 0;
    const all = new Promise<number>((resolve) => {
      sub.on('message', () => {
        if (++received === count) resolve(performance.now());
      });
    });
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        await pub.publishAsync(`bench/rate/${i % 100}`, payload, { qos: 1 });
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
    const t1 = await all;
    return { ms: t1 - t0, perSecond: (count * 1000) / (t1 - t0) };
  } finally {
    await pub.endAsync(true);
    await sub.endAsync(true);
  }
}
