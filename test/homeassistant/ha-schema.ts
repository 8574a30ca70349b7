/**
 * Home Assistant's MQTT Update discovery schema, written down from its documentation and its
 * `mqtt/update.py` (the update platform's keys, the MQTT entity keys every platform shares, the
 * device and origin blocks): which keys exist, their types and allowed values, and what is
 * required inside nested blocks. HA drops unknown keys silently; this validator reports them, so
 * a misspelt key fails a test instead of doing nothing in HA.
 */

type Check = (value: unknown) => string | undefined;

const isString: Check = (v) => (typeof v === 'string' ? undefined : 'a string');
const isBool: Check = (v) => (typeof v === 'boolean' ? undefined : 'a boolean');
const oneOf =
  (...allowed: unknown[]): Check =>
  (v) =>
    allowed.includes(v) ? undefined : `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
const stringOrNull: Check = (v) => (v === null || typeof v === 'string' ? undefined : 'a string or null');

/** A topic HA may publish to: no wildcards, no NUL, at most 65535 bytes, not empty. */
export const publishTopic: Check = (v) => {
  if (typeof v !== 'string' || v.length === 0) return 'a non-empty topic';
  if (/[+#]/.test(v) || v.includes('\u0000')) return 'a topic without +, # or NUL';
  return Buffer.byteLength(v) > 65535 ? 'a topic of at most 65535 bytes' : undefined;
};

/** A topic HA may subscribe to: `+` only as a whole level, `#` only as the whole last level. */
export const subscribeTopic: Check = (v) => {
  if (typeof v !== 'string' || v.length === 0 || v.includes('\u0000')) return 'a non-empty topic filter';
  const levels = v.split('/');
  const bad = levels.some(
    (l, i) => (l.includes('+') && l !== '+') || (l.includes('#') && (l !== '#' || i !== levels.length - 1)),
  );
  return bad ? 'a valid topic filter' : undefined;
};

const listOfStrings: Check = (v) =>
  Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : 'a list of strings';

const availabilityItem: Record<string, Check> = {
  topic: subscribeTopic,
  payload_available: isString,
  payload_not_available: isString,
  value_template: isString,
};

const deviceKeys: Record<string, Check> = {
  configuration_url: isString,
  connections: (v) =>
    Array.isArray(v) && v.every((c) => Array.isArray(c) && c.length === 2 && c.every((x) => typeof x === 'string'))
      ? undefined
      : 'a list of [type, id] pairs',
  hw_version: isString,
  identifiers: (v) => (typeof v === 'string' ? undefined : listOfStrings(v)),
  manufacturer: isString,
  model: isString,
  model_id: isString,
  name: isString,
  serial_number: isString,
  suggested_area: isString,
  sw_version: isString,
  via_device: isString,
};

const originKeys: Record<string, Check> = {
  name: isString,
  sw_version: isString,
  support_url: isString,
  url: isString,
};

/** The keys of an MQTT update entity's discovery config (full names). */
export const UPDATE_KEYS: Record<string, Check> = {
  availability: (v) => (Array.isArray(v) && v.length > 0 ? undefined : 'a non-empty list'),
  availability_mode: oneOf('all', 'any', 'latest'),
  availability_template: isString,
  availability_topic: subscribeTopic,
  command_topic: publishTopic,
  default_entity_id: isString,
  device: (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : 'an object'),
  device_class: oneOf('firmware'),
  enabled_by_default: isBool,
  encoding: isString,
  entity_category: oneOf('config', 'diagnostic'),
  entity_picture: isString,
  icon: isString,
  json_attributes_template: isString,
  json_attributes_topic: subscribeTopic,
  latest_version_template: isString,
  latest_version_topic: subscribeTopic,
  name: stringOrNull,
  object_id: isString,
  origin: (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : 'an object'),
  payload_available: isString,
  payload_install: isString,
  payload_not_available: isString,
  qos: oneOf(0, 1, 2),
  release_summary: isString,
  release_url: isString,
  retain: isBool,
  state_topic: subscribeTopic,
  title: isString,
  unique_id: isString,
  value_template: isString,
};

function checkKeys(where: string, value: Record<string, unknown>, keys: Record<string, Check>, problems: string[]) {
  for (const [key, v] of Object.entries(value)) {
    const check = keys[key];
    if (!check) problems.push(`${where}${key} is not a key HA knows`);
    else {
      const wrong = check(v);
      if (wrong) problems.push(`${where}${key} must be ${wrong}, got ${JSON.stringify(v)}`);
    }
  }
}

/** The problems of a discovery config by HA's schema (empty when HA takes it as it is). */
export function discoveryProblems(config: unknown): string[] {
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    return ['the config must be a JSON object'];
  const c = config as Record<string, unknown>;
  const problems: string[] = [];
  checkKeys('', c, UPDATE_KEYS, problems);
  if (c.availability !== undefined && c.availability_topic !== undefined)
    problems.push('availability and availability_topic must not be used together');
  if (Array.isArray(c.availability)) {
    c.availability.forEach((item, i) => {
      if (item === null || typeof item !== 'object') return problems.push(`availability[${i}] must be an object`);
      const a = item as Record<string, unknown>;
      if (a.topic === undefined) problems.push(`availability[${i}].topic is required`);
      checkKeys(`availability[${i}].`, a, availabilityItem, problems);
    });
  }
  if (c.device && typeof c.device === 'object') {
    const d = c.device as Record<string, unknown>;
    checkKeys('device.', d, deviceKeys, problems);
    if (d.identifiers === undefined && d.connections === undefined)
      problems.push('device needs identifiers or connections');
    if (c.unique_id === undefined) problems.push('a device block only works with a unique_id');
  }
  if (c.origin && typeof c.origin === 'object') {
    const o = c.origin as Record<string, unknown>;
    checkKeys('origin.', o, originKeys, problems);
    if (o.name === undefined) problems.push('origin.name is required');
  }
  if (c.payload_install !== undefined && c.command_topic === undefined)
    problems.push('payload_install without a command_topic is never sent');
  return problems;
}

/** The problems of a JSON state payload, by the keys HA's update platform reads from it. */
export function stateProblems(state: unknown): string[] {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) return ['the state must be a JSON object'];
  const problems: string[] = [];
  checkKeys('', state as Record<string, unknown>, STATE_KEYS, problems);
  return problems;
}

const STATE_KEYS: Record<string, Check> = {
  installed_version: stringOrNull,
  latest_version: stringOrNull,
  title: isString,
  release_summary: (v) => (typeof v === 'string' && v.length <= 255 ? undefined : 'a string of at most 255 characters'),
  release_url: stringOrNull,
  entity_picture: isString,
  in_progress: isBool,
  update_percentage: (v) =>
    v === null || (typeof v === 'number' && v >= 0 && v <= 100) ? undefined : 'a number from 0 to 100, or null',
};

/** What this project requires of each config on top of HA's schema: an entity HA can install from. */
export const REQUIRED_KEYS = [
  'name',
  'unique_id',
  'device_class',
  'state_topic',
  'command_topic',
  'payload_install',
  'availability',
  'device',
  'json_attributes_topic',
] as const;
