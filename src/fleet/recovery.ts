/**
 * Notices at least once across a crash. A notice leaves after its task is stored as NOTIFIED, so
 * a process killed between the commit and the publish (or a broker that died with it) leaves
 * tasks NOTIFIED whose device never heard of them. When a fleet starts over an existing store,
 * each NOTIFIED task of a batch that was open is noticed once more, paced by the batch's rate,
 * without using one of its retries; the scheduler does the sending (scheduler.ts `runRecovery`).
 *
 * Nothing is listed in memory: the tasks are read from the store a page at a time (NOTIFIED,
 * last changed before this start, by id after a cursor), so each is found at most once per start
 * however large the batch.
 */

/**
 * How long after a start the first recovery notice waits. Core `mqtt out`
 * drops a message silently while its broker connection is down (no error, no `done`), and that
 * connection is made only as the flows start; when the first attempt fails, the next comes
 * `mqttReconnectTime` later (Node-RED's default: 5 s). Two reconnect periods let a connection made
 * at once, or at the first retry, be up before the first notice. ota-fleet passes the delay
 * derived from the running Node-RED's setting; this is the default of the default setting.
 */
export const RECOVERY_DELAY_MS = 10_000;

/** The shortest recovery delay, whatever the reconnect period: the flows need a moment to start. */
export const MIN_RECOVERY_DELAY_MS = 1_000;

/** The recovery delay for core mqtt nodes that reconnect every `mqttReconnectTime` ms (Node-RED's default when undefined). */
export function recoveryDelayFor(mqttReconnectTime: unknown): number {
  const period =
    typeof mqttReconnectTime === 'number' && Number.isFinite(mqttReconnectTime) && mqttReconnectTime > 0
      ? mqttReconnectTime
      : RECOVERY_DELAY_MS / 2;
  return Math.max(MIN_RECOVERY_DELAY_MS, 2 * period);
}

/** The reason a recovery notice records on its task. */
export const RECOVERY_REASON = 're-sent after a restart: the notice may not have left before the process stopped';

/** Which batches still have NOTIFIED tasks from before this start, and how far their pages got. */
export class Recovery {
  /** When the first recovery notice may go. */
  readonly resumeAt: number;
  /** Batch id → the id of the last task recovered (the cursor of its next page). */
  private readonly pending = new Map<number, number>();

  constructor(
    /** This start: tasks last changed before it were stored by an earlier process. */
    readonly startedAt: number,
    delayMs: number,
    openBatchIds: Iterable<number>,
  ) {
    this.resumeAt = startedAt + Math.max(0, delayMs);
    for (const id of openBatchIds) this.pending.set(id, 0);
  }

  /** Are NOTIFIED tasks of the batch from before this start possibly still to be noticed? */
  isPending(batchId: number): boolean {
    return this.pending.has(batchId);
  }

  /** Where the batch's next page starts (task ids above this). */
  cursorOf(batchId: number): number {
    return this.pending.get(batchId) ?? Number.MAX_SAFE_INTEGER;
  }

  advance(batchId: number, lastTaskId: number): void {
    if (this.pending.has(batchId)) this.pending.set(batchId, lastTaskId);
  }

  /** The batches still pending, and their cursors (a unit of work that may run again restores them). */
  state(): Map<number, number> {
    return new Map(this.pending);
  }

  restore(state: Map<number, number>): void {
    this.pending.clear();
    for (const [id, cursor] of state) this.pending.set(id, cursor);
  }

  /** The batches open at this start, once known (a fleet whose store is read only inside units learns them in its first). */
  include(openBatchIds: Iterable<number>): void {
    for (const id of openBatchIds) if (!this.pending.has(id)) this.pending.set(id, 0);
  }

  /** None remain (or the batch ended): its store is not asked again in this start. */
  finish(batchId: number): void {
    this.pending.delete(batchId);
  }
}
