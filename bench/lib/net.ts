/**
 * Commands, requests and process figures for the benchmarks. Ports, child processes and Mosquitto
 * come from the tests' helpers (test/helpers/net.ts, child.ts, mosquitto.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';

export interface Timed {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and times it (wall clock, from spawn to exit). */
export function timeCommand(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, ms: performance.now() - started, stdout, stderr }));
  });
}

/**
 * Extra Node flags for the benchmarks' child processes, from BENCH_CHILD_FLAGS (e.g.
 * `--cpu-prof --cpu-prof-dir=build/bench/prof` to profile what runs in them).
 */
export function childFlags(): string[] {
  return (process.env.BENCH_CHILD_FLAGS ?? '').split(/\s+/).filter(Boolean);
}

/** A request with a JSON (or raw) body; resolves with the parsed JSON answer, rejects on 4xx/5xx. */
export function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (data) {
      headers['Content-Type'] = Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json';
      headers['Content-Length'] = data.length;
    }
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400)
          return reject(new Error(`${method} ${url}: HTTP ${res.statusCode} ${text}`));
        try {
          resolve(JSON.parse(text) as T);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the command.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Time a process's main thread has spent running on a CPU and waiting in a run queue for one,
 * in seconds (Linux /proc/<pid>/schedstat). On a machine shared with other work, the waiting
 * says how much of a slow run was the machine, not the code.
 */
export function schedSeconds(pid: number | 'self'): { run: number; wait: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { run: run / 1e9, wait: wait / 1e9 };
  } catch {
    return { run: NaN, wait: NaN };
  }
}

/**
 * The kernel's TCP counters that show connections a listener could not take (its accept queue
 * was full: the SYN is dropped and the client tries again after 1 s, 3 s, 7 s …). System-wide
 * (Linux /proc/net/netstat), so other work on the machine counts too.
 */
export function tcpCounters(): { listenOverflows: number; synRetrans: number } {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/).map(Number);
    const get = (name: string) => values[names.indexOf(name)] ?? NaN;
    return { listenOverflows: get('ListenOverflows'), synRetrans: get('TCPSynRetrans') };
  } catch {
    return { listenOverflows: NaN, synRetrans: NaN };
  }
}
