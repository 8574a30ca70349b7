/**
 * A real Node-RED with this package as a child process: a user directory prepared with settings,
 * a flow and the package linked (src/demo/node-red.ts), a free port, readiness (its fleets answer
 * on the admin API, or a probe of the caller's), its output kept for failure reports, and stopped
 * by SIGKILL (a crash) or SIGTERM (an operator), then started again on the same directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareUserDir, spawnNodeRed, UserDirOptions, waitForFleets } from '../../src/demo/node-red';
import { ChildRun } from './child';
import { freePort } from './net';

export interface NodeRedOptions extends Omit<UserDirOptions, 'port' | 'userDir'> {
  /** The user directory; by default a fresh temp dir that close() removes. */
  userDir?: string;
  /** The editor's and admin API's port; by default a free one. */
  port?: number;
  /** How many fleets the admin API lists once the flow runs (default 1). */
  fleets?: number;
  /** Node.js flags for the child (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

export class NodeRedChild {
  /** The current (or last) run; a restart makes a new one. */
  run: ChildRun | undefined;
  starts = 0;
  kills = 0;

  private constructor(
    readonly userDir: string,
    readonly port: number,
    readonly expectedFleets: number,
    private readonly nodeArgs: string[],
    private readonly ownsUserDir: boolean,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The last 20,000 characters Node-RED wrote, over all its starts. */
  get output(): string {
    return this.run?.output ?? '';
  }

  get pid(): number | undefined {
    return this.run?.pid;
  }

  get running(): boolean {
    return this.run?.running ?? false;
  }

  /** Prepares the user directory (settings, flows, the package linked) on its port; starts nothing. */
  static async prepare(options: NodeRedOptions = {}): Promise<NodeRedChild> {
    const { fleets = 1, nodeArgs = [], ...rest } = options;
    const port = options.port ?? (await freePort());
    const userDir = options.userDir ?? mkdtempSync(join(tmpdir(), 'ota-node-red-'));
    prepareUserDir({ ...rest, userDir, port });
    return new NodeRedChild(userDir, port, fleets, nodeArgs, options.userDir === undefined);
  }

  /** prepare() and start() in one. */
  static async start(options: NodeRedOptions = {}, timeoutMs = 60_000): Promise<NodeRedChild> {
    const red = await NodeRedChild.prepare(options);
    try {
      await red.start(timeoutMs);
    } catch (err) {
      await red.close();
      throw err;
    }
    return red;
  }

  /**
   * Starts Node-RED (again, on the same directory and port) and waits until its fleets answer on
   * the admin API, or, when given (behind adminAuth, say), until `ready` resolves true. Resolves
   * with the milliseconds it took; rejects with Node-RED's last output.
   */
  async start(timeoutMs = 60_000, ready?: () => Promise<boolean>): Promise<number> {
    const started = Date.now();
    const child = spawnNodeRed(this.userDir, { nodeArgs: this.nodeArgs });
    const run = new ChildRun(child, { history: this.run?.output });
    this.run = run;
    this.starts++;
    try {
      if (ready) {
        const deadline = Date.now() + timeoutMs;
        while (!(await ready().catch(() => false))) {
          if (!run.running) throw new Error(`Node-RED exited with code ${child.exitCode}`);
          if (Date.now() > deadline) throw new Error(`Node-RED was not ready within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 200));
        }
      } else await waitForFleets(this.baseUrl, this.expectedFleets, timeoutMs, child);
    } catch (err) {
      throw run.failure((err as Error).message, err);
    }
    return Date.now() - started;
  }

  /** SIGKILL now (synchronously: a test may kill from inside an event handler); resolves once it is gone. */
  kill(): Promise<void> {
    const run = this.run;
    if (!run) return Promise.resolve();
    if (run.running) this.kills++;
    return run.kill().then(() => undefined);
  }

  /** SIGTERM (Node-RED stops its flows and exits), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    await this.run?.stop(graceMs);
  }

  /** SIGKILL, and the user directory removed when this helper made it. */
  async close(): Promise<void> {
    await this.kill();
    if (this.ownsUserDir) rmSync(this.userDir, { recursive: true, force: true });
  }
}
