// better-sqlite3 up to 12 aborted Node 24 when V8 collected a Database or
// Statement wrapper outside a JS context ("Assertion failed: (env) != nullptr"
// in RemoveEnvironmentCleanupHook); this load reproduced it with plain
// better-sqlite3 12.6.2 here. better-sqlite3 13 (node-addon-api) must survive
// it with every handle left to the garbage collector, plain and through
// openSqlite, which no longer keeps handles alive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const handles = fileURLToPath(new URL('../../src/adapters/sqlite-handles.ts', import.meta.url))
const uploaderDir = fileURLToPath(new URL('../../', import.meta.url))

for (const via of ['better-sqlite3', 'openSqlite'] as const) {
  test(`databases and statements made through ${via} and dropped are collected under forced GC without aborting the process`, () => {
    const script = `
      import Database from 'better-sqlite3'
      import { openSqlite } from ${JSON.stringify(handles)}
      const open = ${via === 'openSqlite' ? 'path => openSqlite(path)' : 'path => new Database(path)'}
      let n = 0
      const deadline = Date.now() + 4000
      const tick = () => {
        const db = open(':memory:')        // like one payload file per request, never kept
        for (let i = 0; i < 2000; i++) db.prepare('SELECT ' + (n++)).get()
        if (n % 4000 === 0) db.close()      // some closed, some left open to the collector
        const junk = []
        for (let i = 0; i < 20000; i++) junk.push({ a: i, b: 'x'.repeat(20) })
        globalThis.gc()
        if (Date.now() < deadline) setTimeout(tick, 1)
        else console.log('survived ' + n)
      }
      tick()
    `
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: uploaderDir, encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.signal, null, `aborted: ${r.stderr.slice(0, 300)}`)
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^survived \d+/)
  })
}
