/**
 * Mosquitto as a child process, for the tests and the benchmarks: a config file in a temp dir, a
 * free port on 127.0.0.1, optional persistence (sessions, subscriptions and queued QoS 1 messages
 * of persistent sessions survive a stop, as in production), extra config lines and files (an ACL,
 * a password file), and stop/start again on the same port. Undefined when Mosquitto is not
 * installed; `needMosquitto` turns that into a skip, or under CI=true a failure (test/helpers/parts.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'mocha';
import type { TestBroker } from './broker';
import { ChildRun } from './child';
import { freePort, waitForPort } from './net';
import { needPart } from './parts';

export interface MosquittoOptions {
  /** Keep state in `<dir>/mosquitto.db` across stop() and restart() (default: off). */
  persistence?: boolean;
  /**
   * Extra mosquitto.conf lines; `{dir}` stands for the broker's temp dir. A line setting an option
   * the defaults set (allow_anonymous, max_queued_messages, …) replaces the default.
   */
  config?: string[];
  /** Files written into the temp dir first, by name. */
  files?: Record<string, string>;
}

/** The Mosquitto binary, or undefined when it is not installed. */
export function mosquittoPath(): string | undefined {
  if (existsSync('/usr/sbin/mosquitto')) return '/usr/sbin/mosquitto';
  const found = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  return path ? path : undefined;
}

/** The lines of mosquitto.conf: the listener, then the defaults the caller's lines do not set, then those. */
export function mosquittoConfig(port: number, dir: string, options: MosquittoOptions = {}): string {
  const persistence = options.persistence
    ? ['persistence true', `persistence_location ${dir}/`, 'persistence_file mosquitto.db']
    : ['persistence false'];
  const defaults = [
    'allow_anonymous true',
    ...persistence,
    // A subscriber that falls behind must not lose QoS 1 messages (Mosquitto keeps 1000 by default).
    'max_queued_messages 100000',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
  ];
  const extra = (options.config ?? []).map((line) => line.replaceAll('{dir}', dir));
  const set = new Set(extra.map(optionOf));
  // Started as root, Mosquitto 2 switches to the `mosquitto` user, which cannot read or write the temp dir.
  const asRoot = process.getuid?.() === 0 ? ['user root'] : [];
  return [`listener ${port} 127.0.0.1`, ...asRoot, ...defaults.filter((l) => !set.has(optionOf(l))), ...extra, ''].join(
    '\n',
  );
}

const optionOf = (line: string): string => line.trim().split(/\s+/)[0];

export class Mosquitto implements TestBroker {
  private run: ChildRun | undefined;
  starts = 0;

  private constructor(
    private readonly binary: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  /** Writes the config and the files, starts the broker; undefined when Mosquitto is not installed. */
  static async start(options: MosquittoOptions = {}): Promise<Mosquitto | undefined> {
    const binary = mosquittoPath();
    if (!binary) return undefined;
    const dir = await mkdtemp(join(tmpdir(), 'ota-mosquitto-'));
    const port = await freePort();
    for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(join(dir, name), text);
    await writeFile(join(dir, 'mosquitto.conf'), mosquittoConfig(port, dir, options));
    const broker = new Mosquitto(binary, dir, port);
    try {
      await broker.restart();
    } catch (err) {
      await broker.close();
      throw err;
    }
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.run?.pid;
  }

  get running(): boolean {
    return this.run?.running ?? false;
  }

  /** What the broker wrote to stderr (errors and warnings), over all its starts. */
  get log(): string {
    return this.run?.output ?? '';
  }

  /** The persistence file, once the broker saved it (on stop). */
  get persistenceFile(): string {
    return join(this.dir, 'mosquitto.db');
  }

  /** Starts the broker (again) on the same port and config; resolves when it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(this.binary, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const run = new ChildRun(child, { history: this.run?.output });
    this.run = run;
    this.starts++;
    try {
      await waitForPort(this.port, 10_000, () => run.running);
    } catch (err) {
      await run.kill();
      throw run.failure(`mosquitto did not start on port ${this.port}: ${(err as Error).message}`, err);
    }
  }

  /** Stops the broker the way an operator does (SIGTERM: it saves its persistence file first). */
  async stop(): Promise<void> {
    await this.run?.stop(5000);
  }

  /** Stops the broker and removes its temp dir. */
  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A started Mosquitto for a suite's `before`: when Mosquitto is not installed, the suite is
 * skipped with a note, or fails under CI=true.
 */
export async function needMosquitto(ctx: Context, options: MosquittoOptions = {}): Promise<Mosquitto> {
  const broker = await Mosquitto.start(options);
  needPart(ctx, broker, 'Mosquitto');
  return broker;
}

/** A mosquitto_passwd line (PBKDF2-SHA512 hash) for a user, or undefined without mosquitto_passwd. */
export function passwordLine(dir: string, user: string, password: string): string | undefined {
  const file = join(dir, `pw-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const made = spawnSync(
    'sh',
    [
      '-c',
      `command -v mosquitto_passwd >/dev/null && mosquitto_passwd -c -b "$0" "$1" "$2" && cat "$0"; rm -f "$0"`,
      file,
      user,
      password,
    ],
    { encoding: 'utf8' },
  );
  return made.status === 0 && made.stdout.trim() ? made.stdout.trim() : undefined;
}
