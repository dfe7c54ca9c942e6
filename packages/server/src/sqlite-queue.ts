import { Buffer } from 'node:buffer';
import { StoreError } from '@gearmanode/protocol';
import type { QueueChange, QueueWriter } from './group-commit.js';
import type { Priority } from './model.js';
import {
  loadNodeSqlite,
  NODE_SQLITE_VERSIONS,
  type SqliteDatabase,
  type SqliteStatement,
} from './node-sqlite.js';

/** One background job as the table keeps it, in the order it was written. */
export interface StoredJob {
  /** The table's `unique_key`: the job's unique, or the one generated for it. */
  key: string;
  functionName: string;
  priority: Priority;
  payload: Buffer;
  /** Unix time in ms before which the job is not handed out; 0 when runnable at once. */
  runAt: number;
}

const COLUMNS = ['unique_key', 'function_name', 'priority', 'data', 'when_to_run'] as const;

/**
 * gearmand 1.1.20's libsqlite3 queue, file for file: the same table (created with the same
 * statement when missing), the same priority numbers (0 high, 1 normal, 2 low), `when_to_run`
 * in Unix seconds (0 for now), and `INSERT OR REPLACE` keyed by (unique, function). gearmand
 * replays rows in table order, which is insertion order; so does `load`.
 *
 * Unlike gearmand, the file is in WAL mode with `synchronous=FULL`: a commit is one append and
 * one fsync, durable across a power cut, and the `GroupCommit` makes it one per batch. And the
 * server holds the file exclusively while it runs.
 */
export class SqliteQueue implements QueueWriter {
  readonly #db: SqliteDatabase;
  readonly #spec: string;
  readonly #insert: SqliteStatement;
  readonly #delete: SqliteStatement;
  readonly #table: string;

  private constructor(db: SqliteDatabase, spec: string, table: string) {
    this.#db = db;
    this.#spec = spec;
    this.#table = table;
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO ${table} (priority, unique_key, function_name, data, when_to_run) VALUES (?, ?, ?, ?, ?)`,
    );
    this.#delete = db.prepare(`DELETE FROM ${table} WHERE unique_key = ? AND function_name = ?`);
  }

  /**
   * Opens (or creates) the queue in the SQLite file `path`; `spec` names it in errors.
   * @throws StoreError `UNSUPPORTED_RUNTIME` without `node:sqlite`, `UNREADABLE` for a file
   * that is not SQLite or is damaged, `FOREIGN` for a table of another shape.
   */
  static async open(spec: string, path: string, table: string): Promise<SqliteQueue> {
    const sqlite = await loadNodeSqlite();
    if (sqlite === undefined) {
      throw new StoreError(
        'UNSUPPORTED_RUNTIME',
        spec,
        `needs ${NODE_SQLITE_VERSIONS} (node:sqlite without a flag); this is Node.js ${process.version}`,
      );
    }
    let db: SqliteDatabase | undefined;
    try {
      db = new sqlite.DatabaseSync(path);
      // The first access to the file: one that is not SQLite fails here. The exclusive lock,
      // taken at once and held until `close`, keeps a second server off the file (ours fails,
      // gearmand waits until we are gone): two servers on one queue would both run its jobs.
      // The OS drops the lock if this process dies.
      db.exec(
        'PRAGMA busy_timeout = 2000; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; BEGIN IMMEDIATE; COMMIT',
      );
      const tables = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
        .all(table);
      if (tables.length === 0) {
        db.exec(
          `CREATE TABLE ${table} ( unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))`,
        );
      } else {
        checkColumns(db, spec, table);
      }
      return new SqliteQueue(db, spec, table);
    } catch (error) {
      db?.close();
      if (error instanceof StoreError) throw error;
      throw new StoreError('UNREADABLE', spec, `cannot open: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Every stored job, in the order they were written.
   * @throws StoreError `UNREADABLE` for a damaged file, `FOREIGN` for a row gearmand would
   * not replay either (wrong column types, an unknown priority).
   */
  load(): StoredJob[] {
    const jobs: StoredJob[] = [];
    try {
      const rows = this.#db
        .prepare(
          `SELECT rowid, unique_key, function_name, priority, data, when_to_run FROM ${this.#table} ORDER BY rowid`,
        )
        .iterate();
      for (const row of rows) jobs.push(this.#job(row));
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError('UNREADABLE', this.#spec, `cannot read: ${messageOf(error)}`, {
        cause: error,
      });
    }
    return jobs;
  }

  #job(row: Record<string, unknown>): StoredJob {
    const { unique_key: key, function_name: functionName, priority, data } = row;
    const when = row.when_to_run ?? 0; // NULL in a table gearmand extended with ALTER TABLE
    if (
      typeof key !== 'string' ||
      typeof functionName !== 'string' ||
      (priority !== 0 && priority !== 1 && priority !== 2) ||
      !(data instanceof Uint8Array) ||
      typeof when !== 'number'
    ) {
      throw new StoreError(
        'FOREIGN',
        this.#spec,
        `row ${String(row.rowid)} of ${this.#table} is not a queued job (expected TEXT, TEXT, INTEGER 0-2, BLOB, INTEGER)`,
      );
    }
    const runAt = when * 1000;
    return {
      key,
      functionName,
      priority,
      payload: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      runAt: runAt > Date.now() ? runAt : 0,
    };
  }

  write(changes: readonly QueueChange[]): void {
    const db = this.#db;
    try {
      db.exec('BEGIN');
      for (const { job, insert } of changes) {
        if (insert) {
          this.#insert.run(
            job.priority,
            job.storeKey,
            job.fn.name,
            job.payload,
            Math.floor(job.runAt / 1000),
          );
        } else {
          this.#delete.run(job.storeKey, job.fn.name);
        }
      }
      db.exec('COMMIT');
    } catch (error) {
      try {
        if (db.isTransaction !== false) db.exec('ROLLBACK');
      } catch {
        // SQLite rolled back already (it does on some errors, e.g. a full disk).
      }
      throw new StoreError('WRITE_FAILED', this.#spec, `cannot write: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  close(): void {
    this.#db.close();
  }
}

function checkColumns(db: SqliteDatabase, spec: string, table: string): void {
  const names = new Set(
    db
      .prepare(`PRAGMA table_info(${table})`)
      .all()
      .map((row) => row.name),
  );
  const missing = COLUMNS.filter((column) => !names.has(column));
  if (missing.length === 1 && missing[0] === 'when_to_run') {
    // Tables from gearmand before epoch jobs: gearmand adds the column, so do we.
    db.exec(`ALTER TABLE ${table} ADD COLUMN when_to_run INTEGER`);
  } else if (missing.length > 0) {
    throw new StoreError(
      'FOREIGN',
      spec,
      `table ${table} is not a gearmand queue: it has no ${missing.join(', ')}`,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
