// Every better-sqlite3 object this service creates stays reachable for the
// life of the process. Why: on Node 24, node::ObjectWrap's destructor calls
// RemoveEnvironmentCleanupHook(Isolate::GetCurrent()), which aborts the
// process ("Assertion failed: (env) != nullptr", SIGABRT) when V8 collects a
// Database or Statement wrapper outside a JS context, e.g. from a GC task.
// We saw it abort a test process here; it is reported upstream against
// better-sqlite3 12.x + Node 24. So: statements are prepared once per SQL
// text and cached, and databases are kept after they are closed (a closed
// database has released its SQLite memory; what is kept is a small wrapper).
import Database from 'better-sqlite3'

export type SqliteDatabase = Database.Database
export type SqliteStatement = Database.Statement

const retained = new Set<SqliteDatabase>()

/** Opens a SQLite file whose `prepare` caches statements by SQL text and which is never garbage-collected. */
export function openSqlite (path: string, options?: Database.Options): SqliteDatabase {
  const db = new Database(path, options)
  retained.add(db)
  const cache = new Map<string, SqliteStatement>()
  const prepare = db.prepare.bind(db)
  db.prepare = ((sql: string) => {
    const cached = cache.get(sql)
    if (cached !== undefined) return cached.safeIntegers(false) // each call site sets what it needs
    const statement = prepare(sql)
    cache.set(sql, statement)
    return statement
  }) as SqliteDatabase['prepare']
  return db
}
