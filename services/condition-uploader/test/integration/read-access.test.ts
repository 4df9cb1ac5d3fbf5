// The uploader's read API behind a read token (AUTOCAL_READ_TOKENS), on the
// real Kafka and Redis: 401 without or with a wrong token, 200 with one; the
// probes and /metrics stay open.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startHarness } from '../helpers/harness.ts'

test('the read API needs a read token unless public; /healthz, /readyz and /metrics stay open', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-uploader-read-'))
  await using h = await startHarness(join(dir, 'data'), { AUTOCAL_READ_PUBLIC: 'false', AUTOCAL_READ_TOKENS: 'pog-subscriber:pog-read-token-1' })
  const url = h.uploaders[0]!.url
  for (const path of ['/api/v1/tags', '/api/v1/tags/X/iovs', '/api/v1/payloads/abc', '/api/v1/uploads', '/api/v1/fcsr']) {
    const anonymous = await fetch(new URL(path, url))
    assert.equal(anonymous.status, 401, path)
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer')
    assert.equal((await fetch(new URL(path, url), { headers: { authorization: 'Bearer not-the-token' } })).status, 401, path)
  }
  const read = await fetch(new URL('/api/v1/tags', url), { headers: { authorization: 'Bearer pog-read-token-1' } })
  assert.equal(read.status, 200)
  assert.ok(Array.isArray((await read.json() as { tags?: unknown }).tags))
  for (const path of ['/healthz', '/metrics']) assert.equal((await fetch(new URL(path, url))).status, 200, path)
  assert.notEqual((await fetch(new URL('/readyz', url))).status, 401)
})
