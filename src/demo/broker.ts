/** The demo's embedded MQTT broker: Aedes on a TCP port, closed with every socket it accepted. */
import net from 'node:net';
import type { Aedes } from 'aedes';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

// tsc emits CommonJS and would turn `import('aedes')` into `require('aedes')`; aedes 1.x is ESM
// only, so the import has to stay a real dynamic import.
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

export async function startEmbeddedBroker(port: number, host = '0.0.0.0'): Promise<EmbeddedBroker> {
  const { Aedes: AedesBroker } = await importEsm<{ Aedes: typeof Aedes }>('aedes');
  const broker = await AedesBroker.createBroker();
  const server = net.createServer(broker.handle);
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === 'EADDRINUSE' ? new Error(`port ${port} is taken: another MQTT broker runs there? Set MQTT_PORT, or MQTT_URL to use that broker`) : err),
    );
    server.listen(port, host, () => ok());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    async close() {
      await new Promise<void>((ok) => broker.close(() => ok()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
