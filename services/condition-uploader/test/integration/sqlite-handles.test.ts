// better-sqlite3 wrappers collected by V8 outside a JS context abort Node 24
// ("Assertion failed: (env) != nullptr"); reproduced here with plain
// better-sqlite3 by preparing statements in a loop under allocation pressure.
// The same load through openSqlite (statements cached, databases retained)
// must survive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const handles = fileURLToPath(new URL('../../src/adapters/sqlite-handles.ts', import.meta.url))

test('statements prepared again and again and databases opened per file are never left to the garbage collector', () => {
  const script = `
    import { openSqlite } from ${JSON.stringify(handles)}
    let n = 0
    const deadline = Date.now() + 4000
    const tick = () => {
      const db = openSqlite(':memory:')        // like one payload file per request
      for (let i = 0; i < 2000; i++) db.prepare('SELECT ' + (n++ % 50)).get()
      db.close()
      const junk = []
      for (let i = 0; i < 20000; i++) junk.push({ a: i, b: 'x'.repeat(20) })
      if (Date.now() < deadline) setTimeout(tick, 1)
      else console.log('survived ' + n)
    }
    tick()
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.signal, null, `aborted: ${r.stderr.slice(0, 300)}`)
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /^survived \d+/)
})
