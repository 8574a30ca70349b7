/**
 * The demo's embedded MQTT broker: Aedes on a TCP port (with the hooks that check device logins,
 * when the demo turns them on), closed with every socket it accepted.
 */
import net from 'node:net';
import type { Aedes, AedesOptions } from 'aedes';

export interface EmbeddedBroker {
  /** Where clients on this machine connect: `mqtt://127.0.0.1:<port>` unless it listens on one other address. */
  url: string;
  port: number;
  /** The address it listens on. */
  host: string;
  close(): Promise<void>;
}

// tsc emits CommonJS and would turn `import('aedes')` into `require('aedes')`; aedes 1.x is ESM
// only, so the import has to stay a real dynamic import.
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

/** Whether an address is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The address a client on this machine uses to reach a broker listening on `host`. */
export function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === 'localhost') return '127.0.0.1';
  return net.isIPv6(host) ? `[${host}]` : host;
}

/** Starts Aedes on `host:port` (port 0: a free one), with `options` (its hooks) when given. */
export async function startEmbeddedBroker(
  port: number,
  host = '127.0.0.1',
  options?: AedesOptions,
): Promise<EmbeddedBroker> {
  const { Aedes: AedesBroker } = await importEsm<{ Aedes: typeof Aedes }>('aedes');
  const broker = await AedesBroker.createBroker(options);
  const server = net.createServer(broker.handle);
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} is taken: another MQTT broker runs there? Set MQTT_PORT, or MQTT_URL to use that broker`,
            )
          : err,
      ),
    );
    server.listen(port, host, () => ok());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://${connectHost(host)}:${actual}`,
    port: actual,
    host,
    async close() {
      await new Promise<void>((ok) => broker.close(() => ok()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
