/**
 * Ports on 127.0.0.1 for the tests and the benchmarks: a free one, whether something accepts
 * connections on one, and waiting until it does.
 */
import net from 'node:net';

/** A TCP port nothing listens on now (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => ok(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Resolves once something accepts connections on the port; rejects when `alive` says the process
 * that should listen there is gone, or after `timeoutMs`.
 */
export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`the process that should listen on port ${port} exited`);
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
