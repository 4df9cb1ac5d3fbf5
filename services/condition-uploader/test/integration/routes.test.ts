// The HTTP read API with app.inject over a real local CondDB file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { buildHttp, createMetrics } from '@autocal/runtime'
import { openCondDb } from '../../src/adapters/conddb-sqlite.ts'
import { openUploadHistory } from '../../src/adapters/upload-history.ts'
import { lumiSince } from '../../src/domain/conddb-format.ts'
import { conditionRoutes } from '../../src/routes.ts'
import { sha1, tempDir } from '../helpers/conddb-files.ts'
import { memoryLogger } from '../helpers/fixtures.ts'

test('tags, IOVs, payload metadata and upload history are served with 64-bit values as strings', async t => {
  const dir = tempDir(t)
  const conddb = openCondDb(join(dir, 'conddb.sqlite'))
  const history = openUploadHistory(join(dir, 'history.sqlite'))
  t.after(() => { conddb.close(); history.close() })
  const data = Buffer.from('lumi corrections')
  const hash = sha1('LumiCorrections', data)
  const since = lumiSince(362881, 12)
  conddb.upload({
    tag: { name: 'LumiPCCCorrections_pcl', timeType: 'Lumi', objectType: 'LumiCorrections', synchronization: 'pcl', description: 'pcc', exists: false },
    iovs: [{ since, payloadHash: hash }],
    payloads: [{ hash, objectType: 'LumiCorrections', data, streamerInfo: Buffer.from('{"technology": "boost/serialization"}'), version: '3.2', insertionTime: '2022-07-10 10:00:00.000000' }],
    requestId: 'prompt/lumi-1/pcc/1',
    userText: 'pcc'
  })
  history.record({
    requestId: 'prompt/lumi-1/pcc/1',
    state: 'final',
    outcome: 'UPLOADED',
    tag: 'LumiPCCCorrections_pcl',
    since: since.toString(),
    requestedSince: null,
    payloadHash: hash,
    target: 'sqlite:x',
    reason: '',
    decisions: ['pcl tag: since at or after FCSR'],
    iovs: [{ since: since.toString(), payloadHash: hash }],
    eventId: 'e',
    at: new Date().toISOString(),
    event: new Uint8Array()
  })
  history.step('prompt/lumi-1/pcc/1', 'validated', '1 IOV(s)')
  const { logger } = memoryLogger()
  const app = await buildHttp({ logger, metrics: createMetrics({ service: 'test' }), checks: [] })
  t.after(async () => { await app.close() })
  await app.register(conditionRoutes, { conddb, history })

  const tags = (await app.inject('/api/v1/tags')).json()
  assert.equal(tags.tags[0].name, 'LumiPCCCorrections_pcl')
  assert.equal(tags.tags[0].lastSince, since.toString())
  assert.equal(tags.tags[0].iovCount, 1)
  assert.equal(tags.tags[0].endOfValidity, '18446744073709551615')
  const iovs = (await app.inject('/api/v1/tags/LumiPCCCorrections_pcl/iovs')).json()
  assert.deepEqual(iovs.iovs.map((i: any) => [i.since, i.sinceText, i.payloadHash]), [[since.toString(), '362881:12', hash]])
  const tag = (await app.inject('/api/v1/tags/LumiPCCCorrections_pcl')).json()
  assert.deepEqual(tag.log.map((l: any) => l.action), ['New tag created.', '1 iov(s) inserted.'])
  const payload = (await app.inject(`/api/v1/payloads/${hash.toUpperCase()}`)).json()
  assert.equal(payload.sizeBytes, data.length)
  assert.equal(payload.streamerInfo, '{"technology": "boost/serialization"}')
  const uploads = (await app.inject('/api/v1/uploads?tag=LumiPCCCorrections_pcl')).json()
  assert.equal(uploads.uploads[0].requestId, 'prompt/lumi-1/pcc/1')
  assert.deepEqual(uploads.uploads[0].steps.map((s: any) => s.step), ['validated'])
  assert.equal((await app.inject('/api/v1/uploads?tag=Other')).json().uploads.length, 0)
  assert.equal((await app.inject('/api/v1/tags/Nope')).statusCode, 404)
  assert.equal((await app.inject(`/api/v1/payloads/${'0'.repeat(40)}`)).statusCode, 404)
  assert.equal((await app.inject('/api/v1/fcsr')).json().fcsr, null)
})
