// The conditions upload service client against the STAND-IN of the CMS
// conditions upload service (test/stand-ins/conditions-upload-service.ts),
// over real HTTP: protocol steps in order, retries on 503, a session always
// closed after a failure, a lock held by another session.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createDropboxClient, type DropboxUpload } from '../../src/adapters/dropbox-client.ts'
import type { PayloadRow, TagRow } from '../../src/domain/conddb-format.ts'
import { sha1 } from '../helpers/conddb-files.ts'
import { startUploadServiceStandIn, type UploadServiceStandIn } from '../stand-ins/conditions-upload-service.ts'

const objectType = 'PPSTimingCalibration'
const t0 = '2022-07-10 10:00:00.000000'
function payload (text: string): PayloadRow {
  const data = Buffer.from(text)
  return { hash: sha1(objectType, data), objectType, data, streamerInfo: Buffer.from('{"technology": "boost/serialization"}'), version: '3.2', insertionTime: t0 }
}
const inputTag: TagRow = { name: 'In', timeType: 'Run', objectType, synchronization: 'any', endOfValidity: (1n << 64n) - 1n, description: 'd', lastValidatedTime: 0n, insertionTime: t0, modificationTime: t0 }

function upload (p: PayloadRow, over: Partial<DropboxUpload> = {}): DropboxUpload {
  return {
    database: 'oracle://cms_orcoff_prep/CMS_CONDITIONS',
    tag: { name: 'PPSDiamondTimingCalibration_pcl', timeType: 'Run', objectType, synchronization: 'pcl', description: 'd', exists: false },
    inputTag,
    iovs: [{ since: 355100n, payloadHash: p.hash }],
    payloads: [p],
    since: 355100n,
    userText: 'autocal test',
    fcsrPolicy: 'move',
    ...over
  }
}

async function setup (t: { after: (fn: () => Promise<void>) => void }): Promise<{ standIn: UploadServiceStandIn, client: ReturnType<typeof createDropboxClient>, notes: string[] }> {
  const standIn = await startUploadServiceStandIn({ fcsr: 355000n })
  t.after(async () => { await standIn.close() })
  const notes: string[] = []
  const client = createDropboxClient({
    url: standIn.url, username: 'cmsuser', password: 'secret', retries: 3, retryDelayMs: 5, timeoutMs: 5000, onStep: (s, d) => notes.push(`${s}: ${d}`)
  })
  return { standIn, client, notes }
}

const stepsOf = (s: UploadServiceStandIn): string[] => s.steps.map(x => `${x.step} ${x.status}`)

test('an upload goes session, FCSR, check hashes, store payload, metadata; an already-present payload is not sent again', async t => {
  const { standIn, client } = await setup(t)
  const p = payload('pps timing v1')
  const r = await client.upload(upload(p))
  assert.equal(r.kind, 'uploaded', r.kind === 'uploaded' ? '' : r.reason)
  assert.deepEqual(stepsOf(standIn), ['get_upload_session 200', 'get_fcsr 200', 'check_hashes 200', 'store_payload 200', 'upload_metadata 200'])
  assert.deepEqual(standIn.iovs.map(i => [i.tag, i.since, i.payloadHash]), [['PPSDiamondTimingCalibration_pcl', 355100n, p.hash]])
  assert.equal(standIn.locks.size, 0, 'the service released the lock')

  standIn.steps.length = 0
  const again = await client.upload(upload(p, { iovs: [{ since: 355300n, payloadHash: p.hash }], since: 355300n }))
  assert.equal(again.kind, 'uploaded')
  assert.deepEqual(stepsOf(standIn), ['get_upload_session 200', 'get_fcsr 200', 'check_hashes 200', 'upload_metadata 200'])
})

test('503 answers are retried and the upload goes on', async t => {
  const { standIn, client } = await setup(t)
  standIn.fail({ step: 'check_hashes', status: 503, times: 2 })
  standIn.fail({ step: 'get_upload_session', status: 503, times: 1 })
  const r = await client.upload(upload(payload('retry me')))
  assert.equal(r.kind, 'uploaded')
  assert.deepEqual(stepsOf(standIn), [
    'get_upload_session 503', 'get_upload_session 200', 'get_fcsr 200', 'check_hashes 503', 'check_hashes 503', 'check_hashes 200', 'store_payload 200', 'upload_metadata 200'
  ])
})

test('a server error mid-way closes the session and fails the upload', async t => {
  const { standIn, client } = await setup(t)
  standIn.fail({ step: 'store_payload', status: 500, error: 'ORA-01013: user requested cancel of current operation' })
  const r = await client.upload(upload(payload('half way')))
  assert.equal(r.kind, 'failed')
  assert.ok(r.kind === 'failed')
  assert.match(r.reason, /store_payload answered HTTP 500: ORA-01013/)
  assert.match(r.reason, /server log/)
  assert.deepEqual(stepsOf(standIn), ['get_upload_session 200', 'get_fcsr 200', 'check_hashes 200', 'store_payload 500', 'close_upload_session 200'])
  assert.equal(standIn.locks.size, 0)
  assert.equal(standIn.iovs.length, 0)
})

test('503 until the retries run out on the metadata closes the session after four attempts', async t => {
  const { standIn, client } = await setup(t)
  standIn.fail({ step: 'upload_metadata', status: 503, times: 4 })
  const r = await client.upload(upload(payload('never')))
  assert.equal(r.kind, 'failed')
  assert.deepEqual(stepsOf(standIn).slice(-5), ['upload_metadata 503', 'upload_metadata 503', 'upload_metadata 503', 'upload_metadata 503', 'close_upload_session 200'])
  assert.equal(standIn.locks.size, 0)
})

test('a tag locked by another session is retried, then fails without touching the other session', async t => {
  const { standIn, client } = await setup(t)
  const other = standIn.lockByOtherSession('PPSDiamondTimingCalibration_pcl')
  const r = await client.upload(upload(payload('locked out')))
  assert.ok(r.kind === 'failed')
  assert.match(r.reason, /lock held by another session/)
  assert.deepEqual(stepsOf(standIn), ['get_upload_session 409', 'get_upload_session 409', 'get_upload_session 409', 'get_upload_session 409'])
  assert.equal(standIn.locks.get('PPSDiamondTimingCalibration_pcl'), other)
})

test('a lock released while retrying lets the upload through', async t => {
  const { standIn, client } = await setup(t)
  standIn.lockByOtherSession('PPSDiamondTimingCalibration_pcl')
  setTimeout(() => standIn.locks.clear(), 1)
  const slow = createDropboxClient({ url: standIn.url, username: 'cmsuser', password: 'secret', retries: 3, retryDelayMs: 50, timeoutMs: 5000 })
  void client
  const r = await slow.upload(upload(payload('after the lock')))
  assert.equal(r.kind, 'uploaded')
})

test('a Run tag speaks the Lumi form: since 367100 with the service FCSR at 367000 goes as 367100 << 32 and is stored at 367100', async t => {
  const { standIn, client } = await setup(t)
  standIn.setFcsr(367000n)
  const p = payload('run 367100')
  const r = await client.upload(upload(p, { iovs: [{ since: 367100n, payloadHash: p.hash }], since: 367100n }))
  assert.ok(r.kind === 'uploaded', r.kind === 'uploaded' ? '' : r.reason)
  assert.deepEqual(r.iovs.map(i => i.since), [367100n])
  assert.equal(r.requestedSince, undefined)
  assert.deepEqual(standIn.iovs.map(i => [i.since, i.sentSince]), [[367100n, 367100n << 32n]])
  assert.deepEqual(standIn.metadataSinces, [367100n << 32n])
  assert.ok(r.notes.some(n => /since 367100 is at or after the service's first condition-safe run 367000/.test(n)), r.notes.join('; '))
})

test('below the service FCSR a pcl since is refused and the session closed; a prompt one is moved up to it', async t => {
  const { standIn, client } = await setup(t)
  standIn.setFcsr(367000n)
  const p = payload('run 366900')
  const pcl = await client.upload(upload(p, { iovs: [{ since: 366900n, payloadHash: p.hash }], since: 366900n }))
  assert.ok(pcl.kind === 'rejected')
  assert.match(pcl.reason, /^fcsr: since 366900 of pcl tag 'PPSDiamondTimingCalibration_pcl' is before the service's first condition-safe run 367000: a pcl tag refuses it/)
  assert.deepEqual(stepsOf(standIn), ['get_upload_session 200', 'get_fcsr 200', 'close_upload_session 200'])
  assert.equal(standIn.iovs.length, 0)

  const prompt = await client.upload(upload(p, {
    tag: { name: 'PPSDiamondTimingCalibration_prompt', timeType: 'Run', objectType, synchronization: 'prompt', description: '', exists: false },
    iovs: [{ since: 366900n, payloadHash: p.hash }],
    since: 366900n
  }))
  assert.ok(prompt.kind === 'uploaded', prompt.kind === 'uploaded' ? '' : prompt.reason)
  assert.equal(prompt.requestedSince, 366900n)
  assert.deepEqual(standIn.iovs.map(i => [i.tag, i.since, i.sentSince]), [['PPSDiamondTimingCalibration_prompt', 367000n, 367000n << 32n]])
  assert.deepEqual(standIn.metadataSinces, [367000n << 32n])
})

test('the service keeps offline tags append-only and mc tags write-once, and has no FCSR for them', async t => {
  const { standIn, client } = await setup(t)
  standIn.setFcsr(367000n)
  const p = payload('offline')
  const at = (name: string, synchronization: string, since: bigint) => upload(p, {
    tag: { name, timeType: 'Run', objectType, synchronization, description: '', exists: false }, iovs: [{ since, payloadHash: p.hash }], since
  })
  const results = []
  for (const since of [1n, 1000n, 500n, 1000n, 2000n]) results.push(await client.upload(at('Offline_tag', 'offline', since)))
  assert.deepEqual(results.map(r => r.kind), ['uploaded', 'uploaded', 'rejected', 'rejected', 'uploaded'])
  assert.match(results[2]!.kind === 'rejected' ? results[2]!.reason : '', /upload_metadata answered HTTP 400: since 500 is not after the last since 1000 of offline tag Offline_tag/)
  assert.deepEqual(standIn.iovs.filter(i => i.tag === 'Offline_tag').map(i => i.since), [1n, 1000n, 2000n])

  assert.equal((await client.upload(at('Mc_tag', 'mc', 1n))).kind, 'uploaded')
  const again = await client.upload(at('Mc_tag', 'mc', 200n))
  assert.ok(again.kind === 'rejected')
  assert.match(again.reason, /written only when created/)
  assert.equal(standIn.locks.size, 0)
})

test('a tag whose synchronization changed at the service is checked with the service\'s synchronization', async t => {
  const { standIn, client } = await setup(t)
  standIn.setFcsr(367000n)
  const p = payload('changed')
  const any = upload(p, { tag: { name: 'Changed_tag', timeType: 'Run', objectType, synchronization: 'any', description: '', exists: false }, iovs: [{ since: 1n, payloadHash: p.hash }], since: 1n })
  assert.equal((await client.upload(any)).kind, 'uploaded')
  standIn.setSynchronization('Changed_tag', 'pcl')
  const r = await client.upload({ ...any, iovs: [{ since: 200n, payloadHash: p.hash }], since: 200n })
  assert.ok(r.kind === 'rejected')
  assert.match(r.reason, /since 200 of pcl tag 'Changed_tag' is before the service's first condition-safe run 367000/)
})

test('wrong credentials fail at the session step with the service error', async t => {
  const { standIn } = await setup(t)
  const client = createDropboxClient({ url: standIn.url, username: 'cmsuser', password: 'wrong', retries: 3, retryDelayMs: 5, timeoutMs: 5000 })
  const r = await client.upload(upload(payload('x')))
  assert.ok(r.kind === 'failed')
  assert.match(r.reason, /authentication failed/)
  assert.deepEqual(stepsOf(standIn), ['get_upload_session 401'])
})

test('an unreachable service fails after the retries', async () => {
  const client = createDropboxClient({ url: 'http://127.0.0.1:1/cmsDbCondUpload/', username: 'u', password: 'p', retries: 2, retryDelayMs: 1, timeoutMs: 2000 })
  const r = await client.upload(upload(payload('x')))
  assert.ok(r.kind === 'failed')
  assert.match(r.reason, /get_upload_session failed after 3 attempts: network error/)
})

test('Time sinces above 2^53 travel as exact JSON integers, and a Time tag asks for no FCSR', async t => {
  const { standIn, client } = await setup(t)
  const since = (BigInt(1_657_447_200) << 32n) | 1n
  assert.notEqual(BigInt(Number(since)), since)
  const p = payload('time')
  const r = await client.upload(upload(p, {
    tag: { name: 'BeamSpotObjects_time', timeType: 'Time', objectType, synchronization: 'any', description: '', exists: false },
    inputTag: { ...inputTag, timeType: 'Time' },
    iovs: [{ since, payloadHash: p.hash }],
    since: undefined
  }))
  assert.equal(r.kind, 'uploaded')
  assert.deepEqual(standIn.iovs.map(i => i.since), [since])
  assert.ok(!stepsOf(standIn).some(s => s.startsWith('get_fcsr')))
})
