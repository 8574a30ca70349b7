/** What every adapter shares: roles, device resolution, error reporting and statuses. */
import fs from 'node:fs';
import path from 'node:path';
import type { Node, NodeAPI, NodeMessage, NodeStatus } from 'node-red';
import type { TaskOutcome } from '../fleet';
import { checkModule, checkTopicLevel, DeviceRef, ProtocolError } from '../protocol';
import type { FleetHandle, OtaFleetNode } from './registry';

export type Role = 'platform' | 'device';

export function readRole(value: unknown): Role {
  return value === 'device' ? 'device' : 'platform';
}

/** A message with the properties our nodes read; everything else passes through untouched. */
export type OtaMessage = NodeMessage & Record<string, unknown>;

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;

/**
 * The device a device-role node speaks for: `msg.productKey` / `msg.deviceName` when given,
 * else the node's own settings. A name that is not one topic level is refused.
 */
export function resolveDevice(msg: OtaMessage, defaults: { productKey?: string; deviceName?: string }): DeviceRef {
  return {
    productKey: pick('productKey', msg.productKey, defaults.productKey),
    deviceName: pick('deviceName', msg.deviceName, defaults.deviceName),
  };
}

function pick(field: 'productKey' | 'deviceName', fromMsg: unknown, fromNode: string | undefined): string {
  if (fromMsg !== undefined && fromMsg !== null && fromMsg !== '') return checkTopicLevel(`msg.${field}`, fromMsg);
  if (fromNode) return checkTopicLevel(`the node's ${field}`, fromNode);
  throw new ProtocolError(`msg.${field}`, `set on the node or in msg.${field}`, undefined, true);
}

/** A short status line from an error message (the full text goes to done(err)). */
export function errorStatus(err: unknown): NodeStatus {
  const text = err instanceof Error ? err.message : String(err);
  return { fill: 'red', shape: 'ring', text: text.length > 60 ? `${text.slice(0, 57)}…` : text };
}

/**
 * Every failure path of an input handler: a red status and done(err) so Catch nodes see it. With
 * the message, anything in it nested too deep for Node-RED's clone is replaced first (see defuseDeep).
 */
export function fail(status: StatusLine, done: Done, err: unknown, msg?: OtaMessage): void {
  const error = err instanceof Error ? err : new Error(String(err));
  status.error(error);
  if (msg) defuseDeep(msg);
  done(error);
}

/** Deeper than this, Node-RED's recursive clone of a message for Catch nodes may overflow the stack. */
export const MAX_CLONE_DEPTH = 100;

/**
 * done(err) hands Catch nodes a deep clone of the message, made recursively: a parsed payload
 * nested 10,000 deep (20 KB from any device, when `mqtt in` parses JSON itself) overflows the
 * stack there and the RangeError takes the runtime down. A refused message is not used again, so
 * each top-level property nested deeper than MAX_CLONE_DEPTH is replaced by a note saying so.
 */
export function defuseDeep(msg: Record<string, unknown>): void {
  for (const key of Object.keys(msg)) {
    if (key === 'req' || key === 'res') continue; // http in's objects: Node-RED never clones them
    if (deeperThan(msg[key], MAX_CLONE_DEPTH)) msg[key] = `[refused: nested deeper than ${MAX_CLONE_DEPTH} levels]`;
  }
}

/** Whether a value nests objects or arrays more than `limit` levels deep (iteratively: no recursion to overflow). */
export function deeperThan(value: unknown, limit: number): boolean {
  if (!isContainer(value)) return false;
  const stack: Array<[object, number]> = [[value, 1]];
  const seen = new Set<object>([value]);
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [object, number];
    if (depth > limit) return true;
    for (const child of Object.values(v)) {
      if (isContainer(child) && !seen.has(child)) {
        seen.add(child);
        stack.push([child, depth + 1]);
      }
    }
  }
  return false;
}

function isContainer(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !ArrayBuffer.isView(value);
}

/** Reuses the incoming message for an MQTT message out, as core `mqtt out` expects it. */
export function asMqtt(msg: OtaMessage, out: { topic: string; payload: string | Buffer; qos: 0 | 1 | 2 }): OtaMessage {
  msg.topic = out.topic;
  msg.payload = out.payload;
  msg.qos = out.qos;
  return msg;
}

/** Clears a one-shot error status after a good message so the node shows its state again. */
export function okStatus(text: string): NodeStatus {
  return { fill: 'green', shape: 'dot', text };
}

/** RED._ as Node-RED hands it to a node module: a key of the module's own catalog, with parameters. */
export type Translate = (key: string, params?: Record<string, string | number>) => string;

/**
 * A node's status texts, from its catalog (`<type>.status.*`). Node-RED's editor translates a
 * status text that is a catalog key, as core nodes send "node-red:common.status.connected", in
 * each editor's own language; but it passes no parameters. So a status without numbers is sent as
 * its key, and every editor shows it in its own language; a status with numbers is worded by the
 * runtime's RED._, in the runtime's language (`lang` in settings.js).
 */
export interface StatusTexts {
  /** The key the editor translates: `ota-push.status.noFleet`. */
  key(name: string): string;
  /** The text with its numbers, worded by the runtime. */
  format(name: string, params: Record<string, string | number>): string;
}

export function statusTexts(translate: Translate, type: string): StatusTexts {
  const key = (name: string) => `${type}.status.${name}`;
  return {
    key,
    format(name, params) {
      const text = translate(key(name), params);
      // RED._ answers with the key itself when it has no catalog (Node-RED's test helper stubs it
      // so): the numbers would be lost, so the English catalog words the text instead.
      return text === key(name) ? englishText(type, key(name), params) : text;
    },
  };
}

/** Where the editor's catalogs are, from build/src/nodes. */
const EN_US = path.resolve(__dirname, '../../../nodes/locales/en-US');
const englishCatalogs = new Map<string, unknown>();

function englishText(type: string, key: string, params: Record<string, string | number>): string {
  if (!englishCatalogs.has(type)) {
    let catalog: unknown;
    try {
      catalog = JSON.parse(fs.readFileSync(path.join(EN_US, `${type}.json`), 'utf8'));
    } catch {
      catalog = undefined; // a key is still better than no status
    }
    englishCatalogs.set(type, catalog);
  }
  const template = key
    .split('.')
    .reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], englishCatalogs.get(type));
  if (typeof template !== 'string') return key;
  return template.replace(/__(\w+)__/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/**
 * Node statuses travel to every open editor over the comms socket; at thousands of messages a
 * second that would swamp it. This keeps the newest status and sends at most one per interval.
 */
export class StatusLine {
  private pending: NodeStatus | (() => NodeStatus) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;

  constructor(
    private readonly node: Node,
    private readonly intervalMs = 500,
  ) {}

  /**
   * The newest status; a function is called only when the status is sent (at most once per
   * interval), so a node at thousands of messages a second words its text only that often.
   */
  set(status: NodeStatus | (() => NodeStatus)): void {
    this.pending = status;
    if (this.timer) return;
    const wait = this.lastSent + this.intervalMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Errors are shown at once. */
  error(err: unknown): void {
    this.clearTimer();
    this.pending = undefined;
    this.lastSent = Date.now();
    this.node.status(errorStatus(err));
  }

  close(): void {
    this.clearTimer();
    this.pending = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    if (!this.pending) return;
    this.lastSent = Date.now();
    const pending = this.pending;
    this.pending = undefined;
    this.node.status(typeof pending === 'function' ? pending() : pending);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Adds the device's message id to an event (in place) only when the device sent one. */
export function withId<T extends object>(event: T, id: string | number | undefined): T & { id?: string | number } {
  if (id !== undefined) (event as { id?: string | number }).id = id;
  return event;
}

/**
 * The fleet a node is bound to: `undefined` when none is chosen (the node works on messages
 * alone), an Error when the chosen one is missing or could not start (every message then fails
 * with it, and the status says so).
 */
export function bindFleet(RED: NodeAPI, node: Node, fleetId: string | undefined): FleetHandle | Error | undefined {
  if (!fleetId) return undefined;
  const config = RED.nodes.getNode(fleetId) as OtaFleetNode | null;
  let problem: Error | undefined;
  if (!config) problem = new Error('the chosen ota-fleet is not deployed: open the node and pick a fleet');
  else if (config.failure) problem = config.failure;
  else if (!config.handle) problem = new Error('the chosen ota-fleet has not started');
  if (problem) {
    // No numbers: the key itself, which each editor shows in its own language.
    node.status({ fill: 'red', shape: 'ring', text: statusTexts(RED._, node.type).key('noFleet') });
    node.warn(problem.message);
    return problem;
  }
  return (config as OtaFleetNode).handle;
}

/** Adds what the fleet did with a report (batch, the task's new state, reason) to its event, in place. */
export function withOutcome<T extends Record<string, unknown>>(event: T, outcome: TaskOutcome | undefined): T {
  if (!outcome || outcome.batchId === undefined) return event;
  const out = event as Record<string, unknown>;
  out.batchId = outcome.batchId;
  out.state = outcome.state;
  if (outcome.reason) out.reason = outcome.reason;
  else if ('reason' in out) delete out.reason;
  return event;
}

/** Reads a node's settings once; with a bad setting the node refuses every message with the reason. */
export function readOrRefuse<S>(node: Node, status: StatusLine, read: () => S): S | undefined {
  try {
    return read();
  } catch (err) {
    node.error(`invalid settings: ${(err as Error).message}`);
    status.error(err);
    node.on('input', (_msg, _send, done) => fail(status, done, err));
    return undefined;
  }
}

/** The settings ota-inform and ota-progress share: a role, and the device-role defaults. */
export interface RoleSettings {
  role: Role;
  productKey?: string;
  deviceName?: string;
  module: string;
}

export function readRoleSettings(config: {
  role?: unknown;
  productKey?: string;
  deviceName?: string;
  module?: string;
}): RoleSettings {
  return {
    role: readRole(config.role),
    productKey: config.productKey ? checkTopicLevel("the node's productKey", config.productKey) : undefined,
    deviceName: config.deviceName ? checkTopicLevel("the node's deviceName", config.deviceName) : undefined,
    module: checkModule("the node's module", config.module),
  };
}

/** Message ids for what a device-role node publishes: increasing, like an SDK's counter. */
export function messageIds(): () => number {
  let id = 0;
  return () => (id = id >= 2 ** 31 - 1 ? 1 : id + 1);
}

/**
 * The input handling ota-inform and ota-progress share: `handle` turns the message into what the
 * node sends (false when there is nothing to send; at once, or as a promise when the fleet has to
 * take the report in first); then the count in the status, the send and done(), or the red status
 * and done(err). Closing clears the status line.
 */
export function reportNode(
  node: Node,
  status: StatusLine,
  texts: StatusTexts,
  role: Role,
  handle: (msg: OtaMessage) => boolean | Promise<boolean>,
): void {
  let count = 0;
  // One function for every message: it words the count as it is when the status is sent.
  const countStatus = () => okStatus(texts.format(role === 'platform' ? 'reports' : 'sent', { count }));
  const finish = (msg: OtaMessage, sent: boolean, send: Send, done: Done) => {
    if (sent) {
      count++;
      status.set(countStatus);
      send(msg);
    }
    done();
  };
  node.on('input', (input, send, done) => {
    const msg = input as OtaMessage;
    let result: boolean | Promise<boolean>;
    try {
      result = handle(msg);
    } catch (err) {
      fail(status, done, err, msg);
      return;
    }
    if (typeof result === 'boolean') finish(msg, result, send, done);
    else
      result.then(
        (sent) => finish(msg, sent, send, done),
        (err) => fail(status, done, err, msg),
      );
  });
  node.on('close', (removed: boolean, done: () => void) => {
    status.close();
    done();
  });
}
