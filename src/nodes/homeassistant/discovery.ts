/**
 * The retained discovery config of an update entity, as HA's MQTT Update platform reads it
 * (full key names; HA also accepts them abbreviated). Its state is JSON on `state_topic`
 * (state.ts); refusals of an install go to `json_attributes_topic` (attributes), so a refused
 * install never changes the entity's state.
 */
import { availabilityTopic, EntityRef, EntityTopics } from './entity';

export const AVAILABLE = 'online';
export const NOT_AVAILABLE = 'offline';
export const ORIGIN = {
  name: 'node-red-contrib-mqtt-ota',
  url: 'https://flows.nodered.org/node/@mqtt-ota/node-red-contrib-mqtt-ota',
};

export interface DiscoveryInput {
  entity: EntityRef;
  objectId: string;
  topics: EntityTopics;
  base: string;
  payloadInstall: string;
  /** The version the device runs (the device block's sw_version). */
  installedVersion: string;
}

export function discoveryConfig(input: DiscoveryInput): Record<string, unknown> {
  const { entity, objectId, topics } = input;
  return {
    name: entity.module === 'default' ? 'Firmware' : `Firmware ${entity.module}`,
    unique_id: objectId,
    device_class: 'firmware',
    state_topic: topics.state,
    json_attributes_topic: topics.attributes,
    command_topic: topics.command,
    payload_install: input.payloadInstall,
    availability: [
      { topic: availabilityTopic(input.base), payload_available: AVAILABLE, payload_not_available: NOT_AVAILABLE },
    ],
    qos: 1,
    device: {
      identifiers: [`ota:${entity.productKey}/${entity.deviceName}`],
      name: entity.deviceName,
      model: entity.productKey,
      sw_version: input.installedVersion,
    },
    origin: ORIGIN,
  };
}
