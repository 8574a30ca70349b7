/**
 * Logins for clients that are neither the platform nor a device (a Home Assistant, a dashboard):
 * a user name, a password, and the topic filters the client may publish to and subscribe to.
 * Checked once, when the hooks are made, so a bad list fails at start-up and not at a login.
 */
import { filterCovers, filterProblem, topicMatches } from './topic-filters';

export interface ClientLogin {
  username: string;
  /** Compared in constant time; never logged. */
  password: string;
  /** Filters of the topics it may publish on (`homeassistant/status`, `ota-homeassistant/+/install`). */
  publish: readonly string[];
  /** Filters a subscription of it must lie within (`homeassistant/#`). */
  subscribe: readonly string[];
}

/**
 * The logins by user name, or an error saying which one is wrong (never with its password). A
 * user name holding `&` has the shape of a device's (`<deviceName>&<productKey>`) and the
 * platform's is the platform's: either would let this login stand in for them.
 */
export function checkClientLogins(
  logins: readonly ClientLogin[],
  platformUsername: string | undefined,
): Map<string, ClientLogin> {
  if (!Array.isArray(logins)) throw new Error('clients must be an array of {username, password, publish, subscribe}');
  const byName = new Map<string, ClientLogin>();
  for (const [i, login] of logins.entries()) {
    const which = `clients[${i}]`;
    const username: unknown = login?.username;
    if (typeof username !== 'string' || username.length === 0)
      throw new Error(`${which}.username must be a non-empty string`);
    const named = `${which} (username ${JSON.stringify(username)})`;
    if (username.includes('&'))
      throw new Error(`${named}: a user name with & is a device's login (<deviceName>&<productKey>)`);
    if (username === platformUsername) throw new Error(`${named}: that is the platform's user name`);
    if (byName.has(username)) throw new Error(`${named}: the user name is given twice`);
    if (typeof login.password !== 'string' || login.password.length === 0)
      throw new Error(`${named}: password must be a non-empty string`);
    for (const key of ['publish', 'subscribe'] as const) {
      const filters: unknown = login[key];
      if (!Array.isArray(filters)) throw new Error(`${named}: ${key} must be an array of topic filters`);
      for (const filter of filters as unknown[]) {
        const problem = filterProblem(filter as string);
        if (problem) throw new Error(`${named}: ${key}: ${problem}`);
      }
    }
    byName.set(username, { ...login, publish: [...login.publish], subscribe: [...login.subscribe] });
  }
  return byName;
}

/** Whether the login may publish on `topic`. */
export function mayClientPublish(login: ClientLogin | undefined, topic: string): boolean {
  return !!login && login.publish.some((filter) => topicMatches(filter, topic));
}

/** Whether the login may subscribe to `filter`: one allowed filter must cover all it can match. */
export function mayClientSubscribe(login: ClientLogin | undefined, filter: string): boolean {
  return !!login && filterProblem(filter) === undefined && login.subscribe.some((a) => filterCovers(a, filter));
}

/** Whether a message on `topic` may be handed to the login. */
export function mayClientReceive(login: ClientLogin | undefined, topic: string): boolean {
  return !!login && login.subscribe.some((filter) => topicMatches(filter, topic));
}
