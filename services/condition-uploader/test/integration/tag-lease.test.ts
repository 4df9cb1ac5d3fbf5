// The per-tag Redis lease: while another replica holds a tag, a request for
// it waits and is retried; it is handled once the lease is released.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Outcome } from '@autocal/contracts'
import { acquireLease, connectRedis } from '@autocal/runtime'
import { tempDir, writePayloadFile } from '../helpers/conddb-files.ts'
import { memoryLogger, readWithPython, until } from '../helpers/fixtures.ts'
import { startHarness } from '../helpers/harness.ts'

test('a request for a tag whose lease another replica holds is retried and handled after the release', async t => {
  const dir = tempDir(t)
  await using h = await startHarness(join(dir, 'data'), { AUTOCAL_TAG_LEASE_WAIT_MS: '100' })
  const { logger } = memoryLogger()
  await using redis = await connectRedis({ config: h.config, logger })
  const other = await acquireLease(redis, 'condition-uploader:tag:Busy_tag', 60_000)
  assert.ok(other !== null)

  const payload = join(dir, 'busy.db')
  writePayloadFile(payload)
  await h.send({ requestId: 'r/busy/1', payloadFile: payload, destinationTag: 'Busy_tag', synchronization: 'any', since: 7n })
  await until('a retry because of the lease', () => h.logs.some(l => l.msg === 'handler failed; retrying' && /Busy_tag.*lease held/.test(l.err?.message ?? '')))
  assert.equal(h.events.filter(e => e.event.requestId === 'r/busy/1').length, 0, 'nothing done while the lease is held')

  await other.release()
  const [event] = await h.outcomeOf('r/busy/1')
  assert.equal(event?.outcome, Outcome.UPLOADED)
  assert.deepEqual(readWithPython(join(dir, 'data', 'conddb.sqlite')).iovs.map(i => [i.TAG_NAME, i.SINCE]), [['Busy_tag', '7']])
})
