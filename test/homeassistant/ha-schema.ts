/**
 * Home Assistant's MQTT Update schemas, written down from its source (homeassistant/components/
 * mqtt: update.py, schemas.py, config.py, util.py, and helpers/config_validation.py), to test what
 * this package publishes against what HA does with it:
 *
 * - The discovery config (update.py DISCOVERY_SCHEMA): a top-level key HA does not know is dropped
 *   silently (vol.REMOVE_EXTRA); a wrong value anywhere, or an unknown key inside `device`,
 *   `origin` or an `availability` item (plain vol.Schema), refuses the whole config: no entity.
 * - The JSON state (update.py MQTT_JSON_UPDATE_SCHEMA): one unknown key or wrong value and HA drops
 *   the whole message, versions included ("Schema violation after processing payload").
 *
 * Every such case is a problem here. So is a value HA takes only by coercing it (cv.string turns
 * 1 into "1", valid_qos_schema turns "1" into 1): this package writes each key in its own type.
 * Abbreviated keys (HA expands `dev`, `o`, `url`, …) are reported too: this package writes full names.
 */

/** A check of one value: undefined when HA takes it as it is, else what it must be. */
type Check = (value: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const string: Check = (v) => (typeof v === 'string' ? undefined : 'a string');
const stringOrNull: Check = (v) => (v === null ? undefined : string(v));
const template = string;
const boolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
const oneOf =
  (...allowed: unknown[]): Check =>
  (v) =>
    allowed.includes(v) ? undefined : `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
const positiveInt: Check = (v) => (Number.isInteger(v) && (v as number) >= 0 ? undefined : 'a whole number from 0');
const icon: Check = (v) => (typeof v === 'string' && v.includes(':') ? undefined : 'an icon such as "mdi:update"');

/** cv.url: an absolute http or https URL. */
export const url: Check = (v) => {
  if (typeof v !== 'string') return 'an http(s) URL';
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' ? undefined : 'an http(s) URL';
  } catch {
    return 'an http(s) URL';
  }
};
/** cv.configuration_url: an http(s) URL, or a `homeassistant://` path. */
const configurationUrl: Check = (v) => (typeof v === 'string' && v.startsWith('homeassistant://') ? undefined : url(v));

/** util.valid_topic: UTF-8 of 1 to 65535 bytes, without NUL, control characters or non-characters. */
function topicProblem(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0) return 'a non-empty topic';
  if (Buffer.byteLength(v) > 65535) return 'a topic of at most 65535 bytes';
  for (const ch of v) {
    const c = ch.codePointAt(0) as number;
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return 'a topic without control characters';
    if ((c >= 0xfdd0 && c <= 0xfdef) || (c & 0xffff) >= 0xfffe) return 'a topic without non-characters';
    if (c >= 0xd800 && c <= 0xdfff) return 'a topic of valid UTF-8';
  }
  return undefined;
}

/** util.valid_publish_topic: a topic HA publishes to, without wildcards. */
export const publishTopic: Check = (v) =>
  topicProblem(v) ?? (/[+#]/.test(v as string) ? 'a topic without + or #' : undefined);

/** util.valid_subscribe_topic: `+` only as a whole level, `#` only as the whole last level. */
export const subscribeTopic: Check = (v) => {
  const wrong = topicProblem(v);
  if (wrong) return wrong;
  const levels = (v as string).split('/');
  const bad = levels.some(
    (l, i) => (l.includes('+') && l !== '+') || (l.includes('#') && (l !== '#' || i !== levels.length - 1)),
  );
  return bad ? 'a valid topic filter' : undefined;
};

/** schemas.py MQTT_ENTITY_DEVICE_INFO_SCHEMA (no other key: one refuses the config). */
const DEVICE_KEYS: Record<string, Check> = {
  identifiers: (v) =>
    typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))
      ? undefined
      : 'a string or a list of strings',
  connections: (v) =>
    Array.isArray(v) && v.every((c) => Array.isArray(c) && c.length === 2 && c.every((x) => typeof x === 'string'))
      ? undefined
      : 'a list of [type, id] pairs',
  manufacturer: string,
  model: string,
  model_id: string,
  name: string,
  hw_version: string,
  serial_number: string,
  sw_version: string,
  via_device: string,
  suggested_area: string,
  configuration_url: configurationUrl,
};

/** schemas.py MQTT_ORIGIN_INFO_SCHEMA: name required; no other key (`url` is only an abbreviation). */
const ORIGIN_KEYS: Record<string, Check> = {
  name: string,
  sw_version: string,
  support_url: configurationUrl,
};

/** schemas.py MQTT_AVAILABILITY_LIST_SCHEMA, one item. */
const AVAILABILITY_ITEM_KEYS: Record<string, Check> = {
  topic: subscribeTopic,
  payload_available: string,
  payload_not_available: string,
  value_template: template,
};

/**
 * update.py PLATFORM_SCHEMA_MODERN: config.py MQTT_RO_SCHEMA, the update keys, and schemas.py
 * MQTT_ENTITY_COMMON_SCHEMA (availability, device, origin and the keys every entity shares).
 */
export const UPDATE_KEYS: Record<string, Check> = {
  // MQTT_RO_SCHEMA
  qos: oneOf(0, 1, 2),
  encoding: string,
  state_topic: subscribeTopic,
  value_template: template,
  // the update platform
  command_topic: publishTopic,
  device_class: oneOf('firmware', null),
  display_precision: positiveInt,
  entity_picture: string,
  latest_version_template: template,
  latest_version_topic: subscribeTopic,
  name: stringOrNull,
  payload_install: string,
  release_summary: string,
  release_url: string,
  retain: boolean,
  title: string,
  // MQTT_ENTITY_COMMON_SCHEMA
  availability: (v) => (Array.isArray(v) ? undefined : 'a list'),
  availability_mode: oneOf('all', 'any', 'latest'),
  availability_template: template,
  availability_topic: subscribeTopic,
  payload_available: string,
  payload_not_available: string,
  device: (v) => (isObject(v) ? undefined : 'an object'),
  origin: (v) => (isObject(v) ? undefined : 'an object'),
  default_entity_id: string,
  enabled_by_default: boolean,
  entity_category: oneOf('config', 'diagnostic'),
  icon,
  json_attributes_topic: subscribeTopic,
  json_attributes_template: template,
  object_id: string,
  unique_id: string,
};

/** update.py MQTT_JSON_UPDATE_SCHEMA: the keys a JSON state may have. */
export const STATE_KEYS: Record<string, Check> = {
  installed_version: string,
  latest_version: string,
  title: string,
  release_summary: string,
  release_url: url,
  entity_picture: url,
  in_progress: boolean,
  update_percentage: (v) =>
    v === null || (typeof v === 'number' && v >= 0 && v <= 100) ? undefined : 'a number from 0 to 100, or null',
};

/** Some of HA's abbreviations (abbreviations.py), to say what a short key stands for. */
const ABBREVIATIONS: Record<string, string> = {
  avty: 'availability',
  avty_t: 'availability_topic',
  cmd_t: 'command_topic',
  dev: 'device',
  dev_cla: 'device_class',
  ent_cat: 'entity_category',
  json_attr_t: 'json_attributes_topic',
  o: 'origin',
  pl_avail: 'payload_available',
  pl_not_avail: 'payload_not_available',
  stat_t: 'state_topic',
  t: 'topic',
  uniq_id: 'unique_id',
  ids: 'identifiers',
  mdl: 'model',
  mf: 'manufacturer',
  sw: 'sw_version',
  url: 'support_url',
};

/** What is wrong with the keys of `value`; `unknown` says what HA does with a key it does not know. */
function checkKeys(
  where: string,
  value: Record<string, unknown>,
  keys: Record<string, Check>,
  unknown: string,
  problems: string[],
): void {
  for (const [key, v] of Object.entries(value)) {
    const check = keys[key];
    if (check) {
      const wrong = check(v);
      if (wrong) problems.push(`${where}${key} must be ${wrong}, got ${JSON.stringify(v)}`);
    } else if (ABBREVIATIONS[key] && keys[ABBREVIATIONS[key]]) {
      problems.push(`${where}${key} is HA's abbreviation of ${ABBREVIATIONS[key]}: this package writes full names`);
    } else {
      problems.push(`${where}${key} is not a key HA knows (${unknown})`);
    }
  }
}

const DROPPED = 'dropped silently';
const REFUSED = 'the whole config is refused';

/** The problems of a discovery config by HA's schema (empty when HA takes it as it is). */
export function discoveryProblems(config: unknown): string[] {
  if (!isObject(config)) return ['the config must be a JSON object'];
  const problems: string[] = [];
  checkKeys('', config, UPDATE_KEYS, DROPPED, problems);
  if (config.availability !== undefined && config.availability_topic !== undefined)
    problems.push('availability and availability_topic must not be used together');
  if (Array.isArray(config.availability)) {
    config.availability.forEach((item, i) => {
      if (!isObject(item)) return problems.push(`availability[${i}] must be an object`);
      if (item.topic === undefined) problems.push(`availability[${i}].topic is required`);
      checkKeys(`availability[${i}].`, item, AVAILABILITY_ITEM_KEYS, REFUSED, problems);
    });
  }
  if (isObject(config.device)) {
    const d = config.device;
    checkKeys('device.', d, DEVICE_KEYS, REFUSED, problems);
    const has = (v: unknown) => (Array.isArray(v) ? v.length > 0 : typeof v === 'string' && v !== '');
    if (!has(d.identifiers) && !has(d.connections))
      problems.push("device must have at least one identifying value in 'identifiers' and/or 'connections'");
    // HA links an entity to a device only through the entity registry, which needs a unique_id.
    if (config.unique_id === undefined) problems.push('a device block only works with a unique_id');
  }
  if (isObject(config.origin)) {
    checkKeys('origin.', config.origin, ORIGIN_KEYS, REFUSED, problems);
    if (config.origin.name === undefined) problems.push('origin.name is required');
  }
  if (config.payload_install !== undefined && config.command_topic === undefined)
    problems.push('payload_install without a command_topic is never sent');
  return problems;
}

/** The problems of a JSON state payload by MQTT_JSON_UPDATE_SCHEMA (any one: HA drops the message). */
export function stateProblems(state: unknown): string[] {
  if (!isObject(state)) return ['the state must be a JSON object'];
  const problems: string[] = [];
  checkKeys('', state, STATE_KEYS, 'the whole message is dropped', problems);
  return problems;
}

/** HA cuts release_summary to this many characters (code points) when it shows it. */
export const HA_MAX_SUMMARY = 255;

/** What this project requires of each config on top of HA's schema: an entity HA can install from. */
export const REQUIRED_KEYS = [
  'name',
  'unique_id',
  'device_class',
  'entity_category',
  'state_topic',
  'command_topic',
  'payload_install',
  'availability',
  'device',
  'origin',
  'json_attributes_topic',
] as const;
