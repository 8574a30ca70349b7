/**
 * What arrives from the `mqtt in` nodes wired to ota-homeassistant: HA's birth (`<prefix>/status`),
 * an install pressed in HA (`<base>/<object id>/install`), or the node's own availability coming
 * back from the broker (proof that what it sends reaches the broker).
 */
import { ProtocolError } from '../../protocol';
import { availabilityTopic, birthTopic } from './entity';

export type Command =
  { kind: 'birth'; online: boolean } | { kind: 'install'; objectId: string } | { kind: 'echo'; online: boolean };

/** A refused command, with the entity it named when it named one. */
export class CommandError extends ProtocolError {
  constructor(
    field: string,
    expected: string,
    got: unknown,
    readonly objectId?: string,
  ) {
    super(field, expected, got);
  }
}

/** The payload as text: `mqtt in` hands over a string, a Buffer, or (auto-detect) parsed JSON. */
function text(payload: unknown): string | undefined {
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  return undefined;
}

export function parseCommand(
  msg: { topic?: unknown; payload?: unknown; retain?: unknown },
  topics: { prefix: string; base: string; payloadInstall: string },
): Command {
  const { topic, payload } = msg;
  const body = text(payload);
  if (topic === birthTopic(topics.prefix) || topic === availabilityTopic(topics.base)) {
    if (body !== 'online' && body !== 'offline')
      throw new CommandError('msg.payload', '"online" or "offline"', payload);
    return { kind: topic === birthTopic(topics.prefix) ? 'birth' : 'echo', online: body === 'online' };
  }
  const start = `${topics.base}/`;
  if (typeof topic === 'string' && topic.startsWith(start) && topic.endsWith('/install')) {
    const objectId = topic.slice(start.length, -'/install'.length);
    if (objectId === '' || objectId.includes('/'))
      throw new CommandError('msg.topic', `${start}<object id>/install`, topic);
    // HA never retains it (the entity's `retain` is false); a retained one, left by some other
    // client, would come back at every reconnect and install again, unasked.
    if (msg.retain === true)
      throw new CommandError(
        'msg.retain',
        'false: a retained install is refused, clear it at the broker',
        true,
        objectId,
      );
    if (body !== topics.payloadInstall)
      throw new CommandError(
        'msg.payload',
        `"${topics.payloadInstall}" (the entity's payload_install)`,
        payload,
        objectId,
      );
    return { kind: 'install', objectId };
  }
  throw new CommandError(
    'msg.topic',
    `${start}<object id>/install, ${availabilityTopic(topics.base)} or ${birthTopic(topics.prefix)}`,
    topic,
  );
}
