/**
 * The platform side wired as a user would: core mqtt nodes in and out around ota-inform,
 * ota-progress and ota-push on one fleet, and the batch events published to `test/events`.
 * The broker node keeps a persistent session (clean session off, QoS 1 subscriptions), so
 * reports made while Node-RED restarts are delivered when it is back.
 */
import { freshId } from './flow';

export interface PlatformFlow {
  flows: object[];
  fleetId: string;
  pushId: string;
}

export function platformFlow(
  broker: { host: string; port: number },
  fleetSettings: Record<string, unknown> = {},
): PlatformFlow {
  const tab = freshId();
  const brokerId = freshId();
  const fleetId = freshId();
  const informId = freshId();
  const progressId = freshId();
  const pushId = freshId();
  const outId = freshId();
  const eventsId = freshId();
  const flows = [
    { id: tab, type: 'tab', label: 'OTA platform' },
    {
      id: brokerId,
      type: 'mqtt-broker',
      name: 'test broker',
      broker: broker.host,
      port: String(broker.port),
      clientid: `ota-platform-${fleetId}`,
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '30',
      cleansession: false,
    },
    {
      id: fleetId,
      type: 'ota-fleet',
      name: 'durable fleet',
      requireVerification: false,
      publicUrl: '',
      urlExpiryHours: 24,
      maxPackageMB: 1000,
      ...fleetSettings,
    },
    {
      id: freshId(),
      type: 'mqtt in',
      z: tab,
      topic: '/ota/device/inform/+/+',
      qos: '1',
      datatype: 'buffer',
      broker: brokerId,
      wires: [[informId]],
    },
    {
      id: freshId(),
      type: 'mqtt in',
      z: tab,
      topic: '/ota/device/progress/+/+',
      qos: '1',
      datatype: 'buffer',
      broker: brokerId,
      wires: [[progressId]],
    },
    { id: informId, type: 'ota-inform', z: tab, role: 'platform', fleet: fleetId, wires: [[]] },
    { id: progressId, type: 'ota-progress', z: tab, role: 'platform', fleet: fleetId, wires: [[]] },
    { id: pushId, type: 'ota-push', z: tab, fleet: fleetId, wires: [[outId], [eventsId]] },
    { id: outId, type: 'mqtt out', z: tab, topic: '', qos: '', retain: '', broker: brokerId, wires: [] },
    {
      id: eventsId,
      type: 'mqtt out',
      z: tab,
      topic: 'test/events',
      qos: '1',
      retain: 'false',
      broker: brokerId,
      wires: [],
    },
  ];
  return { flows, fleetId, pushId };
}
