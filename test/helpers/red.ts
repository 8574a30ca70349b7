/**
 * Watching nodes run under node-red-node-test-helper: what a node receives, the statuses it shows,
 * and the silence after a refusal.
 */
import helper from 'node-red-node-test-helper';
import type { NodeMessage, NodeStatus } from 'node-red';
import should from 'should';

export type Msg = NodeMessage & Record<string, unknown>;

/**
 * Every message a node (usually a probe) receives from the moment the inbox is opened, read in
 * order. Open it before sending, so nothing that arrives early is missed.
 */
export class Inbox {
  readonly messages: Msg[] = [];
  private read = 0;
  private readonly waiting = new Set<() => void>();

  constructor(readonly nodeId: string) {
    helper.getNode(nodeId).on('input', (msg: Msg) => {
      this.messages.push(msg);
      for (const wake of this.waiting) wake();
    });
  }

  /** The next unread message that satisfies `wanted`, skipping the others. */
  async next(wanted: (msg: Msg) => boolean = () => true, timeoutMs = 2000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.read < this.messages.length) {
        const msg = this.messages[this.read++];
        if (wanted(msg)) return msg;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no expected message reached node ${this.nodeId} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiting.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiting.add(wake);
      });
    }
  }
}

/** Opens an inbox on each node, in order. */
export function inboxes(...ids: string[]): Inbox[] {
  return ids.map((id) => new Inbox(id));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits `ms` and asserts that none of the inboxes received anything at all. */
export async function assertNothingSent(boxes: Inbox[], ms = 50): Promise<void> {
  await delay(ms);
  for (const box of boxes) should(box.messages).eql([], `node ${box.nodeId} received a message`);
}

/** Every status the node shows from now on. */
export function recordStatuses(nodeId: string): NodeStatus[] {
  const node = helper.getNode(nodeId);
  const statuses: NodeStatus[] = [];
  const original = node.status.bind(node);
  node.status = (status: NodeStatus) => {
    statuses.push(status);
    original(status);
  };
  return statuses;
}

/** The node showed a red ring with the error's text (shortened to 60 characters with "…"). */
export function assertRedRing(statuses: NodeStatus[], errorMessage: string): void {
  const ring = statuses.find((s) => s.fill === 'red' && s.shape === 'ring');
  should.exist(ring, `no red ring status among ${JSON.stringify(statuses)}`);
  const text = String(ring?.text);
  const shown = text.endsWith('…') ? text.slice(0, -1) : text;
  should(text.endsWith('…') ? errorMessage.startsWith(shown) : text === errorMessage).be.true(
    `status text ${JSON.stringify(text)} does not show the error ${JSON.stringify(errorMessage)}`,
  );
}

/** What a Catch node passes on for a refusal by `source`: `msg.error` with the ProtocolError's text. */
export function assertRefusal(caught: Msg, source: { id: string; type: string }, message: string | RegExp): void {
  const error = caught.error as { message: string; code?: string; source: { id: string; type: string } };
  should(error.source).match({ id: source.id, type: source.type });
  if (typeof message === 'string') should(error.message).equal(`ProtocolError: ${message}`);
  else should(error.message).match(message);
  should(error.code).equal('OTA_BAD_MESSAGE');
}
