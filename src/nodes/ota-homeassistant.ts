/**
 * ota-homeassistant: the firmware of each selected device as a Home Assistant MQTT `update`
 * entity, installed from Home Assistant (homeassistant/bridge.ts does the work).
 * Input — from core `mqtt in` nodes: HA's birth (`<prefix>/status`), Install pressed in HA
 *   (`<base>/<object id>/install`), and the node's own availability back from the broker
 *   (`<base>/availability`), which tells it the broker takes what it sends.
 * Output 1 — discovery configs, states, attributes, clears and availability, for `mqtt out`.
 * Output 2 — installs started and refused.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { bindFleet, fail, okStatus, OtaMessage, readOrRefuse, Send, StatusLine, statusTexts } from './common';
import { HaBridge, InstallRefusal } from './homeassistant/bridge';
import { parseCommand } from './homeassistant/command';
import { availabilityTopic } from './homeassistant/entity';
import { memoKeyOf, nodeIdOf } from './homeassistant/memo';
import { claimBase, inFlows, releaseBase } from './homeassistant/presence';
import type { MqttOut } from './homeassistant/pacer';
import { HaConfig, readHaSettings } from './homeassistant/settings';

type OtaHomeAssistantDef = NodeDef & HaConfig & { fleet?: string };

/** How often the availability is sent again until it comes back from the broker, and how many times. */
const ECHO_RETRY_MS = 2000;
const ECHO_TRIES = 5;

export = function (RED: NodeAPI) {
  function OtaHomeAssistantNode(this: Node, config: OtaHomeAssistantDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusLine(node);
    const texts = statusTexts(RED._, 'ota-homeassistant');
    const settings = readOrRefuse(node, status, () => readHaSettings(config));
    if (!settings) return;
    const bound = bindFleet(RED, node, config.fleet);
    const handle = bound instanceof Error ? undefined : bound;
    if (!handle) {
      const problem =
        bound instanceof Error
          ? bound
          : new Error("ota-homeassistant needs an ota-fleet: pick one in the node's settings");
      if (!(bound instanceof Error)) {
        node.warn(problem.message);
        node.status({ fill: 'red', shape: 'ring', text: texts.key('noFleet') });
      }
      node.on('input', (input, _send, done) => fail(status, done, problem, input as OtaMessage));
      return;
    }
    if (readOrRefuse(node, status, () => claimBase(settings.base, node.id)) === undefined) return;

    const toMqtt = (m: MqttOut) => ({
      _msgid: RED.util.generateId(),
      topic: m.topic,
      payload: m.payload,
      qos: 1,
      retain: m.retain,
    });
    let echoed = false;
    const show = () => {
      // Without numbers the status is its catalog key: each editor shows it in its own language.
      if (!settings.selection) return status.set({ fill: 'yellow', shape: 'ring', text: texts.key('noSelection') });
      const s = bridge.summary();
      const counts = { entities: s.entities, sent: s.sent, queued: s.pending };
      if (s.held) return status.set({ fill: 'yellow', shape: 'ring', text: texts.format('waiting', counts) });
      if (s.pending > 0) return status.set({ fill: 'blue', shape: 'dot', text: texts.format('publishing', counts) });
      const done = { entities: s.entities, installs: bridge.installs, refused: bridge.refusals };
      status.set(okStatus(texts.format('ready', done)));
    };
    const deployed = (id: string) => inFlows((visit) => RED.nodes.eachNode(visit), id);
    const orphan = (memoKey: string) => {
      const id = nodeIdOf(memoKey);
      return id !== undefined && !deployed(id);
    };
    const bridge = new HaBridge(
      handle,
      settings,
      memoKeyOf(node.id),
      { publish: (messages) => node.send([messages.map(toMqtt), null]), changed: show },
      orphan,
    );

    if (!settings.selection)
      node.warn('no product key selected: this node publishes no entity (and clears any it published before)');
    bridge.start().then(show, (err: Error) => {
      node.error(`could not read the fleet: ${err.message}`);
      status.error(err);
    });
    // The availability goes out at once and again until it comes back through the `mqtt in`
    // subscribed to it: `mqtt out` drops what it is given before it is connected, and the
    // retained configs must not be lost that way. Without that subscription it publishes anyway.
    let tries = 0;
    /** Published without the echo: what went out before the broker connection may be lost. */
    let blind = false;
    const announce = () => {
      echoTimer = undefined;
      if (echoed) return;
      bridge.availability(true);
      if (++tries < ECHO_TRIES) echoTimer = setTimeout(announce, ECHO_RETRY_MS);
      else {
        node.warn(
          `${availabilityTopic(settings.base)} did not come back from the broker: publishing anyway (subscribe an mqtt in to it)`,
        );
        blind = true;
        bridge.linkUp();
      }
    };
    let echoTimer: NodeJS.Timeout | undefined = setTimeout(announce, 0);
    show();

    /** A refused install is news for the flow: output 2 says which, and why. */
    const refusal = (msg: OtaMessage, err: InstallRefusal) => ({
      _msgid: RED.util.generateId(),
      topic: 'refused',
      payload: {
        objectId: err.entity?.objectId ?? err.objectId,
        ...err.entity,
        reason: err.message,
        command: { topic: msg.topic },
      },
    });

    const install = async (msg: OtaMessage, objectId: string, send: Send) => {
      const { entity, batch, firmware } = await bridge.install(objectId);
      send([
        null,
        {
          ...msg,
          topic: 'install',
          payload: { ...entity, batchId: batch.id, firmwareId: batch.firmwareId, version: firmware?.version },
        },
      ]);
    };

    node.on('input', (input, send, done) => {
      const msg = input as OtaMessage;
      // A message the node cannot read (CommandError) is only an error: nothing is sent for it.
      // An install refused (InstallRefusal) also goes to output 2.
      const refuse = (err: unknown) => {
        if (err instanceof InstallRefusal) send([null, refusal(msg, err)]);
        fail(status, done, err, msg);
      };
      try {
        const command = parseCommand(msg, settings);
        if (command.kind === 'echo') {
          if (command.online && !echoed) {
            echoed = true;
            // The broker answers at last: everything again, in case the first went nowhere.
            if (blind) bridge.birth();
            else bridge.linkUp();
          }
        } else if (command.kind === 'birth') {
          if (command.online) bridge.birth();
        } else {
          install(msg, command.objectId, send).then(() => done(), refuse);
          return;
        }
        done();
      } catch (err) {
        refuse(err);
      }
    });

    node.on('close', (removed: boolean, done: () => void) => {
      if (echoTimer) clearTimeout(echoTimer);
      releaseBase(settings.base, node.id);
      // Deleted from the flows: its entities leave HA. Disabled, or stopped by a restart or a
      // redeploy: they only go unavailable, and come back as they were.
      bridge
        .close(removed && !deployed(node.id))
        .catch((err: Error) => node.warn(`could not record what was published: ${err.message}`))
        .finally(() => {
          status.close();
          done();
        });
    });
  }

  RED.nodes.registerType('ota-homeassistant', OtaHomeAssistantNode);
};
