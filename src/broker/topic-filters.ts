/**
 * MQTT topic filters, for the rights of a client login: whether a topic is matched by a filter,
 * and whether a filter a client asks for is covered by one it may use (every topic the asked
 * filter can match is matched by the allowed one). MQTT 3.1.1, section 4.7: `+` fills one level,
 * `#` the rest (none included), and a wildcard in the first level never matches a topic that
 * starts with `$` (the broker's own, such as `$SYS/…`).
 */

/** Why `filter` is not a well-formed topic filter, or undefined when it is. */
export function filterProblem(filter: string): string | undefined {
  if (typeof filter !== 'string' || filter.length === 0) return 'a topic filter must be a non-empty string';
  if (filter.includes('\u0000')) return `the topic filter ${JSON.stringify(filter)} holds a NUL character`;
  const levels = filter.split('/');
  for (const [i, level] of levels.entries()) {
    if (level === '#' && i !== levels.length - 1)
      return `in the topic filter ${JSON.stringify(filter)}, # may only be the last level`;
    if (level.length > 1 && (level.includes('#') || level.includes('+')))
      return `in the topic filter ${JSON.stringify(filter)}, + and # must fill a whole level`;
  }
  return undefined;
}

/** A wildcard in the first level does not reach the broker's `$` topics. */
function hidesDollar(first: string, other: string): boolean {
  return other.startsWith('$') && (first === '+' || first === '#');
}

/** Whether the topic name `topic` (no wildcards) is matched by the filter `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (hidesDollar(f[0], t[0])) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether every topic the filter `requested` can match is matched by the filter `allowed`:
 * `homeassistant/#` covers `homeassistant/update/+/config` and `homeassistant`, not `#` nor
 * `+/status`. Level by level, the allowed filter must be at least as wide as the requested one.
 */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  // `$SYS/#` asked for under an allowed `#`: the wildcard would not reach those topics.
  if (hidesDollar(a[0], r[0])) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= r.length) return false; // r matches a topic with fewer levels than a needs
    // r matches any depth from here, a only up to its own; but a topic has at least one level,
    // so `#` matches no more than `+/#` does.
    if (r[i] === '#') return i === 0 && a[0] === '+' && a.length === 2 && a[1] === '#';
    if (a[i] === '+') continue;
    if (r[i] !== a[i]) return false; // a literal level: r must ask for exactly it
  }
  return a.length === r.length;
}
