/** The settings of an ota-homeassistant node, read once from its config and checked. */
import { checkLabel, checkModule, checkTopicLevel, ProtocolError } from '../../protocol';

export interface HaSettings {
  /** HA's discovery prefix (`homeassistant` unless HA was told otherwise). */
  prefix: string;
  /** Where this node's state, attributes, command and availability topics live. */
  base: string;
  /** The devices exposed; undefined when no product key is chosen (nothing is published). */
  selection?: { productKey: string; module?: string; tag?: string };
  /** Messages per second the node publishes at most (configs, states, clears). */
  ratePerSecond: number;
  /** What HA publishes on a command topic to install. */
  payloadInstall: string;
}

export const DEFAULTS = { prefix: 'homeassistant', base: 'ota-homeassistant', ratePerSecond: 100 } as const;
export const PAYLOAD_INSTALL = 'install';
export const MAX_RATE = 10_000;

export interface HaConfig {
  prefix?: unknown;
  baseTopic?: unknown;
  productKey?: unknown;
  module?: unknown;
  tag?: unknown;
  rate?: unknown;
}

const blank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/** A topic of one or more levels without wildcards, as a prefix of the node's topics. */
export function checkTopicPrefix(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ProtocolError(field, 'a topic such as "homeassistant"', value);
  const levels = value.split('/');
  if (value.startsWith('/') || value.endsWith('/') || levels.some((l) => l === ''))
    throw new ProtocolError(field, 'topic levels without a leading, trailing or double "/"', value);
  levels.forEach((level) => checkTopicLevel(field, level));
  return value;
}

export function readHaSettings(config: HaConfig): HaSettings {
  const prefix = checkTopicPrefix(
    "the node's discovery prefix",
    blank(config.prefix) ? DEFAULTS.prefix : config.prefix,
  );
  const base = checkTopicPrefix("the node's base topic", blank(config.baseTopic) ? DEFAULTS.base : config.baseTopic);
  if (base === prefix || base.startsWith(`${prefix}/`))
    throw new ProtocolError("the node's base topic", `outside the discovery prefix "${prefix}"`, base);
  const rate = blank(config.rate) ? DEFAULTS.ratePerSecond : Number(config.rate);
  if (!Number.isInteger(rate) || rate < 1 || rate > MAX_RATE)
    throw new ProtocolError(
      "the node's rate",
      `a whole number of messages per second from 1 to ${MAX_RATE}`,
      config.rate,
    );
  const settings: HaSettings = { prefix, base, ratePerSecond: rate, payloadInstall: PAYLOAD_INSTALL };
  if (!blank(config.productKey)) {
    settings.selection = { productKey: checkTopicLevel("the node's product key", config.productKey) };
    if (!blank(config.module)) settings.selection.module = checkModule("the node's module", config.module);
    if (!blank(config.tag)) settings.selection.tag = checkLabel("the node's tag", config.tag);
  }
  return settings;
}
