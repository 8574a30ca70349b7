/**
 * What is wrong with a Chinese text of the editor, in two checks shared by the browser walk and
 * the catalog tests. English left in it: a word of Latin letters that is neither an identifier (it
 * has a digit, a dot, a slash, an underscore, a colon, a # or an inner capital: `msg.productKey`,
 * `T1`, `SHA-256`, `IN_PROGRESS`, `productKey`) nor on the allow-list below, the names a Chinese
 * IoT console keeps in Latin letters too. Typography: full-width punctuation in Chinese sentences,
 * with no space beside it and none between two Chinese characters.
 */

/** Protocols, formats, products and units, the platform's field and state names, this package's node types. */
export const ALLOWED_WORDS: ReadonlySet<string> = new Set([
  // protocols, formats and the platform's own terms, as Alibaba Cloud's Chinese console writes them
  'OTA',
  'MQTT',
  'Topic',
  'QoS',
  'ProductKey',
  'DeviceName',
  'JSON',
  'CSV',
  'URL',
  'HTTP',
  'HTTPS',
  'http',
  'https',
  'API',
  'ID',
  'SDK',
  'Link',
  'iotkit-embedded',
  'SHA',
  'HMAC',
  'Ed',
  'PKCS',
  'SPKI',
  'DER',
  'base',
  'Unix',
  'NAT',
  'Buffer',
  'Catch',
  'Node-RED',
  'SQLite',
  'README',
  'PUT',
  'node-red-contrib-mqtt-ota',
  // units
  'B',
  'KiB',
  'MiB',
  'GiB',
  'TiB',
  'MB',
  // the editor's state and setting names, shown as the API spells them
  'CONFIRM',
  'QUEUED',
  'NOTIFIED',
  'SUCCEEDED',
  'FAILED',
  'CANCELED',
  'PLANNED',
  'PAUSED',
  'COMPLETED',
  'NORMAL',
  'FULL',
  'default',
  'digestsign',
  // message properties and node types named in placeholders and outputs
  'msg',
  'ota',
  'ota-fleet',
  'ota-inform',
  'ota-progress',
  'ota-push',
  'ota-verify',
  'mqtt',
  // the walk's own fixtures: product keys and device names are data
  'pk-zh',
  'dev-zh',
  'dev',
]);

/** A word, with what joins the parts of an identifier (`msg.productKey`, `dev-1`, `PKCS#8`). */
const WORD = /[A-Za-z][A-Za-z0-9_]*(?:[-'’.:/#+]+[A-Za-z0-9_]+)*/g;

/** A token that names something rather than says it. */
function isIdentifier(token: string): boolean {
  return /[0-9._/:#+]/.test(token) || /[a-z][A-Z]/.test(token);
}

/** The English words of a text: words of two letters or more, not identifiers, not allowed. */
export function englishWords(text: string, allowed: ReadonlySet<string> = ALLOWED_WORDS): string[] {
  return Array.from(text.matchAll(WORD), (m) => m[0]).filter(
    (word) => word.length > 1 && !isIdentifier(word) && !allowed.has(word),
  );
}

const CJK = '\\u4e00-\\u9fff';
const FULL_WIDTH = '，。：；、（）！？“”';

/** Typography faults of Chinese text, each a name and a pattern that finds it. */
const TYPOGRAPHY: ReadonlyArray<[string, RegExp]> = [
  [
    'a space beside full-width punctuation',
    new RegExp(`[ \\t\\u00a0][${FULL_WIDTH}]|[${FULL_WIDTH}][ \\t\\u00a0]`, 'g'),
  ],
  ['a space between Chinese characters', new RegExp(`[${CJK}][ \\t\\u00a0]+[${CJK}]`, 'g')],
  ['half-width punctuation beside Chinese', new RegExp(`[${CJK}][,;:!?]|[,;:!?] ?[${CJK}]`, 'g')],
  ['half-width parentheses around Chinese', new RegExp(`[${CJK}] ?\\(|\\([^()]*[${CJK}][^()]*\\)`, 'g')],
];

/** The typography faults of a Chinese text, each with the words around it. */
export function typographyFaults(text: string): string[] {
  return TYPOGRAPHY.flatMap(([fault, pattern]) =>
    Array.from(text.matchAll(pattern), (m) => {
      const at = m.index ?? 0;
      return `${fault}: "${text.slice(Math.max(0, at - 12), at + m[0].length + 12)}"`;
    }),
  );
}
