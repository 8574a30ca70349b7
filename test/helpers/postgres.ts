/**
 * PostgreSQL as a child process, for the tests and the benchmarks: Debian's server binaries
 * (`/usr/lib/postgresql/<version>/bin`), a cluster made by `initdb` in a temp dir, listening on
 * 127.0.0.1 and a free port only, with a random password (scram-sha-256). Run as root (CI), the
 * cluster belongs to the `postgres` user, since `initdb` and `pg_ctl` refuse to run as root.
 *
 * One cluster per test process (`sharedPostgres`), started on first use and stopped at exit; each
 * suite takes a database of its own (`freshDatabase`). Undefined when PostgreSQL is not installed;
 * `needPostgres` turns that into a skip, or under CI=true a failure (test/helpers/parts.ts).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'mocha';
import pg from 'pg';
import { freePort } from './net';
import { needPart } from './parts';

export interface PostgresOptions {
  /**
   * Every commit on disk before it returns (fsync on, synchronous commit), as a production server
   * runs. Off by default in the tests: no test kills the server itself, and a commit is then a
   * fraction of a millisecond.
   */
  durable?: boolean;
}

/** The directory of Debian's PostgreSQL server binaries (the newest version), or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

export class Postgres {
  private running = false;

  private constructor(
    private readonly bin: string,
    readonly dir: string,
    readonly port: number,
    readonly password: string,
    private readonly asUser: string | undefined,
  ) {}

  /** Makes a cluster in a temp dir and starts it; undefined when PostgreSQL is not installed. */
  static async start(options: PostgresOptions = {}): Promise<Postgres | undefined> {
    const bin = postgresBinDir();
    if (!bin) return undefined;
    const asUser = process.getuid?.() === 0 ? 'postgres' : undefined;
    const dir = mkdtempSync(join(tmpdir(), 'ota-postgres-'));
    const password = randomBytes(12).toString('hex');
    writeFileSync(join(dir, 'pw'), `${password}\n`);
    if (asUser) {
      const { uid, gid } = userIds(asUser);
      chownSync(dir, uid, gid);
      chownSync(join(dir, 'pw'), uid, gid);
    }
    chmodSync(dir, 0o700);
    const port = await freePort();
    const pg = new Postgres(bin, dir, port, password, asUser);
    pg.run('initdb', [
      '-D',
      pg.dataDir,
      '-U',
      'postgres',
      '--auth=scram-sha-256',
      `--pwfile=${join(dir, 'pw')}`,
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    rmSync(join(dir, 'pw'));
    const settings = [
      `listen_addresses=127.0.0.1`,
      `port=${port}`,
      `unix_socket_directories=${dir}`,
      'max_connections=200',
      ...(options.durable ? [] : ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off']),
    ];
    writeFileSync(join(pg.dataDir, 'postgresql.auto.conf'), settings.map(confLine).join('\n') + '\n');
    pg.startServer();
    return pg;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The connection string of a database (with the password: never print it). */
  url(database = 'postgres'): string {
    return `postgres://postgres:${this.password}@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates an empty database and returns its connection string. */
  createDatabase(name: string): string {
    this.psql('postgres', `CREATE DATABASE "${name}"`);
    return this.url(name);
  }

  /** Runs SQL with psql (as the superuser) and returns what it printed (unaligned, no headers). */
  psql(database: string, sql: string): string {
    const out = this.run('psql', [
      '-X',
      '-q',
      '-A',
      '-t',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      '127.0.0.1',
      '-p',
      String(this.port),
      '-U',
      'postgres',
      '-d',
      database,
      '-c',
      sql,
    ]);
    return out.trim();
  }

  /** Starts the server (again, after `stop`) and waits until it accepts connections. */
  startServer(): void {
    this.run('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '30', 'start']);
    this.running = true;
  }

  /** Stops the server: `fast` (sessions ended, a clean shutdown) or `immediate` (as a crash). */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    if (!this.running) return;
    this.run('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
    this.running = false;
  }

  /** Stops the server and removes its directory. */
  close(): void {
    try {
      this.stop('immediate');
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Runs one of the server's programs as the cluster's owner; throws with its output when it fails. */
  private run(program: string, args: string[]): string {
    const command = join(this.bin, program);
    const env = { ...process.env, PGPASSWORD: this.password, LC_ALL: 'C' };
    const result = this.asUser
      ? spawnSync('runuser', ['-u', this.asUser, '--', command, ...args], { encoding: 'utf8', env, cwd: this.dir })
      : spawnSync(command, args, { encoding: 'utf8', env, cwd: this.dir });
    if (result.status !== 0) {
      const said = `${result.stderr ?? ''}${result.stdout ?? ''}`.replaceAll(this.password, '***').trim();
      throw new Error(`${program} failed (exit ${result.status}): ${said || result.error?.message}`);
    }
    return result.stdout;
  }
}

function confLine(setting: string): string {
  const at = setting.indexOf('=');
  return `${setting.slice(0, at)} = '${setting.slice(at + 1)}'`;
}

function userIds(user: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

let shared: Promise<Postgres | undefined> | undefined;
let databases = 0;

/** The test process's cluster, started on first use and stopped when the process exits. */
export function sharedPostgres(): Promise<Postgres | undefined> {
  if (!shared) {
    shared = Postgres.start();
    void shared.then((pg) => {
      if (pg) process.once('exit', () => pg.close());
    });
  }
  return shared;
}

/** One connection per cluster that creates the tests' databases (faster than a psql process each). */
const admins = new WeakMap<Postgres, Promise<pg.Client>>();

/** A new empty database in the shared cluster: its connection string. */
export async function freshDatabase(server: Postgres, prefix = 'ota'): Promise<string> {
  databases++;
  const name = `${prefix}_${process.pid}_${databases}`;
  let admin = admins.get(server);
  if (!admin) {
    const client = new pg.Client({ connectionString: server.url() });
    admin = client.connect().then(() => {
      // The cluster may stop before the process ends (a test's own): an error must not crash it.
      client.on('error', () => admins.delete(server));
      return client;
    });
    admins.set(server, admin);
  }
  await (await admin).query(`CREATE DATABASE "${name}"`);
  return server.url(name);
}

/**
 * The shared cluster for a suite's `before`: when PostgreSQL is not installed the suite is
 * skipped with a note, or fails under CI=true.
 */
export async function needPostgres(ctx: Context): Promise<Postgres> {
  const pg = await sharedPostgres();
  needPart(ctx, pg, 'PostgreSQL');
  return pg;
}
