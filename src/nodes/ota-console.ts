/**
 * ota-console: the runtime side of the editor's "OTA" sidebar tab (nodes/ota-console.html).
 * The tab reads and acts through the admin API; this plugin pushes it live updates over
 * Node-RED's comms channel: every fleet's events, coalesced (console-feed.ts), sent only to
 * editor users with `ota.read`.
 */
import type { NodeAPI } from 'node-red';
import { ConsoleFeed } from './console-feed';

/** One feed per runtime, even if Node-RED loads this module again (tests). */
const feeds = new WeakMap<object, ConsoleFeed>();

export = function (RED: NodeAPI) {
  RED.plugins.registerPlugin('ota-console', {
    type: 'ota-console',
    onadd() {
      feeds.get(RED.events)?.stop();
      const feed = new ConsoleFeed({
        events: RED.events,
        adminAuth: Boolean((RED.settings as unknown as { adminAuth?: unknown }).adminAuth),
        // RED.comms.publish reaches every editor; the runtime's "comms" event can address one session.
        publish: (topic, data, session) =>
          session === undefined
            ? RED.comms.publish(topic, data, false)
            : RED.events.emit('comms', { topic, data, retain: false, session }),
      });
      feeds.set(RED.events, feed);
      feed.start();
    },
  });
};
