/**
 * A Mosquitto broker (child process) that a test can stop and start again on the same port, with
 * persistence on: sessions, subscriptions and queued QoS 1 messages of clients with a persistent
 * session survive the restart, as in production. Also runs a broker with an ACL and a password
 * file (docs/broker-acl.md). Undefined when Mosquitto is not installed.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, mosquittoPath } from './broker';
import { freePort } from './http';

export interface MosquittoOptions {
  /** Extra lines for mosquitto.conf (after the listener). */
  config?: string[];
  /** Files written next to the config first, by name. */
  files?: Record<string, string>;
}

export class RestartableMosquitto {
  private child: ChildProcess | undefined;
  private log = '';
  starts = 0;

  private constructor(
    private readonly binary: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Writes the config (persistence in the temp dir unless told otherwise) and starts the broker. */
  static async start(options: MosquittoOptions = {}): Promise<RestartableMosquitto | undefined> {
    const binary = mosquittoPath();
    if (!binary) return undefined;
    const dir = await mkdtemp(join(tmpdir(), 'ota-mosquitto-'));
    const port = await freePort();
    for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(join(dir, name), text);
    const config = options.config ?? [
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'persistence_file mosquitto.db',
      'max_queued_messages 100000',
    ];
    // Started as root, Mosquitto 2 would switch to the `mosquitto` user, which cannot read or write this directory.
    const asRoot = process.getuid?.() === 0 ? ['user root'] : [];
    await writeFile(
      join(dir, 'mosquitto.conf'),
      [
        `listener ${port} 127.0.0.1`,
        ...asRoot,
        ...config.map((l) => l.replaceAll('{dir}', dir)),
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    const broker = new RestartableMosquitto(binary, dir, port);
    try {
      await broker.restart();
    } catch (err) {
      await broker.close();
      throw err;
    }
    return broker;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the broker (again) on the same port and config; resolves when it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn(this.binary, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.starts++;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.log = (this.log + chunk).slice(-10_000);
    });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (!this.running) throw new Error(`mosquitto exited on start:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not accept connections on ${this.port}:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The persistence file, once the broker saved it (on stop). */
  get persistenceFile(): string {
    return join(this.dir, 'mosquitto.db');
  }

  /** Stops the broker the way an operator does (SIGTERM: it saves its persistence file first). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
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
