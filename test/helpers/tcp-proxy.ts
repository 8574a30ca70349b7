/**
 * A TCP proxy in the test's process, between a client and a server on 127.0.0.1, that can be cut
 * like a network partition: `cut()` drops every byte both ways but keeps the sockets open (no
 * reset, no close: the client only sees silence), `heal()` forwards again. A connection opened
 * while cut is accepted and left silent, as a connection whose packets never arrive; it is closed
 * at `heal()`, since nothing it sent reached the server.
 */
import net from 'node:net';

export class TcpProxy {
  /** Bytes dropped while cut, both directions. */
  dropped = 0;
  private isCut = false;
  private readonly pairs = new Set<{ client: net.Socket; server?: net.Socket }>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** A proxy on a free port of 127.0.0.1 to `targetPort` on 127.0.0.1. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok());
    });
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port, {
      host: targetHost,
      port: targetPort,
    });
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  get cutOff(): boolean {
    return this.isCut;
  }

  /** Connections open now. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Drops all traffic from now on, both ways; the sockets stay open. */
  cut(): void {
    this.isCut = true;
  }

  /** Forwards again; connections opened while cut (which never reached the server) are closed. */
  heal(): void {
    this.isCut = false;
    for (const pair of this.pairs) if (!pair.server) pair.client.destroy();
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.server?.destroy();
    }
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  private accept(client: net.Socket): void {
    const pair: { client: net.Socket; server?: net.Socket } = { client };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      pair.server?.destroy();
    };
    client.on('error', end);
    client.on('close', end);
    if (this.isCut) {
      client.on('data', (chunk: Buffer) => (this.dropped += chunk.length));
      return;
    }
    const server = net.connect(this.target.port, this.target.host);
    pair.server = server;
    server.on('error', end);
    server.on('close', end);
    client.on('data', (chunk: Buffer) => this.forward(chunk, server));
    server.on('data', (chunk: Buffer) => this.forward(chunk, client));
  }

  private forward(chunk: Buffer, to: net.Socket): void {
    if (this.isCut) this.dropped += chunk.length;
    else to.write(chunk);
  }
}
