/**
 * The admin HTTP API (README: Admin API), under the Node-RED admin root, JSON in and out, guarded by
 * `ota.read` / `ota.write` (and `ota.broker` for the broker's login and ACL checks, broker-auth.ts). Refusals answer 4xx with `{error}` saying what is wrong and how to fix
 * it; nothing ever answers with a stack trace.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { NodeAPI } from 'node-red';
import type { NextFunction, Request, Response } from 'express';
import {
  ACTIONS,
  deleteHostedFirmware,
  FleetError,
  readUploadMeta,
  TASK_STATES,
  TaskState,
  UploadPart,
  uploadFirmware,
  uploadFirmwareFiles,
} from '../fleet';
import { checkTopicLevel, generateSigningKeyPair, isPlainObject, ProtocolError } from '../protocol';
import { brokerAuthRoutes } from './broker-auth';
import {
  deviceCursor,
  encodeDeviceCursor,
  NEXT_HEADER,
  nextDeviceCursor,
  nextTaskCursor,
  taskCursor,
} from './page-cursor';
import { allFleets, FleetHandle, fleetById } from './registry';

type Handler = (req: Request, res: Response) => unknown;

/** The largest CSV of devices a registration may send (JSON bodies have Node-RED's apiMaxLength). */
const MAX_CSV_BYTES = 32 * 1024 * 1024;

const mounted = new WeakSet<object>();

/** The HTTP status and JSON body for an error. */
export function errorResponse(err: unknown): { status: number; body: { error: string } } {
  if (err instanceof ProtocolError) return { status: 400, body: { error: err.message } };
  if (err instanceof FleetError) return { status: err.status, body: { error: err.message } };
  const e = err as { type?: string; status?: number; message?: string };
  if (e && e.type === 'entity.parse.failed')
    return { status: 400, body: { error: 'the request body is not valid JSON' } };
  if (e && e.type === 'entity.too.large') return { status: 413, body: { error: 'the request body is too large' } };
  // Errors Express and the body parser raise before a route runs (an unknown charset or
  // Content-Encoding, a path that is not valid percent-encoding) carry their own 4xx status.
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return { status: e.status, body: { error: clientErrorText(e) } };
  return { status: 500, body: { error: `internal error: ${e?.message ?? String(err)}` } };
}

function clientErrorText(e: { type?: string; status?: number; message?: string }): string {
  if (e.type === 'charset.unsupported') return `${e.message ?? 'unsupported charset'}: send JSON as UTF-8`;
  if (e.type === 'encoding.unsupported')
    return `${e.message ?? 'unsupported content encoding'}: send the body uncompressed, gzip or deflate`;
  if (e.status === 400 && /decode param/i.test(e.message ?? ''))
    return 'the request path is not valid percent-encoding';
  if (e.status === 400) return 'the request body could not be read (is its Content-Encoding right?)';
  return `request refused (${e.status})`;
}

function send(res: Response, err: unknown): void {
  const { status, body } = errorResponse(err);
  if (!res.headersSent) res.status(status).json(body);
}

function fleetOf(req: Request): FleetHandle {
  const handle = fleetById(String(req.params.fleet));
  if (!handle)
    throw new FleetError(
      'OTA_NOT_FOUND',
      `no deployed ota-fleet has id "${req.params.fleet}" (GET …/ota/fleets lists them)`,
    );
  return handle;
}

function batchIdOf(req: Request): number {
  const id = Number(req.params.id);
  if (!Number.isSafeInteger(id) || id < 1) throw new ProtocolError('batch id', 'a positive integer', req.params.id);
  return id;
}

function intQuery(req: Request, name: string, fallback: number, max: number): number {
  const value = req.query[name];
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new ProtocolError(name, `an integer from 0 to ${max}`, value);
  return n;
}

function stringQuery(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new ProtocolError(name, 'one value', value);
  return value;
}

function stateQuery(value: unknown, field: string): TaskState {
  if (typeof value === 'string' && (TASK_STATES as readonly string[]).includes(value)) return value as TaskState;
  throw new ProtocolError(field, `one of ${TASK_STATES.join(', ')}`, value);
}

/** A JSON body, or {} when there is none. */
function body(req: Request): Record<string, unknown> {
  const b = req.body as unknown;
  if (b === undefined || b === null || (typeof b === 'object' && Object.keys(b as object).length === 0)) return {};
  if (!isPlainObject(b)) throw new ProtocolError('request body', 'a JSON object', b);
  return b;
}

function deviceOf(req: Request) {
  return {
    productKey: checkTopicLevel('productKey', req.params.productKey),
    deviceName: checkTopicLevel('deviceName', req.params.deviceName),
  };
}

/**
 * The body of a device registration: a JSON array (read by the admin app's JSON parser), or CSV
 * text read here (the admin app parses only JSON and forms).
 */
async function credentialsBody(req: Request): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if ((req as Request & { _body?: boolean })._body) {
    if (type.startsWith('application/json')) return req.body;
    throw new FleetError(
      'OTA_UNSUPPORTED',
      `send the devices as JSON or as CSV with Content-Type: text/csv (it came as ${type}), e.g. curl --data-binary @devices.csv -H 'Content-Type: text/csv'`,
    );
  }
  if (!/^text\/(csv|plain)\s*(;|$)/.test(type)) {
    throw new FleetError(
      'OTA_UNSUPPORTED',
      `send the devices as a JSON array (Content-Type: application/json) or as CSV text (Content-Type: text/csv), not ${type || 'without a Content-Type'}`,
    );
  }
  const charset = /;\s*charset="?([^";]+)/.exec(type)?.[1];
  if (charset && !/^utf-?8$/.test(charset) && charset !== 'us-ascii')
    throw new FleetError('OTA_UNSUPPORTED', `unsupported charset ${charset}: send the CSV as UTF-8`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CSV_BYTES)
      throw new FleetError(
        'OTA_REFUSED',
        `the CSV is over ${MAX_CSV_BYTES / 1048576} MB; send the devices in several requests`,
      );
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The part of busboy (a streaming multipart/form-data parser) this file uses. */
interface MultipartParser extends NodeJS.WritableStream {
  on(event: 'file', listener: (field: string, stream: Readable, info: { filename: string }) => void): this;
  on(event: 'field', listener: (field: string) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}
type MultipartFactory = (config: { headers: IncomingHttpHeaders; preservePath: boolean }) => MultipartParser;

/** busboy (a dependency of this package, and the parser Node-RED's own multer uses). */
function loadMultipart(): MultipartFactory {
  return createRequire(__filename)('busboy') as MultipartFactory;
}

/**
 * The files of a multipart/form-data body, one part each, in order, each streamed as it arrives.
 * When the reader stops (done or refused), the rest of the body is read and dropped.
 */
async function* multipartFiles(req: Request): AsyncGenerator<UploadPart> {
  let parser: MultipartParser;
  try {
    // preservePath: a name with a path in it is refused as a label, not silently cut to its end.
    parser = loadMultipart()({ headers: req.headers, preservePath: true });
  } catch (err) {
    if (err instanceof FleetError) throw err;
    throw new FleetError(
      'OTA_UNSUPPORTED',
      `the multipart/form-data body cannot be read: ${(err as Error).message} (is the boundary given?)`,
    );
  }
  const queue: (UploadPart | Error | null)[] = [];
  let wake: (() => void) | undefined;
  const push = (item: UploadPart | Error | null) => {
    queue.push(item);
    wake?.();
  };
  parser.on('file', (_field, stream, info) => push({ fileName: info.filename, source: stream }));
  parser.on('field', (field) =>
    push(
      new ProtocolError(
        `part "${field}"`,
        'a file (every part of the body is one file of the firmware, with a filename)',
        'a field',
      ),
    ),
  );
  parser.on('error', (err) =>
    push(new FleetError('OTA_REFUSED', `the multipart/form-data body cannot be read: ${err.message}`)),
  );
  parser.on('close', () => push(null));
  req.pipe(parser);
  try {
    for (;;) {
      if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      const item = queue.shift();
      if (item === null || item === undefined) return;
      if (item instanceof Error) throw item;
      yield item;
    }
  } finally {
    req.unpipe(parser);
    req.resume();
  }
}

function devicesOf(b: Record<string, unknown>, productKey?: string) {
  if (b.devices === undefined) return undefined;
  if (!Array.isArray(b.devices)) throw new ProtocolError('devices', 'an array of device names', b.devices);
  return b.devices.map((d, i) => ({
    productKey: productKey as string,
    deviceName: checkTopicLevel(`devices[${i}]`, d),
  }));
}

export function mountAdminApi(RED: NodeAPI): void {
  const app = RED.httpAdmin as unknown as Record<string, (...args: unknown[]) => void> | undefined;
  if (!app?.get || mounted.has(app)) return;
  mounted.add(app);
  const read = RED.auth.needsPermission('ota.read') as unknown as (
    req: Request,
    res: Response,
    next: NextFunction,
  ) => void;
  const write = RED.auth.needsPermission('ota.write') as unknown as (
    req: Request,
    res: Response,
    next: NextFunction,
  ) => void;
  const broker = RED.auth.needsPermission('ota.broker') as unknown as (
    req: Request,
    res: Response,
    next: NextFunction,
  ) => void;
  const route = (method: 'get' | 'post' | 'put' | 'delete', path: string, guard: typeof read, handler: Handler) => {
    app[method](path, guard, (req: Request, res: Response) => {
      Promise.resolve()
        .then(() => handler(req, res))
        .then(
          (result) => {
            if (result !== undefined && !res.headersSent)
              res.status(method === 'post' && res.statusCode === 200 ? 200 : res.statusCode).json(result);
          },
          (err) => send(res, err),
        );
    });
  };

  route('get', '/ota/fleets', read, () =>
    allFleets().map((h) => ({
      id: h.id,
      name: h.name,
      publicKey: h.publicKey ?? null,
      requireVerification: h.fleet.settings.requireVerification,
    })),
  );

  // A page of devices; `after` (the X-Next-After of the previous page) reads from there through
  // the key, `offset` reads every device it skips. A version or name filter reads a bounded part of
  // the list: its page may be short, or empty, and still have a next one.
  route('get', '/ota/fleets/:fleet/devices', read, async (req, res) => {
    const limit = intQuery(req, 'limit', 1000, 100_000);
    const handle = fleetOf(req);
    const query = {
      productKey: stringQuery(req, 'productKey'),
      module: stringQuery(req, 'module'),
      version: stringQuery(req, 'version'),
      search: stringQuery(req, 'search'),
      limit,
      offset: intQuery(req, 'offset', 0, Number.MAX_SAFE_INTEGER),
      after: deviceCursor(req.query.after),
    };
    const { devices, next } = await handle.ask((f) => f.devicePage(query));
    const cursor = next ? encodeDeviceCursor(next) : nextDeviceCursor(devices, limit);
    if (cursor) res.setHeader(NEXT_HEADER, cursor);
    return devices;
  });

  route('get', '/ota/fleets/:fleet/devices/:productKey/:deviceName', read, async (req) => {
    const device = {
      productKey: checkTopicLevel('productKey', req.params.productKey),
      deviceName: checkTopicLevel('deviceName', req.params.deviceName),
    };
    const view = await fleetOf(req).ask((f) => f.device(device));
    if (view.modules.length === 0 && view.tasks.length === 0)
      throw new FleetError(
        'OTA_NOT_FOUND',
        `${device.productKey}/${device.deviceName} has never reported and has no task`,
      );
    return view;
  });

  route('put', '/ota/fleets/:fleet/devices/:productKey/:deviceName/tags', write, async (req) => {
    const device = {
      productKey: checkTopicLevel('productKey', req.params.productKey),
      deviceName: checkTopicLevel('deviceName', req.params.deviceName),
    };
    const tags = body(req).tags;
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 64)) {
      throw new ProtocolError('tags', 'an array of tag names (1 to 64 characters each)', tags);
    }
    await fleetOf(req).ask((f) => f.setTags([device], tags as string[]));
    return { ...device, tags };
  });

  route('get', '/ota/fleets/:fleet/versions', read, (req) => {
    const handle = fleetOf(req);
    const productKey = stringQuery(req, 'productKey');
    return handle.ask((f) => f.versions(productKey));
  });

  route('get', '/ota/fleets/:fleet/firmware', read, (req) => {
    const handle = fleetOf(req);
    const productKey = stringQuery(req, 'productKey');
    return handle.ask((f) => f.listFirmware(productKey));
  });

  route('get', '/ota/fleets/:fleet/firmware/:id', read, (req) => {
    const id = String(req.params.id);
    return fleetOf(req).ask((f) => f.firmware(id));
  });

  route('post', '/ota/fleets/:fleet/firmware', write, async (req, res) => {
    const handle = fleetOf(req);
    const meta = readUploadMeta(req.query as Record<string, unknown>);
    const declared = Number(req.headers['content-length']);
    if (declared > handle.maxPackageBytes)
      throw new FleetError(
        'OTA_REFUSED',
        `the package is ${declared} bytes, over the fleet's limit of ${handle.maxPackageBytes}`,
      );
    if (/^multipart\/form-data\s*(;|$)/i.test(String(req.headers['content-type'] ?? ''))) {
      const firmware = await uploadFirmwareFiles(
        handle.ask,
        handle.files,
        multipartFiles(req),
        meta,
        handle.maxPackageBytes,
      );
      res.status(201);
      return firmware;
    }
    // The admin app's JSON and form parsers read bodies of their types before any route runs:
    // a package must come as raw bytes, or it arrives consumed (curl --data-binary sends a form).
    if ((req as Request & { _body?: boolean })._body) {
      throw new FleetError(
        'OTA_UNSUPPORTED',
        `send the package as raw bytes with Content-Type: application/octet-stream (it came as ${req.headers['content-type']}), e.g. curl --data-binary @fw.bin -H 'Content-Type: application/octet-stream'`,
      );
    }
    const source = Buffer.isBuffer(req.body) ? req.body : req;
    const firmware = await uploadFirmware(handle.ask, handle.files, source, meta, handle.maxPackageBytes);
    res.status(201);
    return firmware;
  });

  route('delete', '/ota/fleets/:fleet/firmware/:id', write, (req) => {
    const handle = fleetOf(req);
    return deleteHostedFirmware(handle.ask, handle.files, String(req.params.id));
  });

  route('get', '/ota/fleets/:fleet/batches', read, (req) => fleetOf(req).ask((f) => f.listBatches()));

  route('post', '/ota/fleets/:fleet/batches', write, async (req, res) => {
    const handle = fleetOf(req);
    const input = body(req);
    const batch = await handle.ask((f) => f.createBatch(input));
    // A large batch is still being stored: accepted, CREATING, its progress in `creation`.
    res.status(batch.state === 'CREATING' ? 202 : 201);
    return batch;
  });

  route('get', '/ota/fleets/:fleet/batches/:id', read, (req) => {
    const handle = fleetOf(req);
    const id = batchIdOf(req);
    return handle.ask((f) => f.batch(id));
  });

  route('get', '/ota/fleets/:fleet/batches/:id/tasks', read, async (req, res) => {
    const state = req.query.state === undefined ? undefined : stateQuery(req.query.state, 'state');
    const limit = intQuery(req, 'limit', 1000, 100_000);
    const handle = fleetOf(req);
    const batchId = batchIdOf(req);
    const query = {
      state,
      limit,
      offset: intQuery(req, 'offset', 0, Number.MAX_SAFE_INTEGER),
      after: taskCursor(req.query.after),
    };
    const { tasks, next } = await handle.ask((f) => f.taskPage(batchId, query));
    const cursor = next !== undefined ? String(next) : nextTaskCursor(tasks, limit);
    if (cursor) res.setHeader(NEXT_HEADER, cursor);
    return tasks;
  });

  route('get', '/ota/fleets/:fleet/batches/:id/transitions', read, (req) => {
    const handle = fleetOf(req);
    const id = batchIdOf(req);
    return handle.ask((f) => {
      const batchId = f.batch(id).id; // an unknown batch is a 404, as for its tasks
      return f.transitions({ batchId, limit: intQuery(req, 'limit', 1000, 100_000) });
    });
  });

  route('post', '/ota/fleets/:fleet/batches/:id/:action', write, (req) => {
    const action = String(req.params.action);
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw new FleetError(
        'OTA_NOT_FOUND',
        `unknown action "${action}": use cancel, pause, resume, confirm or reupgrade`,
      );
    }
    const handle = fleetOf(req);
    const id = batchIdOf(req);
    const b = body(req);
    const states =
      b.states === undefined
        ? undefined
        : Array.isArray(b.states)
          ? b.states.map((s, i) => stateQuery(s, `states[${i}]`))
          : stateQuery(b.states, 'states');
    return handle.ask((f) =>
      f.control(action, id, {
        devices: devicesOf(b, f.batch(id).targets.productKey),
        states: states === undefined ? undefined : Array.isArray(states) ? states : [states],
      }),
    );
  });

  route('post', '/ota/fleets/:fleet/batches/:id/tasks/:productKey/:deviceName/:action', write, (req) => {
    const action = String(req.params.action);
    if (action !== 'reupgrade' && action !== 'confirm' && action !== 'cancel') {
      throw new FleetError('OTA_NOT_FOUND', `unknown task action "${action}": use reupgrade, confirm or cancel`);
    }
    const device = {
      productKey: checkTopicLevel('productKey', req.params.productKey),
      deviceName: checkTopicLevel('deviceName', req.params.deviceName),
    };
    const handle = fleetOf(req);
    const batchId = batchIdOf(req);
    return handle.ask((f) => f.control(action, batchId, { devices: [device] }));
  });

  route('post', '/ota/keys', write, () => generateSigningKeyPair());

  route('get', '/ota/fleets/:fleet/credentials', read, (req) => {
    const handle = fleetOf(req);
    const query = {
      productKey: stringQuery(req, 'productKey'),
      limit: intQuery(req, 'limit', 1000, 100_000),
      offset: intQuery(req, 'offset', 0, Number.MAX_SAFE_INTEGER),
    };
    return handle.ask((f) => f.listCredentials(query));
  });

  route('post', '/ota/fleets/:fleet/credentials', write, async (req, res) => {
    const handle = fleetOf(req);
    const credentials = await credentialsBody(req);
    const registered = await handle.ask((f) => f.registerCredentials(credentials));
    res.status(201);
    return registered;
  });

  route('delete', '/ota/fleets/:fleet/credentials/:productKey/:deviceName', write, async (req) => {
    const device = deviceOf(req);
    await fleetOf(req).ask((f) => f.removeCredential(device));
    return device;
  });

  for (const r of brokerAuthRoutes((req) => fleetOf(req).ask)) route('post', r.path, broker, r.handler);

  // A body the admin app's JSON parser refused never reaches a route: answer it here, as JSON,
  // instead of Express's HTML page with a stack trace.
  app.use('/ota', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    send(res, err);
  });
}
