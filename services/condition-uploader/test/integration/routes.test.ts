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

test('?at=<run> answers the IOV valid at that run: its since, payload hash and insertion time; 404 before the first, 400 for a bad run', async t => {
  const dir = tempDir(t)
  const conddb = openCondDb(join(dir, 'conddb.sqlite'))
  const history = openUploadHistory(join(dir, 'history.sqlite'))
  t.after(() => { conddb.close(); history.close() })
  const payloadOf = (text: string) => {
    const data = Buffer.from(text)
    return { hash: sha1('EcalPedestals', data), objectType: 'EcalPedestals', data, streamerInfo: Buffer.from('{}'), version: '3.2', insertionTime: '2022-07-10 10:00:00.000000' }
  }
  const tag = { name: 'EcalPedestals_prompt', timeType: 'Run', objectType: 'EcalPedestals', synchronization: 'prompt', description: '', exists: false }
  const [a, b] = [payloadOf('pedestals a'), payloadOf('pedestals b')]
  assert.equal(conddb.upload({ tag, iovs: [{ since: 355100n, payloadHash: a.hash }], payloads: [a], requestId: 'r/1', userText: '' }).kind, 'done')
  assert.equal(conddb.upload({ tag, iovs: [{ since: 355400n, payloadHash: b.hash }], payloads: [b], requestId: 'r/2', userText: '' }).kind, 'done')
  const { logger } = memoryLogger()
  const app = await buildHttp({ logger, metrics: createMetrics({ service: 'test' }), checks: [] })
  t.after(async () => { await app.close() })
  await app.register(conditionRoutes, { conddb, history })

  const at = (run: string) => app.inject(`/api/v1/tags/EcalPedestals_prompt/iovs?at=${run}`)
  const mid = (await at('355300')).json()
  assert.deepEqual({ run: mid.run, since: mid.iov.since, sinceText: mid.iov.sinceText, hash: mid.iov.payloadHash }, { run: '355300', since: '355100', sinceText: '355100', hash: a.hash })
  assert.match(mid.iov.insertionTime, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/)
  assert.equal((await at('355400')).json().iov.payloadHash, b.hash)
  const before = await at('355000')
  assert.equal(before.statusCode, 404)
  assert.match(before.json().error, /no IOV valid at run 355000/)
  const bad = await at('0')
  assert.equal(bad.statusCode, 400)
  assert.match(bad.json().error, /run 0 is out of range/)
  assert.equal((await at('x1')).statusCode, 400)
  assert.equal((await app.inject('/api/v1/tags/Nope/iovs?at=355300')).statusCode, 404)
})
