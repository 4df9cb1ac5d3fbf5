// An uploader stopping while a dropbox step waits out its retry delay, over
// the real local Kafka and Redis, against the STAND-IN of the CMS conditions
// upload service: the close cancels the wait instead of sitting it out, and
// the request stays uncommitted for the next uploader.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Outcome } from '@autocal/contracts'
import { startUploader } from '../../src/app.ts'
import { writePayloadFile } from '../helpers/conddb-files.ts'
import { memoryLogger } from '../helpers/fixtures.ts'
import { startHarness } from '../helpers/harness.ts'
import { startUploadServiceStandIn } from '../stand-ins/conditions-upload-service.ts'
import { until } from '../../../../test/helpers/until.ts'

test('an uploader stopped during a dropbox retry wait closes at once and leaves the request to the next one', { timeout: 60_000 }, async t => {
  // the retry delay is ten minutes: the test's deadline fails it unless the close cancels the wait
  const dir = mkdtempSync(join(tmpdir(), 'uploader-stopping-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const standIn = await startUploadServiceStandIn({ fcsr: 355000n, username: 'cmsuser', password: 'secret' })
  t.after(async () => { await standIn.close() })
  const h = await startHarness(join(dir, 'data'), {
    AUTOCAL_UPLOAD_TARGET: 'dropbox',
    AUTOCAL_DROPBOX_URL: standIn.url,
    AUTOCAL_DROPBOX_USERNAME: 'cmsuser',
    AUTOCAL_DROPBOX_PASSWORD: 'secret',
    AUTOCAL_DROPBOX_RETRIES: '3',
    AUTOCAL_DROPBOX_RETRY_MS: '600000'
  })
  t.after(async () => { await h[Symbol.asyncDispose]() })

  const path = join(dir, 'payload.db')
  writePayloadFile(path, { objectType: 'PPSTimingCalibration', iovs: [{ since: 1n, data: 'stopping' }] })
  standIn.fail({ step: 'get_upload_session', status: 503, times: 1 })
  await h.send({ requestId: 'r/stop/1', payloadFile: path, destinationTag: 'PPS_stopping_pcl', synchronization: 'pcl', since: 355100n })
  await until('the first get_upload_session answered 503', () => standIn.steps.some(s => s.step === 'get_upload_session' && s.status === 503))

  await h.uploaders[0]![Symbol.asyncDispose]()
  assert.equal(h.events.length, 0, 'the stopped uploader published no outcome')

  // the next uploader (same group) gets the uncommitted request; the history
  // marked the upload as begun, so it answers by the rule for an interrupted attempt
  const { logger } = memoryLogger()
  const next = await startUploader({ ...h.config, AUTOCAL_DROPBOX_RETRY_MS: 5 }, logger)
  t.after(async () => { await next[Symbol.asyncDispose]() })
  const [event] = await h.outcomeOf('r/stop/1')
  assert.equal(event?.outcome, Outcome.FAILED)
  assert.match(event.reason, /earlier attempt of request r\/stop\/1 was interrupted/)
})
