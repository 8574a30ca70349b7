/**
 * A child process a test (or benchmark) started: its output drained and kept (a full pipe would
 * stall it; the tail goes into failure reports), its exit awaited, and stopped the way the test
 * means: SIGKILL (a crash), a signal such as SIGINT (Ctrl-C), or SIGTERM with SIGKILL after a
 * grace period (an operator's stop).
 */
import { ChildProcess, spawn } from 'node:child_process';

/** How much of a child's output is kept, in characters. */
const KEEP = 20_000;

export interface ChildRunOptions {
  /** Output of earlier runs of the same program, kept in front of this one's. */
  history?: string;
}

export class ChildRun {
  /** The last 20,000 characters written to stdout and stderr. */
  output: string;
  /** The last 20,000 characters written to stdout alone. */
  stdout = '';
  /** Resolves with the exit code (null when a signal ended the process). */
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    options: ChildRunOptions = {},
  ) {
    this.output = options.history ?? '';
    // At 'exit' the pipes may still hold the last lines: wait for them, but not for a grandchild
    // that inherited them and lives on.
    const drained = Promise.all([child.stdout, child.stderr].map((s) => s && new Promise((r) => s.once('close', r))));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        const grace = setTimeout(() => resolve(code), 1000);
        void drained.then(() => {
          clearTimeout(grace);
          resolve(code);
        });
      }),
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-KEEP);
      this.stdout = (this.stdout + chunk.toString('utf8')).slice(-KEEP);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-KEEP);
    });
  }

  /** Runs a Node.js script (`node <nodeArgs> <script> <args>`) with the environment plus `env`. */
  static node(script: string, args: string[] = [], options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}) {
    return ChildRun.spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], options);
  }

  /** Runs a program with the environment plus `env`; stdin is closed, stdout and stderr are kept. */
  static spawn(command: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): ChildRun {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ChildRun(child);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once the output matches `pattern`; rejects (with the output's tail) on exit or timeout. */
  async waitForOutput(pattern: RegExp | string, timeoutMs: number): Promise<void> {
    const seen = () => (typeof pattern === 'string' ? this.output.includes(pattern) : pattern.test(this.output));
    const deadline = Date.now() + timeoutMs;
    while (!seen()) {
      if (!this.running)
        throw this.failure(`the process exited (code ${this.child.exitCode}) before printing ${pattern}`);
      if (Date.now() > deadline) throw this.failure(`${pattern} was not printed within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** An error that ends with the last lines the process wrote. */
  failure(message: string, cause?: unknown): Error {
    return new Error(`${message}\n--- output ---\n${this.output.slice(-4000)}`, { cause });
  }

  /** Sends `signal` (now, synchronously) and resolves with the exit code once the process is gone. */
  signal(signal: NodeJS.Signals): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** SIGKILL now (synchronously, so a test can kill from inside an event handler), resolves at the exit. */
  kill(): Promise<number | null> {
    return this.signal('SIGKILL');
  }

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`; resolves at the exit. */
  stop(graceMs = 5000): Promise<number | null> {
    return stopChild(this.child, graceMs).then(() => this.exited);
  }
}

/** Sends SIGTERM to any child process, then SIGKILL after `graceMs`, and waits for its exit. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(killer);
}
