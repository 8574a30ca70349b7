/**
 * A real MQTT broker in this process: Aedes on 127.0.0.1 at a free port (or a given one), that
 * closes every socket it opened, so nothing keeps mocha alive. Mosquitto, the broker in a child
 * process, is in mosquitto.ts.
 */
import net from 'node:net';
import type { Aedes, AedesOptions } from 'aedes';

export interface TestBroker {
  /** `mqtt://127.0.0.1:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

// tsc emits CommonJS and would turn `import('aedes')` into `require('aedes')`; aedes 1.x is ESM
// only, so the import has to stay a real dynamic import.
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

/**
 * An Aedes broker in this process (with `options`: its authentication and authorization hooks), on
 * a free port or on `port` (a broker started again where a closed one was, with nothing it held).
 */
export async function startAedes(options?: AedesOptions, port = 0): Promise<TestBroker> {
  const { Aedes: AedesBroker } = await importEsm<{ Aedes: typeof Aedes }>('aedes');
  const broker = await AedesBroker.createBroker(options);
  const server = net.createServer(broker.handle);
  const sockets = trackSockets(server);
  const bound = await listen(server, port);
  return {
    url: `mqtt://127.0.0.1:${bound}`,
    port: bound,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function trackSockets(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

function listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
