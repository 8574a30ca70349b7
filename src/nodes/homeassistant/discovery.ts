/**
 * The retained discovery config of an update entity, as HA's MQTT Update platform reads it
 * (full key names; HA also accepts them abbreviated). Its state is JSON on `state_topic`
 * (state.ts); refusals and failed installs go to `json_attributes_topic` (attributes), so a
 * refused install never changes the entity's state.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { availabilityTopic, EntityRef, EntityTopics } from './entity';

export const AVAILABLE = 'online';
export const NOT_AVAILABLE = 'offline';

/** What published the entity, as HA lists it in the entity's MQTT info: name, version, where to ask. */
export const ORIGIN = originOf(resolve(__dirname, '..', '..', '..', '..', 'package.json'));

export function originOf(packageFile: string): { name: string; sw_version?: string; support_url: string } {
  const support_url = 'https://flows.nodered.org/node/@mqtt-ota/node-red-contrib-mqtt-ota';
  try {
    const { version } = JSON.parse(readFileSync(packageFile, 'utf8')) as { version?: unknown };
    if (typeof version === 'string') return { name: 'node-red-contrib-mqtt-ota', sw_version: version, support_url };
  } catch {
    // A package without its package.json (bundled elsewhere) still names itself.
  }
  return { name: 'node-red-contrib-mqtt-ota', support_url };
}

export interface DiscoveryInput {
  entity: EntityRef;
  objectId: string;
  topics: EntityTopics;
  base: string;
  payloadInstall: string;
  /** The version the module runs. */
  installedVersion: string;
}

export function discoveryConfig(input: DiscoveryInput): Record<string, unknown> {
  const { entity, objectId, topics } = input;
  const device: Record<string, unknown> = {
    identifiers: [`ota:${entity.productKey}/${entity.deviceName}`],
    name: entity.deviceName,
    model: entity.productKey,
  };
  // One HA device holds the entities of all its modules: only the default module's version is
  // the device's, or the device's sw_version would flip with whichever config came last.
  if (entity.module === 'default') device.sw_version = input.installedVersion;
  return {
    name: entity.module === 'default' ? 'Firmware' : `Firmware ${entity.module}`,
    unique_id: objectId,
    device_class: 'firmware',
    // What HA gives its own installable update entities: listed with the device's configuration.
    entity_category: 'config',
    state_topic: topics.state,
    json_attributes_topic: topics.attributes,
    command_topic: topics.command,
    payload_install: input.payloadInstall,
    availability: [
      { topic: availabilityTopic(input.base), payload_available: AVAILABLE, payload_not_available: NOT_AVAILABLE },
    ],
    qos: 1,
    device,
    origin: ORIGIN,
  };
}
