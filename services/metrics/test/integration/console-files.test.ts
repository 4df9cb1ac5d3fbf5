// The console's file route: a job's plot outputs are served only when the job
// reported them with label "plot", as PNG or SVG, from below the data
// directory (symlinks followed); anything else is refused with the reason.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { JobPhase, JobStatusSchema, topics } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { cleanUp, quietLogger, testConfig, until, topicsReady } from './fixtures.ts'

test('the file route serves only a job\'s PNG/SVG outputs labelled plot, from below the data directory', { timeout: 120_000 }, async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'autocal-console-files-'))
  const outside = mkdtempSync(join(tmpdir(), 'autocal-console-outside-'))
  const config = testConfig({ AUTOCAL_DATA_DIR: dataDir })
  const logger = quietLogger()
  const producer = await startProducer({ config, logger, service: 'test' })
  const service = await startMetricsService(config, logger)
  t.after(async () => {
    await service[Symbol.asyncDispose]()
    await producer[Symbol.asyncDispose]()
    await cleanUp(config, logger)
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(outside, { recursive: true, force: true })
  })
  await topicsReady(config)
  const png = Buffer.from('89504e470d0a1a0a', 'hex')
  writeFileSync(join(dataDir, 'plot.png'), png)
  writeFileSync(join(dataDir, 'data.png'), png)
  writeFileSync(join(dataDir, 'notes.txt'), 'x')
  writeFileSync(join(outside, 'secret.png'), png)
  symlinkSync(join(outside, 'secret.png'), join(dataDir, 'link.png'))
  const outputs = [['plot.png', 'plot'], ['data.png', 'data'], ['notes.txt', 'plot'], ['link.png', 'plot'], ['gone.svg', 'plot']]
    .map(([p, label]) => ({ path: join(dataDir, p!), sizeBytes: 8n, sha256: '0'.repeat(64), label: label! }))
  await producer.publish(topics.jobStatus, create(JobStatusSchema, {
    jobId: 'prompt/run-356381/timing-reco/1/0',
    try: 1,
    jobIndex: 0,
    phase: JobPhase.DONE,
    exitCode: 0,
    backend: 'local',
    executor: 'e1',
    outputs,
    provenance: { subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', blockId: 'run-356381', task: 'timing-reco', taskAttempt: 1, inputRuns: [356381] }
  }))
  const file = (path: string, job = 'prompt/run-356381/timing-reco/1/0'): string => `${service.url}/console/api/files?${new URLSearchParams({ task: 'prompt/run-356381/timing-reco', job, try: '1', path })}`
  await until('the job status', async () => (await fetch(file(join(dataDir, 'plot.png')))).status === 200)
  const ok = await fetch(file(join(dataDir, 'plot.png')))
  assert.equal(ok.headers.get('content-type'), 'image/png')
  assert.match(ok.headers.get('content-security-policy') ?? '', /sandbox/)
  assert.deepEqual(Buffer.from(await ok.arrayBuffer()), png)
  const cases: Array<[string, string, number, RegExp]> = [
    ['an output labelled data', file(join(dataDir, 'data.png')), 403, /labelled 'data', not 'plot'/],
    ['a plot that is not PNG or SVG', file(join(dataDir, 'notes.txt')), 403, /not a PNG or SVG/],
    ['a symlink leading out of the data directory', file(join(dataDir, 'link.png')), 403, /outside the data directory/],
    ['a file that is not an output', file(join(outside, 'secret.png')), 404, /is not an output of this job/],
    ['a path through ..', file(join(dataDir, '..', 'plot.png')), 404, /is not an output of this job/],
    ['a declared output that is gone', file(join(dataDir, 'gone.svg')), 404, /does not exist/],
    ['an unknown job', file(join(dataDir, 'plot.png'), 'prompt/run-1/x/1/0'), 404, /is not known/]
  ]
  for (const [name, url, status, message] of cases) {
    const res = await fetch(url)
    assert.equal(res.status, status, name)
    assert.match((await res.json() as { message: string }).message, message, name)
  }
  assert.ok(existsSync(join(dataDir, 'plot.png')))
})
