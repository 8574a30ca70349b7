/**
 * Malformed messages for the fuzz tests, as fast-check arbitraries. Every case is invalid by
 * construction — one defect on an otherwise well-formed message, plus harmless noise (extra
 * fields, other encodings) — and carries the refusal it must get: the field the error names.
 * The generators restate the rules of docs/protocol.md and docs/node-contracts.md; they never ask
 * the code under test whether a message is valid.
 */
import fc from 'fast-check';

/** One malformed message and the refusal it must get. */
export interface FuzzCase {
  /** What is wrong, for failure reports and statistics. */
  defect: string;
  /** The message properties fed to the node (topic, payload, notice, action, …). */
  msg: Record<string, unknown>;
  /** The error text must match this (usually `ProtocolError: <field> must be|is required`). */
  names: RegExp;
  /** The error code it must carry. */
  code: 'OTA_BAD_MESSAGE' | 'OTA_NOT_FOUND' | 'OTA_REFUSED';
}

/** What the generators know about the fleet under test, so some messages aim at real devices and batches. */
export interface FuzzTarget {
  productKey: string;
  /** Devices that exist in the fleet (and have tasks). */
  devices: string[];
  /** A batch that exists and is running. */
  batchId: number;
  /** A firmware in the catalog. */
  firmwareId: string;
}

/** The JSON size limit of docs/protocol.md: larger payloads are refused before parsing. */
export const MAX_JSON_BYTES = 64 * 1024;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The refusal of a field: `ProtocolError: <field> must be …` or `… is required: …`; with `under`,
 * of the field or one inside it (`<field>[2]`, `<field>.x`).
 */
export function refusalOf(field: string, under = false): RegExp {
  return new RegExp(`^ProtocolError: ${escape(field)}${under ? '(\\[\\d+\\])?(\\..*?)?' : ''} (must be|is required)`);
}

/** Any refusal of the topic (the whole topic, or its product key or device name level). */
export const TOPIC_REFUSAL = /^ProtocolError: (msg\.topic|the (productKey|deviceName) level of msg\.topic) must be/;

// ---- the rules, restated ---------------------------------------------------------------------

// eslint-disable-next-line no-control-regex -- control characters are what the rule is about
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A label (version, module): 1–64 printable characters, no `"` or `\`, well-formed UTF-16. */
export function isLabel(s: string): boolean {
  return s.length >= 1 && s.length <= 64 && !CONTROL.test(s) && s.isWellFormed() && !/["\\]/.test(s);
}

/** One MQTT topic level (product key, device name): 1–64 characters, no `/ + #` or NUL, well-formed. */
export function isTopicLevel(s: string): boolean {
  // eslint-disable-next-line no-control-regex -- NUL is refused
  return s.length >= 1 && s.length <= 64 && !/[/+#\u0000]/.test(s) && s.isWellFormed();
}

/** An integer as the protocol accepts it: a number, or a decimal string of up to 15 digits. */
function isIntegerText(s: string): boolean {
  return /^-?\d{1,15}$/.test(s.trim());
}

// ---- building blocks ----------------------------------------------------------------------------

/** Names that attack a store, a shell, a template or a path, yet are one valid topic level. */
export const INJECTION_NAMES = [
  "x' OR '1'='1",
  "'; DROP TABLE devices; --",
  '" OR ""="',
  'Robert"); DELETE FROM tasks; --',
  '$(reboot)',
  '`id`',
  '; rm -rf ~',
  '<svg onload=alert(1)>',
  '<img src=x onerror=alert(1)>',
  '{{7*7}}',
  '${jndi:ldap:x}',
  '..',
  '.',
  '%2e%2e%2f',
  '..\\..\\windows\\win.ini',
  'dev\r\nX-Injected: 1',
  '\u202etxt.exe',
  'ＤＲＯＰ',
  '__proto__',
  'constructor',
  'NaN',
  ' ',
];

if (!INJECTION_NAMES.every(isTopicLevel)) throw new Error('INJECTION_NAMES must all be valid topic levels');

/** Names that are not one topic level (they split or widen a topic). */
const BAD_LEVELS: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '+', '#', 'a+b', 'dev#1', 'x\u0000y', '\u0000', '\ud800', 'a\udc00b', 'x'.repeat(65)),
  fc.string({ minLength: 65, maxLength: 300 }),
  fc
    .tuple(fc.string({ maxLength: 20 }), fc.constantFrom('+', '#', '\u0000', '\ud83d'), fc.string({ maxLength: 20 }))
    .map(([a, bad, b]) => a + bad + b),
);

/** Names that contain a `/`: they add levels to the topic. */
const SLASHED_NAMES = fc.oneof(
  fc.constantFrom('../../etc/passwd', '/', 'a/b', '..%2f/x', '/etc/shadow', 'pk/dev/../../x'),
  fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => `${a}/${b}`),
);

export function topicLevel(target: FuzzTarget, kind: 'productKey' | 'deviceName'): fc.Arbitrary<string> {
  const known = kind === 'productKey' ? [target.productKey] : target.devices;
  return fc.oneof(
    { arbitrary: fc.constantFrom(...known), weight: 3 },
    { arbitrary: fc.constantFrom(...INJECTION_NAMES), weight: 2 },
    { arbitrary: fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }).filter(isTopicLevel), weight: 2 },
    { arbitrary: fc.string({ minLength: 1, maxLength: 64, unit: 'binary' }).filter(isTopicLevel), weight: 1 },
  );
}

export const label: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('1.0.0', '1-45-345a', 'res-1.2.5', 'v2', '2.0.0'),
  fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }).filter(isLabel),
);

/** A value nested `depth` levels deep in arrays and objects. */
export function nested(depth: number, leaf: unknown = 'x'): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 ? { a: value } : [value];
  return value;
}

// In a parsed payload (what `mqtt in` hands over in its default mode) deep nesting stays below what
// Node-RED's own message cloning survives; deeper payloads are sent as text (see the node tests).
const DEEP = fc.integer({ min: 2, max: 1000 }).map((d) => nested(d));

const anyJson = fc.jsonValue({ maxDepth: 3 });

/** Not an object (any other JSON value or nothing). */
const notObject = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(anyJson, { maxLength: 4 }),
  DEEP.filter((v) => Array.isArray(v)),
);

/** Not a string, and not "absent" either (null and undefined mean absent for optional fields). */
const notString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.array(anyJson, { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 }),
  DEEP,
);

const loneSurrogate = fc
  .tuple(fc.string({ maxLength: 20 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 20 }))
  .map(([a, code, b]) => a + String.fromCharCode(code) + b)
  .filter((s) => !s.isWellFormed());

/** A string that breaks the label rule (length, control characters, quotes, broken UTF-16). */
const badLabelText = fc.oneof(
  fc.string({ minLength: 65, maxLength: 400 }),
  fc.integer({ min: 65, max: 70_000 }).map((n) => 'v'.repeat(n)),
  fc
    .tuple(
      label,
      fc.integer({ min: 0, max: 0x9f }).filter((c) => c < 0x20 || c >= 0x7f),
      fc.nat(64),
    )
    .map(([l, c, at]) => {
      const i = at % (l.length + 1);
      return l.slice(0, i) + String.fromCharCode(c) + l.slice(i);
    }),
  fc.tuple(fc.string({ maxLength: 30 }), fc.constantFrom('"', '\\')).map(([s, q]) => s.slice(0, 30) + q),
  loneSurrogate,
);

/** A version that is not one: absent (null), not a string, empty, or breaking the label rule. */
const badVersion = fc.oneof(fc.constant(null), fc.constant(''), notString, badLabelText);
/** A module that is not one (absent, null and "" mean `default`, so they are not defects). */
const badModule = fc.oneof(notString, badLabelText, fc.constant(false), fc.constant(0));
/** A message id that is not one: ids are numbers or strings of up to 64 characters. */
const badId = fc.oneof(
  fc.boolean(),
  fc.array(anyJson, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 }),
  fc.string({ minLength: 65, maxLength: 300 }),
  DEEP,
);
const goodId = fc.option(fc.oneof(fc.integer(), fc.string({ maxLength: 64 })), { nil: undefined });

/**
 * An integer field that is out of `min..max`, not whole, or not a number at all. Never null or
 * "" (which mean "absent", a defect only where the field is required).
 */
function badInteger(min: number, max: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.maxSafeInteger().filter((n) => n < min || n > max),
    fc.integer({ min: 1, max: 1000 }).map((n) => max + n),
    fc.integer({ min: 1, max: 1000 }).map((n) => min - n),
    fc.double({ min, max, noNaN: true }).filter((n) => !Number.isInteger(n)),
    fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !isIntegerText(s)),
    fc.constantFrom('1.5', '0x10', '1e2', '--1', '+-3', ' ', 'NaN', 'Infinity', '١٢'),
    fc.integer({ min: 1, max: 1000 }).map((n) => String(max + n)),
    fc.boolean(),
    fc.array(fc.integer({ min, max: Math.min(max, 2 ** 31 - 1) }), { minLength: 1, maxLength: 2 }),
    fc.dictionary(fc.string({ maxLength: 5 }), anyJson, { maxKeys: 2 }),
  );
}

/** Optional text that is not: not a string (null means absent), too long, or broken UTF-16. */
function badText(max: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    notString,
    fc.integer({ min: max + 1, max: max + 3000 }).map((n) => 'd'.repeat(n)),
    loneSurrogate,
  );
}

/** Extra fields that no parser reads: harmless noise on top of the one defect. */
const RESERVED = new Set([
  'id',
  'params',
  'version',
  'module',
  'step',
  'desc',
  'method',
  'fileToken',
  'fileInfo',
  'fileBlock',
  'streamId',
  'fileId',
  'size',
  'offset',
  'message',
  'data',
  'code',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
]);
const noiseKey = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 12 }),
    fc.constantFrom('deviceName', 'productKey', 'batchId', 'state', 'sql'),
  )
  .filter((k) => !RESERVED.has(k));
const noise = fc.dictionary(noiseKey, fc.oneof(anyJson, fc.constantFrom(...INJECTION_NAMES)), { maxKeys: 3 });

// ---- bodies with one defect ---------------------------------------------------------------------

type Body = Record<string, unknown>;

/** Where a defect goes: a path in the body, and whether leaving the field out is a defect too. */
interface Slot {
  path: string[];
  bad: fc.Arbitrary<unknown>;
  /** Absent is a defect (the field is required). */
  required?: boolean;
}

const DELETE = Symbol('delete');

function setPath(body: Body, path: string[], value: unknown): Body {
  const copy = structuredClone(body);
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Body;
  const last = path[path.length - 1];
  if (value === DELETE) delete at[last];
  else at[last] = value;
  return copy;
}

/** A body from `base` with exactly one slot broken, and noise added at the top and in `params`. */
function withDefect(
  base: fc.Arbitrary<Body>,
  slots: Slot[],
): fc.Arbitrary<{ body: Body; field: string; defect: string }> {
  const broken = fc.oneof(
    ...slots.map((slot) =>
      fc.record({
        slot: fc.constant(slot),
        value: slot.required
          ? fc.oneof({ arbitrary: fc.constant<unknown>(DELETE), weight: 1 }, { arbitrary: slot.bad, weight: 4 })
          : slot.bad,
      }),
    ),
  );
  return fc.tuple(base, broken, noise, noise).map(([body, { slot, value }, top, inParams]) => {
    let out: Body = { ...top, ...body };
    if (out.params && typeof out.params === 'object' && !Array.isArray(out.params))
      out.params = { ...inParams, ...(out.params as Body) };
    out = setPath(out, slot.path, value);
    const field = slot.path.join('.');
    return { body: out, field, defect: `${field} ${value === DELETE ? 'missing' : describeValue(value)}` };
  });
}

function describeValue(v: unknown): string {
  if (v === null) return '= null';
  if (Array.isArray(v)) return '= an array';
  if (typeof v === 'string') return v.length > 64 ? `= a string of ${v.length}` : `= ${JSON.stringify(v).slice(0, 40)}`;
  return `= a ${typeof v}`;
}

const T1_BASE: fc.Arbitrary<Body> = fc
  .record({
    id: goodId,
    version: label,
    module: fc.option(fc.oneof(label, fc.constantFrom('default', '')), { nil: undefined }),
  })
  .map(({ id, version, module }) => ({
    ...(id === undefined ? {} : { id }),
    params: module === undefined ? { version } : { version, module },
  }));

const T1_SLOTS: Slot[] = [
  { path: ['params'], bad: notObject, required: true },
  { path: ['id'], bad: badId },
  { path: ['params', 'version'], bad: badVersion, required: true },
  { path: ['params', 'module'], bad: badModule },
];

const STEP = fc.oneof(fc.integer({ min: -4, max: 100 }), fc.integer({ min: -4, max: 100 }).map(String));

const T3_BASE: fc.Arbitrary<Body> = fc
  .record({
    id: goodId,
    step: STEP,
    desc: fc.option(fc.string({ maxLength: 100 }), { nil: undefined }),
    module: fc.option(label, { nil: undefined }),
  })
  .map(({ id, ...params }) => ({ ...(id === undefined ? {} : { id }), params: JSON.parse(JSON.stringify(params)) }));

const T3_SLOTS: Slot[] = [
  { path: ['params'], bad: notObject, required: true },
  { path: ['id'], bad: badId },
  { path: ['params', 'step'], bad: fc.oneof(badInteger(-4, 100), fc.constantFrom(null, '')), required: true },
  { path: ['params', 'desc'], bad: badText(4096) },
  { path: ['params', 'module'], bad: badModule },
];

const T4_BASE: fc.Arbitrary<Body> = fc.oneof(
  goodId.map((id) => ({ ...(id === undefined ? {} : { id }), params: {} })),
  fc.record({ id: fc.integer(), module: label }).map(({ id, module }) => ({
    id: String(id),
    version: '1.0',
    params: { module },
    method: 'thing.ota.firmware.get',
  })),
);

const T4_SLOTS: Slot[] = [
  { path: ['params'], bad: notObject.filter((v) => v !== null) },
  { path: ['id'], bad: badId },
  {
    path: ['method'],
    bad: fc.oneof(
      fc.constant(null),
      notString,
      fc.string({ maxLength: 30 }).filter((s) => s !== 'thing.ota.firmware.get'),
      fc.constant('thing.ota.firmware.GET'),
    ),
  },
  { path: ['params', 'module'], bad: badModule },
];

const T6_BASE: fc.Arbitrary<Body> = fc
  .record({
    id: fc.integer({ min: 0, max: 1e6 }).map(String),
    fileToken: fc.option(
      fc.string({ maxLength: 64 }).filter((s) => s.isWellFormed()),
      { nil: undefined },
    ),
    streamId: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    size: fc.integer({ min: 1, max: 128 * 1024 }),
    offset: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ id, fileToken, streamId, size, offset }) => ({
    id,
    version: '1.0',
    params: {
      ...(fileToken === undefined ? {} : { fileToken }),
      fileInfo: { streamId, fileId: 1 },
      fileBlock: { size, offset },
    },
  }));

const T6_SLOTS: Slot[] = [
  { path: ['params'], bad: notObject, required: true },
  { path: ['params', 'fileInfo'], bad: notObject, required: true },
  { path: ['params', 'fileBlock'], bad: notObject, required: true },
  { path: ['id'], bad: badId },
  {
    path: ['params', 'fileInfo', 'streamId'],
    bad: fc.oneof(badInteger(0, 2 ** 31 - 1), fc.constant(null)),
    required: true,
  },
  {
    path: ['params', 'fileInfo', 'fileId'],
    bad: fc.oneof(badInteger(0, 2 ** 31 - 1), fc.constant(null)),
    required: true,
  },
  {
    path: ['params', 'fileBlock', 'size'],
    bad: fc.oneof(badInteger(1, 128 * 1024), fc.constant(null)),
    required: true,
  },
  { path: ['params', 'fileBlock', 'offset'], bad: fc.oneof(badInteger(0, 2 ** 40), fc.constant(null)), required: true },
  { path: ['params', 'fileToken'], bad: badText(64) },
];

// T8 (iotkit 3.x) carries a T1 body; one with `message` and `data` and no `params` is the
// platform's own answer heard back, dropped on purpose, so no noise ever adds those keys.
const T8_SLOTS = T1_SLOTS;

export type DeviceTopic = 'T1' | 'T3' | 'T4' | 'T6' | 'T8';
type OtherTopic = 'T2' | 'T5' | 'T7';

const TOPIC: Record<DeviceTopic | OtherTopic, (pk: string, dn: string) => string> = {
  T1: (pk, dn) => `/ota/device/inform/${pk}/${dn}`,
  T2: (pk, dn) => `/ota/device/upgrade/${pk}/${dn}`,
  T3: (pk, dn) => `/ota/device/progress/${pk}/${dn}`,
  T4: (pk, dn) => `/sys/${pk}/${dn}/thing/ota/firmware/get`,
  T5: (pk, dn) => `/sys/${pk}/${dn}/thing/ota/firmware/get_reply`,
  T6: (pk, dn) => `/sys/${pk}/${dn}/thing/file/download`,
  T7: (pk, dn) => `/sys/${pk}/${dn}/thing/file/download_reply`,
  T8: (pk, dn) => `/ota/device/request/${pk}/${dn}`,
};

const BODIES: Record<DeviceTopic, { base: fc.Arbitrary<Body>; slots: Slot[] }> = {
  T1: { base: T1_BASE, slots: T1_SLOTS },
  T3: { base: T3_BASE, slots: T3_SLOTS },
  T4: { base: T4_BASE, slots: T4_SLOTS },
  T6: { base: T6_BASE, slots: T6_SLOTS },
  T8: { base: T1_BASE, slots: T8_SLOTS },
};

// ---- payload encodings --------------------------------------------------------------------------

type Form = 'string' | 'buffer' | 'object';
const FORMS: Form[] = ['string', 'buffer', 'object'];

/** A body as `mqtt in` can hand it over: text, bytes, or already parsed. */
function encode(body: unknown, form: Form, pollute = false): unknown {
  if (form === 'object') return body;
  let text = JSON.stringify(body);
  // A `__proto__` key in the text: JSON.parse makes it a plain own property; nothing may be polluted.
  if (pollute && text.startsWith('{') && text.length > 2) text = `{"__proto__":{"polluted":"yes"},${text.slice(1)}`;
  else if (pollute && text === '{}') text = '{"__proto__":{"polluted":"yes"}}';
  return form === 'string' ? text : Buffer.from(text, 'utf8');
}

function byteLength(payload: unknown): number {
  if (Buffer.isBuffer(payload)) return payload.length;
  if (typeof payload === 'string') return Buffer.byteLength(payload, 'utf8');
  return 0;
}

/** Bytes that are never valid UTF-8, whatever surrounds them at an ASCII boundary. */
const INVALID_UTF8: number[][] = [
  [0xff],
  [0xfe],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
  [0xc3, 0x28],
];

function spliceInvalidUtf8(bytes: Buffer, at: number, seq: number[]): Buffer {
  // Insert at an ASCII byte (or the end), so the sequence can never complete a character.
  let i = at % (bytes.length + 1);
  while (i < bytes.length && bytes[i] >= 0x80) i++;
  return Buffer.concat([bytes.subarray(0, i), Buffer.from(seq), bytes.subarray(i)]);
}

/** Where a deeply nested value breaks each kind of body, and the field that says so. */
const DEEP_FIELD: Record<DeviceTopic, string[]> = {
  T1: ['params', 'version'],
  T3: ['params', 'step'],
  T4: ['params', 'module'],
  T6: ['params', 'fileInfo'],
  T8: ['params', 'version'],
};

/**
 * Whole-payload defects for a topic: wrong types, not JSON, not an object, bad bytes, too big,
 * too deep. `field` is what the node calls the payload (`msg.payload`, or `msg.notice`).
 */
function payloadDefects(
  kind: DeviceTopic,
  field = 'msg.payload',
): fc.Arbitrary<{ payload: unknown; defect: string; names: RegExp }> {
  const { base } = BODIES[kind];
  const whole = (c: { payload: unknown; defect: string }) => ({ ...c, names: refusalOf(field) });
  return fc.oneof(
    fc
      .oneof(
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(anyJson, { maxLength: 5 }),
        fc.constant(new Date(0)),
        fc.constant(new Map([['params', { version: '1' }]])),
      )
      .map((payload) =>
        whole({
          payload,
          defect: `payload of type ${Array.isArray(payload) ? 'array' : payload === null ? 'null' : typeof payload}`,
        }),
      ),
    fc
      .oneof(
        fc.string({ maxLength: 200 }).filter((s) => !s.trimStart().startsWith('{')),
        fc.string({ maxLength: 200, unit: 'binary' }).filter((s) => !s.trimStart().startsWith('{')),
        anyJson.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => JSON.stringify(v)),
        fc.constantFrom(
          '{',
          '{}}',
          "{'params':{'version':'1'}}",
          '{params:{version:"1"}}',
          '{"params":{"version":"1"}',
          '{"params":}',
          '{"a":1}{"b":2}',
        ),
      )
      .chain((text) =>
        fc
          .constantFrom<Form>('string', 'buffer')
          .map((form) =>
            whole({ payload: form === 'string' ? text : Buffer.from(text, 'utf8'), defect: 'not a JSON object' }),
          ),
      ),
    // A byte order mark is skipped in bytes (UTF-8 decoding drops it) but is not JSON in a string.
    base.map((body) => whole({ payload: `\ufeff${JSON.stringify(body)}`, defect: 'a string starting with a BOM' })),
    fc.tuple(base, fc.nat()).map(([body, cut]) => {
      const text = JSON.stringify(body);
      return whole({ payload: text.slice(0, cut % text.length), defect: 'truncated JSON' });
    }),
    fc.tuple(base, fc.nat(), fc.constantFrom(...INVALID_UTF8)).map(([body, at, seq]) =>
      whole({
        payload: spliceInvalidUtf8(Buffer.from(JSON.stringify(body), 'utf8'), at, seq),
        defect: `invalid UTF-8 ${Buffer.from(seq).toString('hex')}`,
      }),
    ),
    fc
      .uint8Array({ minLength: 0, maxLength: 512 })
      .map((bytes) => whole({ payload: Buffer.concat([Buffer.from([0xff]), bytes]), defect: 'binary' })),
    fc
      .tuple(
        base,
        fc.integer({ min: MAX_JSON_BYTES + 1, max: 4 * MAX_JSON_BYTES }),
        fc.constantFrom<Form>('string', 'buffer'),
      )
      .map(([body, size, form]) =>
        whole({
          payload: encode({ ...body, padding: 'p'.repeat(size) }, form),
          defect: `${size} bytes of otherwise valid JSON`,
        }),
      ),
    fc.tuple(fc.integer({ min: 1001, max: 30_000 }), fc.constantFrom<Form>('string', 'buffer')).map(([depth, form]) => {
      const text = '['.repeat(depth) + ']'.repeat(depth);
      return whole({ payload: form === 'string' ? text : Buffer.from(text), defect: `an array nested ${depth} deep` });
    }),
    fc
      .tuple(base, fc.integer({ min: 1001, max: 30_000 }), fc.constantFrom<Form>('string', 'buffer'))
      .map(([body, depth, form]) => {
        const path = DEEP_FIELD[kind];
        const marker = '"__deep__"';
        const text = JSON.stringify(setPath(body, path, '__deep__')).replace(
          marker,
          '['.repeat(depth) + ']'.repeat(depth),
        );
        // Inside a notice the envelope is checked first: its code is missing.
        const names = field === 'msg.payload' ? refusalOf(path.join('.')) : refusalOf(field, true);
        return {
          payload: form === 'string' ? text : Buffer.from(text),
          defect: `${path.join('.')} nested ${depth} deep`,
          names,
        };
      }),
  );
}

// ---- device messages into the platform-role ingress nodes ---------------------------------------

function deviceTopic(target: FuzzTarget, kind: DeviceTopic | OtherTopic): fc.Arbitrary<string> {
  return fc
    .tuple(topicLevel(target, 'productKey'), topicLevel(target, 'deviceName'))
    .map(([pk, dn]) => TOPIC[kind](pk, dn));
}

/** Topics that are none of the accepted kinds: wrong types, near misses, bad levels. */
function badTopics(target: FuzzTarget, accepted: DeviceTopic[]): fc.Arbitrary<{ topic: unknown; defect: string }> {
  const others = (Object.keys(TOPIC) as (DeviceTopic | OtherTopic)[]).filter(
    (k) => !accepted.includes(k as DeviceTopic),
  );
  const anyAccepted = fc.constantFrom(...accepted);
  const dn = target.devices[0];
  const pk = target.productKey;
  return fc.oneof(
    fc
      .oneof(
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(fc.string(), { maxLength: 3 }),
        fc.constant({ topic: TOPIC.T1(pk, dn) }),
        fc.constant(Buffer.from(TOPIC.T1(pk, dn))),
      )
      .map((topic) => ({ topic, defect: 'topic of the wrong type' })),
    fc
      .string({ maxLength: 120 })
      .filter((s) => !s.startsWith('/'))
      .map((topic) => ({ topic, defect: 'not a topic' })),
    fc
      .constantFrom(
        '',
        '/',
        `/ota/device/inform/${pk}`,
        `/ota/device/inform/${pk}/${dn}/`,
        `/ota/device/inform/${pk}/${dn}/extra`,
        `/ota/device/Inform/${pk}/${dn}`,
        `ota/device/inform/${pk}/${dn}`,
        `//ota/device/inform/${pk}/${dn}`,
        `/ota/device/inform/+/+`,
        `/ota/device/inform/#`,
        `/ota/device/progress/${pk}/+`,
        `/sys/${pk}/${dn}/thing/ota/firmware`,
        `/sys/${pk}/${dn}/thing/ota/firmware/get/x`,
        `/sys/${pk}/${dn}/things/file/download`,
        `/sys/${pk}/${dn}/thing/file/download/`,
        `/sys/${pk}/thing/file/download`,
        `$SYS/broker/clients`,
        ` /ota/device/inform/${pk}/${dn}`,
      )
      .map((topic) => ({ topic, defect: 'a near miss' })),
    fc
      .constantFrom(...others)
      .chain((kind) => deviceTopic(target, kind).map((topic) => ({ topic, defect: `a ${kind} topic` }))),
    fc
      .tuple(anyAccepted, fc.boolean(), BAD_LEVELS, topicLevel(target, 'deviceName'))
      .map(([kind, inKey, bad, good]) => ({
        topic: inKey ? TOPIC[kind](bad, good) : TOPIC[kind](pk, bad),
        defect: `a ${kind} topic with a bad level`,
      })),
    fc.tuple(anyAccepted, fc.boolean(), SLASHED_NAMES).map(([kind, inKey, bad]) => ({
      topic: inKey ? TOPIC[kind](bad, dn) : TOPIC[kind](pk, bad),
      defect: `a ${kind} topic with a "/" in a name`,
    })),
  );
}

/** Properties a platform-role node must ignore: it trusts only the topic. */
const msgNoise = fc.record(
  {
    productKey: fc.constantFrom('pk-spoofed', "'; --"),
    deviceName: fc.constantFrom('dev-spoofed', '../x'),
    batchId: fc.integer(),
    action: fc.constant('cancel'),
    qos: fc.constantFrom(0, 1, 2),
    retain: fc.boolean(),
  },
  { requiredKeys: [] },
);

/**
 * Malformed messages for a platform-role ingress node accepting `accepted` topics
 * (ota-inform: T1 T4 T6 T8; ota-progress: T3).
 */
export function deviceMessageCases(target: FuzzTarget, accepted: DeviceTopic[]): fc.Arbitrary<FuzzCase> {
  const kind = fc.constantFrom(...accepted);
  const topicDefect = fc
    .tuple(
      badTopics(target, accepted),
      kind.chain((k) => BODIES[k].base),
      fc.constantFrom(...FORMS),
      msgNoise,
    )
    .map(([t, body, form, extra]) => ({
      defect: `topic: ${t.defect}`,
      msg: { ...extra, topic: t.topic, payload: encode(body, form) },
      names: TOPIC_REFUSAL,
      code: 'OTA_BAD_MESSAGE' as const,
    }));
  const payloadDefect = kind.chain((k) =>
    fc.tuple(deviceTopic(target, k), payloadDefects(k), msgNoise).map(([topic, p, extra]) => ({
      defect: `${k} payload: ${p.defect}`,
      msg: { ...extra, topic, payload: p.payload },
      names: p.names,
      code: 'OTA_BAD_MESSAGE' as const,
    })),
  );
  const fieldDefect = kind.chain((k) =>
    fc
      .tuple(
        deviceTopic(target, k),
        withDefect(BODIES[k].base, BODIES[k].slots),
        fc.constantFrom(...FORMS),
        fc.boolean(),
        msgNoise,
      )
      .map(([topic, d, form, pollute, extra]) => {
        const payload = encode(d.body, form, pollute);
        const oversized = byteLength(payload) > MAX_JSON_BYTES;
        return {
          defect: `${k} ${form}: ${d.defect}${oversized ? ' (oversized)' : ''}`,
          msg: { ...extra, topic, payload },
          names: refusalOf(oversized ? 'msg.payload' : d.field),
          code: 'OTA_BAD_MESSAGE' as const,
        };
      }),
  );
  return fc.oneof(
    { arbitrary: topicDefect, weight: 2 },
    { arbitrary: payloadDefect, weight: 2 },
    { arbitrary: fieldDefect, weight: 6 },
  );
}

// ---- firmware descriptors (ota-push direct push, notices for ota-verify) -----------------------

export const HEX32 = fc.stringMatching(/^[0-9a-f]{32}$/);
const HEX64 = fc.stringMatching(/^[0-9a-f]{64}$/);

/** A valid descriptor of an external package: `{version, url, size, signMethod, sign, md5}`. */
export const DESCRIPTOR: fc.Arbitrary<Body> = fc
  .record({
    version: label,
    size: fc.integer({ min: 1, max: 2 ** 31 }),
    md5: HEX32,
    path: fc.webPath(),
  })
  .map(({ version, size, md5, path }) => ({
    version,
    url: `https://cdn.example.com/fw${path}`,
    size,
    signMethod: 'Md5',
    sign: md5,
    md5,
  }));

const RESERVED_TAGS = [
  'version',
  'size',
  'url',
  'signMethod',
  'sign',
  'module',
  'dProtocol',
  'streamId',
  'streamFileId',
  'files',
  'extData',
];

/** One broken field of a descriptor, each a mutation of a valid one. */
const DESCRIPTOR_DEFECTS: { field: string; mutate: fc.Arbitrary<(d: Body) => Body> }[] = [
  {
    field: 'version',
    mutate: fc.oneof(fc.constant<unknown>(DELETE), badVersion).map((v) => (d: Body) => setPath(d, ['version'], v)),
  },
  {
    field: 'size',
    mutate: fc
      .oneof(fc.constant<unknown>(DELETE), fc.constant(null), badInteger(1, Number.MAX_SAFE_INTEGER))
      .map((v) => (d: Body) => setPath(d, ['size'], v)),
  },
  {
    field: 'signMethod',
    mutate: fc
      .oneof(
        fc.constant(null),
        notString,
        fc.constantFrom('MD4', 'sha1', 'SHA-512', 'Sha512', 'crc32', ''),
        fc.string({ maxLength: 10 }).filter((s) => !/^(md5|sha256|sha-256)$/i.test(s)),
      )
      .map((v) => (d: Body) => setPath(d, ['signMethod'], v)),
  },
  {
    field: 'sign',
    mutate: fc
      .oneof(
        notString,
        fc.string({ maxLength: 70 }).filter((s) => !/^[0-9a-fA-F]{32}$/.test(s)),
        HEX64,
        HEX32.map((h) => h.slice(1) + 'g'),
      )
      .map((v) => (d: Body) => setPath(setPath(d, ['md5'], DELETE), ['sign'], v)),
  },
  {
    field: 'sign',
    mutate: HEX32.map(
      (other) => (d: Body) =>
        other === d.md5
          ? setPath(d, ['sign'], 'f'.repeat(31) + (d.md5 === 'f'.repeat(32) ? 'e' : 'f'))
          : setPath(d, ['sign'], other),
    ),
  },
  {
    field: 'md5',
    mutate: fc
      .oneof(
        notString,
        fc.constant(null),
        fc.string({ maxLength: 40 }).filter((s) => !/^[0-9a-fA-F]{32}$/.test(s)),
      )
      .map((v) => (d: Body) => setPath(d, ['md5'], v)),
  },
  {
    field: 'url',
    mutate: fc
      .oneof(
        fc.constant<unknown>(DELETE),
        fc.constant(null),
        notString,
        fc.constantFrom(
          'ftp://x/fw.bin',
          'javascript:alert(1)',
          'file:///etc/passwd',
          'http://',
          'http://a b/c',
          '//cdn/x',
          'https:/x',
          '../fw.bin',
          'data:,x',
          '',
        ),
        fc.integer({ min: 4090, max: 6000 }).map((n) => `https://x/${'a'.repeat(n)}`),
      )
      .map((v) => (d: Body) => setPath(d, ['url'], v)),
  },
  {
    field: 'extData',
    mutate: fc
      .oneof(
        fc.oneof(fc.string(), fc.integer(), fc.array(fc.string(), { minLength: 0, maxLength: 2 }), fc.boolean()),
        fc.constantFrom(...RESERVED_TAGS).map((k) => ({ [k]: 'x' })),
        fc
          .tuple(
            fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !RESERVED_TAGS.includes(k) && !RESERVED.has(k)),
            notString,
          )
          .map(([k, v]) => ({ [k]: v })),
        fc
          .integer({ min: 65, max: 100 })
          .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`tag${i}`, 'v']))),
      )
      .map((v) => (d: Body) => setPath(d, ['extData'], v)),
  },
  {
    field: 'isDiff',
    mutate: fc
      .oneof(fc.constantFrom('yes', 'true', 2, -1, '0', {}, []), fc.string({ minLength: 2, maxLength: 5 }))
      .map((v) => (d: Body) => setPath(d, ['isDiff'], v)),
  },
  {
    field: 'digestsign',
    mutate: fc
      .oneof(
        notString,
        fc.constantFrom('', '!!!', 'not base64 at all', 'YWJj\u0000', 'a'.repeat(1025)),
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /[^A-Za-z0-9+/=]/.test(s)),
      )
      .map((v) => (d: Body) => setPath(d, ['digestsign'], v)),
  },
  {
    field: 'files',
    mutate: fc
      .oneof(
        fc.constant([]),
        notString.filter((v) => !Array.isArray(v)),
        fc.integer({ min: 21, max: 30 }).map((n) =>
          Array.from({ length: n }, (_, i) => ({
            fileName: `f${i}`,
            fileSize: 1,
            fileUrl: 'https://x/f',
            fileSign: 'a'.repeat(32),
          })),
        ),
        fc.constantFrom(
          [{ fileName: 'a', fileSize: 1, fileUrl: 'https://x/a' }],
          [{ fileName: 'a', fileSize: 0, fileUrl: 'https://x/a', fileSign: 'a'.repeat(32) }],
          [{ fileName: 'a', fileSize: 1, fileUrl: 'ftp://x/a', fileSign: 'a'.repeat(32) }],
          ['https://x/a'],
          [null],
        ),
      )
      .map((v) => (d: Body) => setPath(d, ['files'], v)),
  },
  {
    field: 'dProtocol',
    mutate: fc
      .oneof(
        fc.constantFrom('ftp', 'https', 'MQTTS', 1),
        fc.string({ maxLength: 6 }).filter((s) => s.toLowerCase() !== 'mqtt'),
      )
      .map((v) => (d: Body) => setPath(d, ['dProtocol'], v)),
  },
  {
    field: 'streamId',
    mutate: fc
      .oneof(badInteger(0, 2 ** 31 - 1), fc.constant(null))
      .map((v) => (d: Body) => setPath(setPath(d, ['dProtocol'], 'mqtt'), ['streamId'], v)),
  },
  { field: 'module', mutate: badModule.map((v) => (d: Body) => setPath(d, ['module'], v)) },
];

/** A descriptor with exactly one broken field, refused naming `<prefix>.<field>`. */
export function badDescriptor(prefix: string): fc.Arbitrary<{ descriptor: Body; names: RegExp; defect: string }> {
  return fc.oneof(
    ...DESCRIPTOR_DEFECTS.map(({ field, mutate }) =>
      fc.tuple(DESCRIPTOR, mutate).map(([d, m]) => ({
        descriptor: m(d),
        names: refusalOf(`${prefix}.${field}`, true),
        defect: `descriptor ${field}`,
      })),
    ),
  );
}

// ---- ota-verify (device role): a package and the notice it came with ---------------------------

/**
 * Malformed input for a device-role ota-verify configured with a product key and device name:
 * a broken notice (T2, T5, descriptor; parsed, text or bytes), a missing or empty package, or a
 * device that is not one topic level. `packageFile` is a readable file, `dir` a directory.
 */
export function verifyCases(paths: { missingFile: string; dir: string }): fc.Arbitrary<FuzzCase> {
  const pkg = fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((b) => Buffer.from(b));
  const t2 = DESCRIPTOR.map((data) => ({ code: '1000', data, id: Date.now(), message: 'success' }));
  const t5 = DESCRIPTOR.map((data) => ({ id: '7', code: 200, data }));
  const goodNotice = fc.oneof(t2, t5, DESCRIPTOR);
  const ok = (c: Omit<FuzzCase, 'code'>): FuzzCase => ({ ...c, code: 'OTA_BAD_MESSAGE' });

  const brokenData = fc
    .tuple(
      fc.constantFrom('T2', 'T5'),
      badDescriptor('msg.notice.data'),
      fc.constantFrom<Form>('object', 'string', 'buffer'),
      pkg,
    )
    .map(([kind, bad, form, payload]) => {
      const notice =
        kind === 'T2'
          ? { code: '1000', data: bad.descriptor, id: 1, message: 'success' }
          : { id: 1, code: 200, data: bad.descriptor };
      const encoded = encode(notice, form);
      const oversized = byteLength(encoded) > MAX_JSON_BYTES;
      return ok({
        defect: `${kind} ${form}: ${bad.defect}`,
        msg: { payload, notice: encoded },
        names: oversized ? refusalOf('msg.notice') : bad.names,
      });
    });
  const brokenDescriptor = fc
    .tuple(badDescriptor('msg.notice'), pkg)
    .filter(([bad]) => !('code' in bad.descriptor))
    .map(([bad, payload]) => ok({ defect: bad.defect, msg: { payload, notice: bad.descriptor }, names: bad.names }));
  const brokenEnvelope = fc.oneof(
    fc
      .tuple(
        t2,
        fc.oneof(
          fc.constant(null),
          fc.constantFrom('1001', '0', 'success', 404, '', true),
          fc.string({ maxLength: 6 }).filter((s) => !['1000', '200'].includes(s)),
        ),
        pkg,
      )
      .map(([n, code, payload]) =>
        ok({ defect: 'notice code', msg: { payload, notice: { ...n, code } }, names: refusalOf('msg.notice.code') }),
      ),
    fc
      .tuple(t2, fc.oneof(fc.constant(null), fc.constantFrom('fail', 'Success', ''), notString), pkg)
      .map(([n, message, payload]) =>
        ok({
          defect: 'notice message',
          msg: { payload, notice: { ...n, message } },
          names: refusalOf('msg.notice.message'),
        }),
      ),
    fc.tuple(fc.constantFrom('1000', 200), notObject, pkg).map(([code, data, payload]) =>
      ok({
        defect: 'notice data',
        msg: { payload, notice: { code, data, id: 1 } },
        names: refusalOf('msg.notice.data'),
      }),
    ),
    fc
      .tuple(t2, badId, pkg)
      .map(([n, id, payload]) =>
        ok({ defect: 'notice id', msg: { payload, notice: { ...n, id } }, names: refusalOf('msg.notice.id') }),
      ),
    pkg.map((payload) =>
      ok({
        defect: 'T5 with nothing pending',
        msg: { payload, notice: { id: 1, code: 200, data: {} } },
        names: refusalOf('msg.notice'),
      }),
    ),
  );
  const brokenWhole = fc.oneof(
    fc
      .tuple(
        fc.oneof(
          fc.integer(),
          fc.boolean(),
          fc.constant(null),
          fc.constant(undefined),
          fc.array(anyJson, { maxLength: 3 }),
        ),
        pkg,
      )
      .map(([notice, payload]) =>
        ok({ defect: 'notice of the wrong type', msg: { payload, notice }, names: refusalOf('msg.notice') }),
      ),
    fc
      .tuple(
        payloadDefects('T1', 'msg.notice').filter((p) => typeof p.payload === 'string' || Buffer.isBuffer(p.payload)),
        pkg,
      )
      .map(([p, payload]) =>
        ok({ defect: `notice: ${p.defect}`, msg: { payload, notice: p.payload }, names: p.names }),
      ),
  );
  const brokenPackage = fc
    .tuple(
      goodNotice,
      fc.oneof(
        fc
          .record({
            payload: fc.oneof(
              fc.constant(undefined),
              fc.constant(null),
              fc.string(),
              fc.integer(),
              fc.array(fc.nat(255)),
              fc.constant(new Uint8Array(4)),
            ),
          })
          .map((m) => ({ m, field: 'msg.payload' })),
        fc.constant({ m: { payload: Buffer.alloc(0) }, field: 'msg.payload' }),
        fc
          .constantFrom(paths.missingFile, paths.dir, `${paths.dir}/../nope/x.bin`, `${paths.missingFile}\u0000.bin`)
          .map((filename) => ({ m: { payload: 'not bytes', filename }, field: 'msg.filename' })),
      ),
    )
    .map(([notice, { m, field }]) =>
      ok({ defect: `package: ${field}`, msg: { ...m, notice }, names: refusalOf(field) }),
    );
  const brokenDevice = fc
    .tuple(
      goodNotice,
      pkg,
      fc.constantFrom('productKey', 'deviceName'),
      fc.oneof(
        BAD_LEVELS.filter((s) => s !== ''),
        SLASHED_NAMES,
        notString,
      ),
    )
    .map(([notice, payload, key, bad]) =>
      ok({ defect: `msg.${key} not one level`, msg: { payload, notice, [key]: bad }, names: refusalOf(`msg.${key}`) }),
    );
  return fc.oneof(
    { arbitrary: brokenData, weight: 4 },
    { arbitrary: brokenDescriptor, weight: 2 },
    { arbitrary: brokenEnvelope, weight: 2 },
    { arbitrary: brokenWhole, weight: 2 },
    { arbitrary: brokenPackage, weight: 1 },
    { arbitrary: brokenDevice, weight: 1 },
  );
}

// ---- ota-push: garbage controls, batch requests and direct pushes --------------------------------

const VALID_ACTIONS = ['cancel', 'pause', 'resume', 'confirm', 'reupgrade'];

/** A batch request to an existing firmware and devices, valid but for one defect, and the refusal. */
export function badBatchRequest(
  target: FuzzTarget,
  prefix = '',
): fc.Arbitrary<{ request: Body; names: RegExp; defect: string; code: FuzzCase['code'] }> {
  const base = (): Body => ({
    firmwareId: target.firmwareId,
    type: 'static',
    targets: { selection: 'SPECIFIC', productKey: target.productKey, devices: target.devices.slice(0, 3) },
    strategy: { retryCount: 1, retryInterval: 1 },
  });
  const field = (name: string, value: fc.Arbitrary<unknown>, path = name.split('.'), build: () => Body = base) =>
    value.map((v) => ({
      request: setPath(build(), path, v),
      names: refusalOf(`${prefix}${name}`, true),
      defect: `batch ${name} ${describeValue(v)}`,
      code: 'OTA_BAD_MESSAGE' as const,
    }));
  const withTargets = (targets: Body) => () => ({ ...base(), targets: { productKey: target.productKey, ...targets } });
  // Finite numbers only: a request may travel as JSON, where Infinity becomes null (absent, valid).
  const badNumber = (min: number, max: number) =>
    fc.oneof(
      fc.constantFrom(min - 1, max + 1, 'abc', true, [], {}),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => n < min || n > max),
    );
  return fc.oneof(
    field(
      'type',
      fc.oneof(
        fc.constantFrom('Static ', 'upgrade', 'all', 0, true, [], {}),
        fc
          .string({ minLength: 1, maxLength: 10 })
          .filter((s) => !['verify', 'static', 'dynamic'].includes(s.toLowerCase())),
      ),
    ),
    field(
      'firmwareId',
      fc.oneof(fc.constantFrom('', 0, 1, true, [], { $gt: '' }, null), fc.string({ minLength: 65, maxLength: 100 })),
    ),
    fc
      .string({ minLength: 1, maxLength: 64 })
      .filter((id) => id !== target.firmwareId)
      .map((id) => ({
        request: { ...base(), firmwareId: id },
        names: /^FleetError: no firmware "/,
        defect: 'batch firmwareId unknown',
        code: 'OTA_NOT_FOUND' as const,
      })),
    field(
      'targets',
      fc.oneof(fc.constantFrom('ALL', 1, true, null, []), fc.array(fc.string(), { minLength: 1, maxLength: 2 })),
    ),
    field(
      'targets.selection',
      fc.oneof(
        fc.constantFrom('all ', 'SOME', 'GREY', 1, true, []),
        fc
          .string({ minLength: 1, maxLength: 8 })
          .filter((s) => !['all', 'specific', 'gray', 'group'].includes(s.toLowerCase())),
      ),
    ),
    field('targets.productKey', fc.oneof(BAD_LEVELS, SLASHED_NAMES, fc.constantFrom(1, true, {}, []))),
    field(
      'targets.devices',
      fc.oneof(
        fc.constantFrom([], 5, true, {}, [''], ['a/b'], ['+'], ['#'], [1], [null]),
        fc.array(SLASHED_NAMES, { minLength: 1, maxLength: 3 }),
      ),
    ),
    field(
      'targets.percent',
      fc.oneof(
        fc.constantFrom(undefined, 0, -1, 101, 'half', [], {}),
        fc.double({ noNaN: true }).filter((n) => !(n >= 0.001 && n <= 100)),
      ),
      ['targets', 'percent'],
      withTargets({ selection: 'GRAY' }),
    ),
    field('targets.tag', badVersion, ['targets', 'tag'], withTargets({ selection: 'GROUP' })),
    field(
      'targets.srcVersions',
      fc.oneof(
        fc.constantFrom(5, true, {}),
        fc.array(label, { minLength: 11, maxLength: 15 }),
        fc.array(badLabelText, { minLength: 1, maxLength: 2 }),
      ),
    ),
    field('strategy', fc.constantFrom('fast', 1, true, [])),
    field('strategy.maximumPerMinute', badInteger(1, 1_000_000)),
    field('strategy.retryCount', badInteger(0, 10)),
    field('strategy.retryInterval', badNumber(0, 1440)),
    field('strategy.timeoutInMinutes', badNumber(0.01, 1440)),
    field('strategy.overwrite', fc.constantFrom('merge', 'KEEPS', 1, true, [])),
    field('strategy.needConfirm', fc.constantFrom('yes', 'no', 2, [], {})),
    field('strategy.downloadProtocol', fc.constantFrom('ftp', 'http', 'coap', 1, [])),
    field(
      'strategy.scheduleStart',
      fc.constantFrom('not a date', 'tomorrow', '2026-13-45T99:99:99Z', -1, true, [], {}),
    ),
    field('strategy.scheduleFinish', fc.constant(Date.UTC(2030, 0, 1)), ['strategy', 'scheduleFinish'], () => ({
      ...base(),
      strategy: { scheduleStart: Date.UTC(2030, 0, 2) },
    })),
    field('strategy.abort', fc.constantFrom('50%', 5, true, [])),
    field('strategy.abort.failurePercent', badNumber(0.001, 100), ['strategy', 'abort', 'failurePercent'], () => ({
      ...base(),
      strategy: { abort: {} },
    })),
    field(
      'strategy.waves',
      fc.constantFrom(
        [],
        [50, 20],
        'x',
        [0],
        [5, 5],
        Array.from({ length: 21 }, (_, i) => i + 1),
      ),
    ),
    field('strategy.waveSuccessPercent', badNumber(0, 100)),
    field('strategy.extData', fc.oneof(fc.constantFrom('x', 1, []), fc.constant({ tag: 5 }))),
  );
}

/** Malformed input for ota-push bound to a fleet: controls, batch requests and direct pushes. */
export function pushCases(target: FuzzTarget): fc.Arbitrary<FuzzCase> {
  const { batchId, productKey, devices } = target;
  const bad = (c: Omit<FuzzCase, 'code'> & { code?: FuzzCase['code'] }): FuzzCase => ({
    code: 'OTA_BAD_MESSAGE',
    ...c,
  });
  const badBatchId = fc.oneof(
    fc.constantFrom(0, -1, 1.5, '1.5', 'abc', '', ' 1', '0x1', true, [], {}, null, undefined, Infinity, NaN),
    fc.string({ maxLength: 10 }).filter((s) => !/^\d+$/.test(s)),
    fc.integer({ max: 0 }),
  );
  const controls = fc.oneof(
    fc.tuple(fc.constantFrom(...VALID_ACTIONS), badBatchId).map(([action, id]) =>
      bad({
        defect: `${action} with batchId ${describeValue(id)}`,
        msg: { action, batchId: id },
        names: refusalOf('msg.batchId'),
      }),
    ),
    fc
      .tuple(
        fc.constantFrom(...VALID_ACTIONS),
        fc.integer({ min: 1, max: 1e6 }).map((n) => batchId + n),
      )
      .map(([action, id]) =>
        bad({
          defect: `${action} of an unknown batch`,
          msg: { action, batchId: id },
          names: /^FleetError: no batch \d+/,
          code: 'OTA_NOT_FOUND',
        }),
      ),
    fc
      .oneof(
        fc.constantFrom(
          'Cancel',
          'CANCEL',
          ' cancel',
          'cancel ',
          'delete',
          'drop table batches',
          '',
          'null',
          'undefined',
          'reupgrade;cancel',
          'start',
        ),
        fc.string({ maxLength: 20 }).filter((s) => !VALID_ACTIONS.includes(s) && s !== 'tag'),
        // Objects without a prototype (no toString) are left to the BUG test in test/reliability/fuzz-nodes.
        fc.oneof(
          fc.integer(),
          fc.boolean(),
          fc.constant(null),
          fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 2, noNullPrototype: true }),
        ),
        fc.array(
          fc.string({ maxLength: 8 }).filter((s) => !VALID_ACTIONS.includes(s)),
          { minLength: 2, maxLength: 3 },
        ),
      )
      .map((action) =>
        bad({ defect: `action ${describeValue(action)}`, msg: { action, batchId }, names: refusalOf('action') }),
      ),
    fc
      .tuple(
        fc.constantFrom(...VALID_ACTIONS),
        fc.constantFrom('productKey', 'deviceName'),
        fc.oneof(
          BAD_LEVELS.filter((s) => s !== ''),
          SLASHED_NAMES,
          notString,
        ),
      )
      .map(([action, key, value]) =>
        bad({
          defect: `${action} with a bad msg.${key}`,
          msg: { action, batchId, productKey, deviceName: devices[0], [key]: value },
          names: refusalOf(`msg.${key}`),
        }),
      ),
    fc
      .tuple(
        fc.constantFrom(...VALID_ACTIONS),
        fc.oneof(
          fc.constantFrom([], 5, 'dev', {}, true),
          fc.array(fc.oneof(BAD_LEVELS, SLASHED_NAMES, fc.constant(null), fc.integer()), {
            minLength: 1,
            maxLength: 3,
          }),
        ),
      )
      .map(([action, list]) =>
        bad({
          defect: `${action} with bad msg.devices`,
          msg: { action, batchId, devices: list },
          names: refusalOf('msg.devices', true),
        }),
      ),
    fc
      .tuple(
        fc.constantFrom(...VALID_ACTIONS),
        fc.oneof(
          fc.constantFrom('FOO', 'SUCCEEDED', 'FAILED', 'CANCELED', 'queued', 1, null, {}),
          fc.array(fc.constantFrom('FOO', 'done', 'SUCCEEDED', 3), { minLength: 1, maxLength: 3 }),
        ),
      )
      .map(([action, states]) =>
        bad({
          defect: `${action} with msg.states ${describeValue(states)}`,
          msg: { action, batchId, states },
          names: refusalOf('msg.states', true),
        }),
      ),
    fc
      .oneof(fc.constantFrom(undefined, 'a', 5, {}, null), fc.constantFrom([''], [5], ['x'.repeat(65)], [null], [true]))
      .map((tags) =>
        bad({
          defect: `tag with msg.tags ${describeValue(tags)}`,
          msg: { action: 'tag', tags, productKey, deviceName: devices[0] },
          names: refusalOf('msg.tags'),
        }),
      ),
  );
  const batches = badBatchRequest(target).map((b) => ({
    defect: b.defect,
    msg: { payload: b.request },
    names: b.names,
    code: b.code,
  }));
  const pushes = fc.oneof(
    fc
      .oneof(
        fc.string({ maxLength: 30 }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(anyJson, { maxLength: 3 }),
        fc.constant(Buffer.from('{"version":"2"}')),
      )
      .map((payload) =>
        bad({
          defect: `direct push of ${describeValue(payload)}`,
          msg: { payload, productKey, deviceName: devices[0] },
          names: refusalOf('msg.payload'),
        }),
      ),
    fc.tuple(badDescriptor('msg.payload'), fc.constantFrom(...devices)).map(([b, deviceName]) =>
      bad({
        defect: `direct push: ${b.defect}`,
        msg: { payload: b.descriptor, productKey, deviceName },
        names: b.names,
      }),
    ),
    fc
      .tuple(
        DESCRIPTOR,
        fc.oneof(
          fc.constant({ m: { productKey }, field: 'msg.deviceName' }),
          fc
            .oneof(BAD_LEVELS, SLASHED_NAMES)
            .map((dn) => ({ m: { productKey, deviceName: dn }, field: 'msg.deviceName' })),
          fc
            .oneof(BAD_LEVELS, SLASHED_NAMES)
            .map((pk) => ({ m: { productKey: pk, deviceName: devices[0] }, field: 'msg.productKey' })),
          fc.constant({ m: { deviceName: devices[0] }, field: 'msg.productKey' }),
          fc
            .constantFrom([], 'dev-1', 5, {})
            .map((list) => ({ m: { productKey, devices: list }, field: 'msg.devices' })),
          fc
            .array(fc.oneof(BAD_LEVELS, SLASHED_NAMES, fc.constant(null), fc.integer()), { minLength: 1, maxLength: 3 })
            .map((list) => ({ m: { productKey, devices: list }, field: 'msg.' })),
        ),
      )
      .map(([payload, { m, field }]) =>
        bad({
          defect: `direct push to a bad device (${field})`,
          msg: { payload, ...m },
          names: field === 'msg.' ? /^ProtocolError: msg\.(productKey|devices)/ : refusalOf(field),
        }),
      ),
  );
  return fc.oneof(
    { arbitrary: controls, weight: 3 },
    { arbitrary: batches, weight: 4 },
    { arbitrary: pushes, weight: 3 },
  );
}
