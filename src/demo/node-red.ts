/**
 * Runs a real Node-RED with this package: a user directory prepared with settings, a flow and
 * the package linked into its node_modules, then `red.js` as a child process. Used by `npm start`;
 * the tests and the benchmarks run it through test/helpers/node-red-child.ts. (Node-RED is a devDependency: this is not shipped.)
 */
import { ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { get, request } from 'node:http';
import { dirname, join, resolve } from 'node:path';

export const PACKAGE_ROOT = resolve(__dirname, '..', '..', '..');
/** The npm name Node-RED loads the package by, and the name it had before it took a scope. */
export const PACKAGE_NAME = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { name: string })
  .name;
const UNSCOPED_NAME = 'node-red-contrib-mqtt-ota';

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export interface UserDirOptions {
  userDir: string;
  port: number;
  /** Written as flows.json when given (or when none exists yet). */
  flows?: object[];
  /** Node credentials by node id, written in clear (credentialSecret false) with the flow. */
  credentials?: Record<string, Record<string, string>>;
  /** Extra settings merged into settings.js. */
  settings?: Record<string, unknown>;
  /** Replace an existing flows.json (default: keep it, so a second start keeps its state). */
  overwriteFlows?: boolean;
}

/** Prepares a user directory: settings.js, flows.json, and this package linked in node_modules. */
export function prepareUserDir(options: UserDirOptions): void {
  const { userDir } = options;
  const link = join(userDir, 'node_modules', ...PACKAGE_NAME.split('/'));
  mkdirSync(dirname(link), { recursive: true });
  // A user directory from before the package had its scope links it unscoped too: Node-RED would
  // then load the nodes twice.
  const unscoped = join(userDir, 'node_modules', UNSCOPED_NAME);
  if (isSymlink(unscoped)) unlinkSync(unscoped);
  if (!isSymlink(link)) {
    rmSync(link, { recursive: true, force: true });
    symlinkSync(PACKAGE_ROOT, link, 'dir');
  }
  const settings = {
    uiPort: options.port,
    // The editor and the admin API (which registers device secrets) stay on this machine unless asked.
    uiHost: '127.0.0.1',
    flowFile: 'flows.json',
    credentialSecret: false,
    logging: { console: { level: 'info', metrics: false, audit: false } },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    editorTheme: { projects: { enabled: false }, palette: { catalogues: [] }, tours: false },
    externalModules: { palette: { allowInstall: false } },
    ...options.settings,
  };
  writeFileSync(join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  const flowsFile = join(userDir, 'flows.json');
  if (options.flows && (options.overwriteFlows || !existsSync(flowsFile))) {
    writeFileSync(flowsFile, JSON.stringify(options.flows, null, 2));
    writeFileSync(join(userDir, 'flows_cred.json'), JSON.stringify(options.credentials ?? {}, null, 2));
  }
}

export interface SpawnOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** `pipe` (default): the caller reads the output; `inherit`: it goes to this terminal. */
  stdio?: 'inherit' | 'pipe';
  /** Node.js flags before red.js (e.g. `--cpu-prof` to profile Node-RED). */
  nodeArgs?: string[];
}

/** Starts `node-red` on a prepared user directory as a child process. */
export function spawnNodeRed(userDir: string, options: SpawnOptions = {}): ChildProcess {
  const redJs = require.resolve('node-red/red.js', { paths: [PACKAGE_ROOT] });
  return spawn(process.execPath, [...(options.nodeArgs ?? []), redJs, '--userDir', userDir], {
    env: { ...process.env, ...options.env },
    stdio: options.stdio ?? 'pipe',
  });
}

/** Resolves with the parsed JSON of a GET, or rejects. */
export function getJson<T = unknown>(url: string): Promise<T> {
  return new Promise((ok, fail) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) return fail(new Error(`GET ${url}: HTTP ${res.statusCode} ${text}`));
        try {
          ok(JSON.parse(text) as T);
        } catch (err) {
          fail(err);
        }
      });
    }).on('error', fail);
  });
}

/** POSTs `body` as JSON; resolves with the status and the parsed JSON answer, or rejects on 4xx/5xx with the answer's error. */
export function postJson<T = unknown>(url: string, body: unknown): Promise<T> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((ok, fail) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': data.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 500) >= 400) return fail(new Error(`POST ${url}: HTTP ${res.statusCode} ${text}`));
          try {
            ok(JSON.parse(text) as T);
          } catch (err) {
            fail(err);
          }
        });
      },
    );
    req.on('error', fail);
    req.end(data);
  });
}

/** Waits until the admin API lists the fleets (Node-RED up, the package loaded, flows started). */
export async function waitForFleets(
  baseUrl: string,
  count: number,
  timeoutMs = 60_000,
  child?: ChildProcess,
): Promise<{ id: string; name: string }[]> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`Node-RED exited with code ${child.exitCode}`);
    try {
      const fleets = await getJson<{ id: string; name: string }[]>(`${baseUrl}/ota/fleets`);
      if (fleets.length >= count) return fleets;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Node-RED did not come up at ${baseUrl} within ${timeoutMs} ms (${String(last)})`);
}
