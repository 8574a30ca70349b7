/**
 * ota-push: the one egress of the messages a fleet sends, and where batches start and are
 * controlled.
 * Input — a batch request (`msg.payload = {firmwareId | firmware, type, targets, strategy}`), a
 *   control (`msg.action` cancel | pause | resume | confirm | reupgrade | tag), or a direct push (a
 *   firmware descriptor and `msg.productKey`/`msg.deviceName` or `msg.devices`).
 * Output 1 — T2 notices, T5/T8 answers, T7 blocks, ready for `mqtt out`.
 * Output 2 — task and batch events.
 */
import type { Node, NodeAPI, NodeDef, NodeStatus } from 'node-red';
import { ACTIONS, refused } from '../fleet';
import type { BatchChange, Outgoing, TASK_STATES, Transition } from '../fleet';
import {
  checkTopicLevel,
  DeviceRef,
  isPlainObject,
  noticeIdSource,
  parseFirmwareDescriptor,
  ProtocolError,
  readDeviceList,
  upgradeMessage,
} from '../protocol';
import { bindFleet, fail, okStatus, OtaMessage, Send, StatusLine, statusTexts } from './common';
import type { FleetHandle } from './registry';

interface OtaPushDef extends NodeDef {
  fleet?: string;
  allowUnverified?: boolean | string;
}

type TaskStateName = (typeof TASK_STATES)[number];

/** A message is a batch request when it names a firmware in the catalog, or targets. */
function isBatchRequest(payload: unknown): payload is Record<string, unknown> {
  return isPlainObject(payload) && ('firmwareId' in payload || 'targets' in payload || 'firmware' in payload);
}

function batchIdOf(msg: OtaMessage): number {
  const id = typeof msg.batchId === 'string' && /^\d+$/.test(msg.batchId) ? Number(msg.batchId) : msg.batchId;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new ProtocolError('msg.batchId', 'the id of a batch (a positive integer)', msg.batchId);
  }
  return id;
}

/** The devices a control names: none (the whole batch), one, or a list. */
function controlDevices(msg: OtaMessage, productKey: string): DeviceRef[] | undefined {
  if (msg.devices === undefined && msg.deviceName === undefined) return undefined;
  return readDeviceList({ productKey: msg.productKey ?? productKey, deviceName: msg.deviceName, devices: msg.devices });
}

function controlStates(value: unknown): TaskStateName[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  const allowed = ['CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS'];
  list.forEach((s, i) => {
    if (typeof s !== 'string' || !allowed.includes(s))
      throw new ProtocolError(`msg.states[${i}]`, `one of ${allowed.join(', ')}`, s);
  });
  return list as TaskStateName[];
}

export = function (RED: NodeAPI) {
  function OtaPushNode(this: Node, config: OtaPushDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusLine(node);
    const texts = statusTexts(RED._, 'ota-push');
    const bound = bindFleet(RED, node, config.fleet);
    const fleet = bound instanceof Error ? undefined : bound?.fleet;
    const allowUnverified = config.allowUnverified === true || config.allowUnverified === 'true';
    const nextId = noticeIdSource(Date.now);
    let pushed = 0;

    /** The last batch that ended, shown when no batch is open. */
    let lastEnded: BatchChange | undefined;
    // An explicit choice to walk around the verification gate stays visible on the node.
    const show = (s: NodeStatus): NodeStatus =>
      allowUnverified
        ? { fill: 'yellow', shape: s.shape, text: texts.format('unverifiedAllowed', { status: s.text ?? '' }) }
        : s;
    // Worded when the status line sends it (at most twice a second), not per unit of work.
    const showCounts = () => status.set(countsStatus);
    const countsStatus = (): NodeStatus => {
      if (!fleet) return show(okStatus(texts.format('pushed', { count: pushed })));
      const t = fleet.totals();
      if (!fleet.hasOpenBatches() && lastEnded) {
        const c = lastEnded.counts;
        const ended = lastEnded.to === 'CANCELED' ? 'batchCanceled' : 'batchCompleted';
        const text = texts.format(ended, { batchId: lastEnded.batchId, done: c.SUCCEEDED, failed: c.FAILED });
        return show({ fill: c.FAILED ? 'yellow' : 'green', shape: 'ring', text });
      }
      const counts = { queued: t.queued, upgrading: t.upgrading, done: t.succeeded, failed: t.failed };
      const text = texts.format(t.queued ? 'countsQueued' : 'counts', counts);
      return show({ fill: t.failed ? 'yellow' : 'green', shape: 'dot', text });
    };

    // Message ids: unique per message, without a random number each (notices come by the thousand).
    const idPrefix = RED.util.generateId().slice(0, 8);
    let sequence = 0;
    const nextMsgId = () => idPrefix + (sequence++ % 2 ** 32).toString(16).padStart(8, '0');

    // What the fleet sends through this node (output 1). A message each: Node-RED deep-copies every
    // message after the first of one send call, and each of these is new and sent once.
    const onSend = (out: Outgoing[]) => {
      const mine = out.filter((o) => o.egress === node.id);
      if (!mine.length) return;
      pushed += mine.length;
      for (const o of mine) {
        const m: OtaMessage = {
          _msgid: nextMsgId(),
          topic: o.message.topic,
          payload: o.message.payload,
          qos: o.message.qos,
          productKey: o.device.productKey,
          deviceName: o.device.deviceName,
        };
        if (o.batchId !== undefined) m.batchId = o.batchId;
        node.send([m, null]);
      }
    };
    // Task and batch events (output 2), gathered per turn of the event loop: one status, and a send
    // per event (as above).
    let events: { _msgid: string; topic: string; payload: unknown }[] = [];
    let eventsPending = false;
    let closed = false;
    const flushEvents = () => {
      eventsPending = false;
      const batch = events;
      events = [];
      if (closed || batch.length === 0) return;
      for (const event of batch) node.send([null, event]);
      showCounts();
    };
    // With nothing wired to output 2 the events go nowhere: only the counts status follows them.
    const eventsWired = (node as Node & { wires?: string[][] }).wires?.[1]?.length !== 0;
    const queueEvent = (topic: 'task' | 'batch', payload: unknown) => {
      if (!eventsWired) return showCounts();
      events.push({ _msgid: nextMsgId(), topic, payload });
      if (!eventsPending) {
        eventsPending = true;
        setImmediate(flushEvents);
      }
    };
    const onTask = (t: Transition) => queueEvent('task', t);
    const onBatch = (b: BatchChange) => {
      if (b.to === 'COMPLETED' || b.to === 'CANCELED') lastEnded = b;
      queueEvent('batch', b);
    };
    if (fleet) {
      fleet.on('send', onSend);
      fleet.on('task', onTask);
      fleet.on('batch', onBatch);
      fleet.attachEgress(node.id);
    }
    showCounts();

    function needFleet(what: string): FleetHandle {
      if (bound instanceof Error) throw bound;
      if (!bound) throw new Error(`${what} needs an ota-fleet: pick one in the node's settings`);
      return bound;
    }

    /** A control, checked and applied in one unit of work (the batch's product names the devices). */
    function control(msg: OtaMessage, handle: FleetHandle): Promise<unknown> {
      const action = msg.action;
      if (typeof action !== 'string')
        throw new ProtocolError('action', `"tag", ${ACTIONS.map((a) => `"${a}"`).join(', ')}`, action);
      if (action === 'tag') {
        const tags = msg.tags;
        if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 64)) {
          throw new ProtocolError('msg.tags', 'an array of tag names (1 to 64 characters each)', tags);
        }
        const devices = readDeviceList(msg as { productKey?: unknown; deviceName?: unknown; devices?: unknown });
        return handle.ask((f) => f.setTags(devices, tags as string[]));
      }
      const batchId = batchIdOf(msg);
      return handle.ask((f) => {
        const productKey = f.batch(batchId).targets.productKey;
        if (msg.productKey !== undefined) checkTopicLevel('msg.productKey', msg.productKey);
        f.control(action, batchId, { devices: controlDevices(msg, productKey), states: controlStates(msg.states) });
      });
    }

    /** What one input does; a refusal rejects (or throws) before anything is sent or changed. */
    function handleInput(msg: OtaMessage, send: Send): Promise<unknown> | void {
      if (msg.action !== undefined)
        return control(msg, needFleet(typeof msg.action === 'string' ? `msg.action "${msg.action}"` : 'msg.action'));
      if (isBatchRequest(msg.payload)) {
        const payload = msg.payload;
        return needFleet('starting a batch').ask((f) => f.createBatch(payload, { egress: node.id }));
      }
      // Check everything before sending anything: a bad entry sends nothing.
      const firmware = parseFirmwareDescriptor(msg.payload);
      const devices = readDeviceList(msg as { productKey?: unknown; deviceName?: unknown; devices?: unknown });
      if (bound instanceof Error) throw bound;
      if (bound) {
        // A catalog record (from ota-verify or the admin API) is pushed as the hosted firmware it is.
        const id = (msg.payload as { id?: unknown }).id;
        return bound.ask((f) => {
          const known = typeof id === 'string' && f.findFirmware(id) ? { firmwareId: id } : undefined;
          f.pushDirect(known ?? firmware, devices, node.id, { allowUnverified });
        });
      }
      if (!allowUnverified) {
        throw refused(
          'a direct push without an ota-fleet cannot pass the verification gate: pick the fleet whose catalog holds the verified firmware, ' +
            'or turn on "allow unverified direct pushes" on this node',
        );
      }
      // The list is not copied into every message: a wire that fans out deep-clones each one.
      const { devices: _list, ...base } = msg;
      const out = devices.map((device) => {
        const m = upgradeMessage(device, firmware, nextId());
        return { ...base, _msgid: nextMsgId(), topic: m.topic, payload: m.payload, qos: m.qos, ...device };
      });
      pushed += out.length;
      showCounts();
      send([out, null]);
    }

    node.on('input', (input, send, done) => {
      const msg = input as OtaMessage;
      let result: Promise<unknown> | void;
      try {
        result = handleInput(msg, send);
      } catch (err) {
        fail(status, done, err, msg);
        return;
      }
      if (!result) done();
      else
        result.then(
          () => done(),
          (err) => fail(status, done, err, msg),
        );
    });

    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      if (fleet) {
        fleet.detachEgress(node.id);
        fleet.off('send', onSend);
        fleet.off('task', onTask);
        fleet.off('batch', onBatch);
      }
      status.close();
      done();
    });
  }

  RED.nodes.registerType('ota-push', OtaPushNode);
};
