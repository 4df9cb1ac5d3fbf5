// The uploader with AUTOCAL_UPLOAD_TARGET=dropbox, over the real local Kafka
// and Redis, against the STAND-IN of the CMS conditions upload service.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Outcome } from '@autocal/contracts'
import { openUploadHistory } from '../../src/adapters/upload-history.ts'
import { writePayloadFile } from '../helpers/conddb-files.ts'
import { startHarness, type Harness } from '../helpers/harness.ts'
import { startUploadServiceStandIn, type UploadServiceStandIn } from '../stand-ins/conditions-upload-service.ts'

let dir: string
let h: Harness
let standIn: UploadServiceStandIn

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'uploader-dropbox-'))
  standIn = await startUploadServiceStandIn({ fcsr: 355000n, username: 'cmsuser', password: 'secret' })
  h = await startHarness(join(dir, 'data'), {
    AUTOCAL_UPLOAD_TARGET: 'dropbox',
    AUTOCAL_DROPBOX_URL: standIn.url,
    AUTOCAL_DROPBOX_USERNAME: 'cmsuser',
    AUTOCAL_DROPBOX_PASSWORD: 'secret',
    AUTOCAL_DROPBOX_RETRY_MS: '5'
  })
})
after(async () => {
  await h[Symbol.asyncDispose]()
  await standIn.close()
  rmSync(dir, { recursive: true, force: true })
})

let n = 0
function file (data: string): { path: string, hash: string } {
  const path = join(dir, `payload-${++n}.db`)
  const [hash] = writePayloadFile(path, { objectType: 'PPSTimingCalibration', iovs: [{ since: 1n, data }] })
  return { path, hash: hash! }
}
const sessionSteps = (from: number): string[] => standIn.steps.slice(from).map(s => `${s.step} ${s.status}`)

test('a request is uploaded through the protocol, retrying a 503, and a redelivery sends nothing again', async () => {
  const f = file('pps timing')
  standIn.fail({ step: 'store_payload', status: 503, times: 2 })
  const from = standIn.steps.length
  const init = { requestId: 'r/db/1', payloadFile: f.path, destinationTag: 'PPSDiamondTimingCalibration_pcl', synchronization: 'pcl', since: 355100n, userText: 'pps' }
  await h.send(init)
  const [event] = await h.outcomeOf('r/db/1')
  assert.equal(event?.outcome, Outcome.UPLOADED, event?.reason)
  assert.equal(event.target, `dropbox:${standIn.url}`)
  assert.equal(event.since, 355100n)
  assert.deepEqual(sessionSteps(from), [
    'get_upload_session 200', 'get_fcsr 200', 'check_hashes 200', 'store_payload 503', 'store_payload 503', 'store_payload 200', 'upload_metadata 200'
  ])
  assert.deepEqual(standIn.iovs.filter(i => i.tag === 'PPSDiamondTimingCalibration_pcl').map(i => [i.since, i.payloadHash]), [[355100n, f.hash]])

  const before = standIn.steps.length
  await h.send(init)
  await h.outcomeOf('r/db/1', 2)
  assert.equal(standIn.steps.length, before, 'no request reached the service')
  const history = await h.get('/api/v1/uploads?request=r/db/1')
  assert.equal(history.body.uploads[0].target, `dropbox:${standIn.url}`)
})

test('a server error mid-way fails the request and the session is closed', async () => {
  standIn.fail({ step: 'upload_metadata', status: 500, error: 'internal error while writing IOVs' })
  const from = standIn.steps.length
  await h.send({ requestId: 'r/db/2', payloadFile: file('breaks').path, destinationTag: 'PPS_broken_pcl', synchronization: 'pcl', since: 355100n })
  const [event] = await h.outcomeOf('r/db/2')
  assert.equal(event?.outcome, Outcome.FAILED)
  assert.match(event.reason, /upload_metadata answered HTTP 500: internal error while writing IOVs/)
  assert.deepEqual(sessionSteps(from).slice(-2), ['upload_metadata 500', 'close_upload_session 200'])
  assert.equal(standIn.locks.has('PPS_broken_pcl'), false)
})

test('a tag locked by another session fails with the reason after the retries', async () => {
  standIn.lockByOtherSession('PPS_locked_pcl')
  await h.send({ requestId: 'r/db/3', payloadFile: file('locked').path, destinationTag: 'PPS_locked_pcl', synchronization: 'pcl', since: 355100n })
  const [event] = await h.outcomeOf('r/db/3')
  assert.equal(event?.outcome, Outcome.FAILED)
  assert.match(event.reason, /tag lock held by another session/)
})

test('an attempt interrupted after opening an upload is not sent again', async () => {
  const history = openUploadHistory(join(dir, 'data', 'condition-uploads.sqlite'))
  history.record({
    requestId: 'r/db/4',
    state: 'pending',
    outcome: 'FAILED',
    tag: 'PPS_crash_pcl',
    since: '355100',
    requestedSince: null,
    payloadHash: '',
    target: `dropbox:${standIn.url}`,
    reason: 'in progress',
    decisions: [],
    iovs: [],
    eventId: '',
    at: new Date().toISOString(),
    event: new Uint8Array()
  })
  history.close()
  const from = standIn.steps.length
  await h.send({ requestId: 'r/db/4', payloadFile: file('crash').path, destinationTag: 'PPS_crash_pcl', synchronization: 'pcl', since: 355100n })
  const [event] = await h.outcomeOf('r/db/4')
  assert.equal(event?.outcome, Outcome.FAILED)
  assert.match(event.reason, /may have completed, so it is not sent again/)
  assert.equal(standIn.steps.length, from)
})

test('a Run tag at 367100 with the service FCSR at 367000 is UPLOADED at 367100 (sent as 367100 << 32); below it a pcl tag is REJECTED', async () => {
  standIn.setFcsr(367000n)
  const from = standIn.steps.length
  await h.send({ requestId: 'r/db/lumi-form', payloadFile: file('run 367100').path, destinationTag: 'PPS_fcsr_pcl', synchronization: 'pcl', since: 367100n })
  const [uploaded] = await h.outcomeOf('r/db/lumi-form')
  assert.equal(uploaded?.outcome, Outcome.UPLOADED, uploaded?.reason)
  assert.equal(uploaded.since, 367100n)
  assert.deepEqual(standIn.iovs.filter(i => i.tag === 'PPS_fcsr_pcl').map(i => [i.since, i.sentSince]), [[367100n, 367100n << 32n]])
  assert.equal(standIn.metadataSinces.at(-1), 367100n << 32n)
  assert.match(uploaded.reason, /since 367100 is at or after the service's first condition-safe run 367000/)

  const below = standIn.steps.length
  await h.send({ requestId: 'r/db/below', payloadFile: file('run 366900').path, destinationTag: 'PPS_fcsr_pcl', synchronization: 'pcl', since: 366900n })
  const [refused] = await h.outcomeOf('r/db/below')
  assert.equal(refused?.outcome, Outcome.REJECTED)
  assert.match(refused.reason, /^service: fcsr: since 366900 of pcl tag 'PPS_fcsr_pcl' is before the service's first condition-safe run 367000: a pcl tag refuses it/)
  assert.deepEqual(sessionSteps(below), ['get_upload_session 200', 'get_fcsr 200', 'close_upload_session 200'])
  assert.equal(standIn.iovs.filter(i => i.tag === 'PPS_fcsr_pcl').length, 1)
  assert.ok(from < below)
})

test('with the Tier-0 FCSR known, a pcl since below it is REJECTED before any session is opened', async () => {
  await h.sendFcsr(368000)
  const from = standIn.steps.length
  await h.send({ requestId: 'r/db/pre-session', payloadFile: file('run 367500').path, destinationTag: 'PPS_pre_pcl', synchronization: 'pcl', since: 367500n })
  const [refused] = await h.outcomeOf('r/db/pre-session')
  assert.equal(refused?.outcome, Outcome.REJECTED)
  assert.match(refused.reason, /^fcsr: since 367500 of pcl tag 'PPS_pre_pcl' is before the first condition-safe run 368000: a pcl tag refuses it/)
  assert.equal(standIn.steps.length, from, 'no request reached the service')
})
