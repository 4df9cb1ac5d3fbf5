// SQLite files through better-sqlite3 13. Versions up to 12 wrapped their
// objects in Node's raw ObjectWrap, whose destructor aborts a Node 24 process
// ("Assertion failed: (env) != nullptr" in RemoveEnvironmentCleanupHook) when
// V8 collects a Database or Statement outside a JS context; this service then
// kept every handle alive for the process's life. better-sqlite3 13 moved to
// node-addon-api, which has no such destructor, so handles are collected like
// any object (`test/integration/sqlite-gc.test.ts` opens, uses and drops
// thousands of them under forced GC). Statements are still prepared once per
// SQL text per database: the uploader runs the same few statements per request.
import Database from 'better-sqlite3'

export type SqliteDatabase = Database.Database
export type SqliteStatement = Database.Statement

/** Opens a SQLite file whose `prepare` caches statements by SQL text. */
export function openSqlite (path: string, options?: Database.Options): SqliteDatabase {
  const db = new Database(path, options)
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
