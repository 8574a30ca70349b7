/**
 * A real Node-RED with this package as a child process on a prepared user directory, that can be
 * SIGKILLed and started again on the same directory, and whose output is drained (a full pipe
 * would stall it) and kept for failure reports.
 */
import { ChildProcess } from 'node:child_process';
import { prepareUserDir, spawnNodeRed, UserDirOptions, waitForFleets } from '../../src/demo/node-red';
import { freePort } from './http';

export class NodeRedChild {
  child: ChildProcess | undefined;
  /** The last 20,000 characters Node-RED wrote. */
  output = '';
  starts = 0;
  kills = 0;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly userDir: string,
    readonly port: number,
    readonly expectedFleets: number,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Prepares `userDir` (settings, flows, the package linked) on a free port. */
  static async prepare(options: Omit<UserDirOptions, 'port'> & { fleets?: number }): Promise<NodeRedChild> {
    const port = await freePort();
    prepareUserDir({ ...options, port });
    return new NodeRedChild(options.userDir, port, options.fleets ?? 1);
  }

  /**
   * Starts Node-RED and waits until its fleets answer on the admin API (or, behind adminAuth,
   * until `ready` says so).
   */
  async start(timeoutMs = 60_000, ready?: () => Promise<boolean>): Promise<number> {
    const started = Date.now();
    const child = spawnNodeRed(this.userDir);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.starts++;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    try {
      if (ready) {
        const deadline = Date.now() + timeoutMs;
        while (!(await ready().catch(() => false))) {
          if (child.exitCode !== null) throw new Error(`Node-RED exited with code ${child.exitCode}`);
          if (Date.now() > deadline) throw new Error(`Node-RED was not ready within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 200));
        }
      } else await waitForFleets(this.baseUrl, this.expectedFleets, timeoutMs, child);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- Node-RED output ---\n${this.output.slice(-4000)}`, {
        cause: err,
      });
    }
    return Date.now() - started;
  }

  /**
   * SIGKILL now (synchronously, so a test can kill from inside an event handler) and resolve when
   * the process is gone.
   */
  kill(): Promise<void> {
    const child = this.child;
    if (!child) return Promise.resolve();
    if (child.exitCode === null && child.signalCode === null && !child.killed) {
      child.kill('SIGKILL');
      this.kills++;
    }
    return this.exited;
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}
