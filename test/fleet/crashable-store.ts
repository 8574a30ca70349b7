/**
 * A store on a fresh file with a second connection to check it, for the counters' property tests:
 * `crashCopy` copies the file and its log as a process killed now would leave them, and `reopen`
 * goes on from a file (the copy, or the same file for a restart).
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/fleet';

export class CrashableStore {
  protected readonly dir: string;
  protected file: string;
  protected store: SqliteStore;
  protected checker: Database.Database;
  private copies = 0;

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.file = join(this.dir, 'fleet-0.sqlite');
    this.store = new SqliteStore(this.file);
    this.checker = new Database(this.file);
  }

  /** The file and its log as a process killed now would leave them; the run goes on from the copy. */
  protected crashCopy(): string {
    const copy = join(this.dir, `fleet-${++this.copies}.sqlite`);
    copyFileSync(this.file, copy);
    if (existsSync(`${this.file}-wal`)) copyFileSync(`${this.file}-wal`, `${copy}-wal`);
    return copy;
  }

  protected reopen(file: string): void {
    this.checker.close();
    this.store.close();
    this.file = file;
    this.store = new SqliteStore(file);
    this.checker = new Database(file);
  }

  /**
   * A process killed right after `write` committed, or inside its transaction (then nothing of it
   * may survive); the run goes on from what the kill left on disk.
   */
  protected killAfter(committed: boolean, write: () => void): void {
    let copy: string | undefined;
    if (committed) {
      write();
      copy = this.crashCopy();
    } else {
      try {
        this.store.transaction(() => {
          write();
          copy = this.crashCopy();
          throw new KilledHere();
        });
      } catch (err) {
        if (!(err instanceof KilledHere)) throw err;
      }
    }
    this.reopen(copy!);
  }

  close(): void {
    this.checker.close();
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

class KilledHere extends Error {}
