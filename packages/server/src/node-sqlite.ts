/**
 * Node's built-in SQLite binding, loaded on demand: the server's floor is Node 20.4, which has
 * none, and Node 22.13 or later (23.4 on the odd line) has it without a flag. Only the store
 * loads it, so a server without `store` never touches it.
 */

/** The part of `node:sqlite`'s StatementSync the store uses (types for Node 20 lack it). */
export interface SqliteStatement {
  run(...params: SqliteValue[]): unknown;
  all(...params: SqliteValue[]): Record<string, unknown>[];
  iterate(...params: SqliteValue[]): IterableIterator<Record<string, unknown>>;
}

/** The part of `node:sqlite`'s DatabaseSync the store uses. */
export interface SqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
  readonly isTransaction?: boolean;
}

/** A value bound to a statement parameter. */
export type SqliteValue = string | number | bigint | null | Uint8Array;

interface SqliteModule {
  DatabaseSync: new (path: string) => SqliteDatabase;
}

/** The first versions with `node:sqlite` unflagged, for messages. */
export const NODE_SQLITE_VERSIONS = 'Node.js 22.13 or later';

let loading: Promise<SqliteModule | undefined> | undefined;

/**
 * `node:sqlite`, or undefined on a Node.js without it (or with it behind a flag). Node 24 prints
 * an ExperimentalWarning when it is first loaded; that one warning is kept quiet, since using
 * the module is the server's choice and not its user's, and any other warning passes through.
 */
export function loadNodeSqlite(): Promise<SqliteModule | undefined> {
  loading ??= importQuietly();
  return loading;
}

async function importQuietly(): Promise<SqliteModule | undefined> {
  const emitWarning = process.emitWarning;
  const quiet = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const text = typeof warning === 'string' ? warning : warning.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown })?.type;
    const name = typeof warning === 'string' ? type : warning.name;
    if (name === 'ExperimentalWarning' && /\bSQLite\b/.test(text)) return;
    Reflect.apply(emitWarning, process, [warning, ...rest]);
  };
  process.emitWarning = quiet as typeof process.emitWarning;
  try {
    // A variable specifier: TypeScript's Node 20 types do not know the module.
    const specifier = 'node:sqlite';
    return (await import(specifier)) as SqliteModule;
  } catch {
    return undefined;
  } finally {
    // Restore unless something else replaced it meanwhile.
    if (process.emitWarning === quiet) process.emitWarning = emitWarning;
  }
}
