// The FCSR read model: kept in Redis from the run-watcher's fcsr facts, the
// highest wins, and rebuilt from the runs topic when Redis has lost it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { startUploader } from '../../src/app.ts'
import { tempDir } from '../helpers/conddb-files.ts'
import { memoryLogger, testConfig, until } from '../helpers/fixtures.ts'
import { startHarness } from '../helpers/harness.ts'
import { create } from '@bufbuild/protobuf'
import { RegistryEntrySchema, topics } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'

test('the highest FCSR is kept, and a replica with an empty Redis rebuilds it from the runs topic', async t => {
  const dir = tempDir(t)
  const h = await startHarness(join(dir, 'data'))
  try {
    await h.sendFcsr(355500)
    await h.sendFcsr(355400) // an older fact arriving late does not move it back
    await h.sendFcsr(355600)
    assert.equal((await h.get('/api/v1/fcsr')).body.fcsr, 355600)
  } finally {
    await h[Symbol.asyncDispose]()
  }
  // same Kafka topics and groups, Redis lost (a new key prefix)
  const config = { ...h.config, AUTOCAL_REDIS_KEY_PREFIX: `${h.config.AUTOCAL_REDIS_KEY_PREFIX}lost-${randomUUID().slice(0, 4)}:` }
  const { logger } = memoryLogger()
  await using uploader = await startUploader(config, logger)
  await until('FCSR rebuilt', async () => {
    const body = await (await fetch(new URL('/api/v1/fcsr', uploader.url))).json() as { fcsr: number | null }
    return body.fcsr === 355600
  })
})

test('with an empty Redis and a runs topic that no longer holds the FCSR fact, the FCSR comes back from the run registry', async t => {
  const dir = tempDir(t)
  const config = testConfig(join(dir, 'data'))
  const { logger } = memoryLogger()
  // the run-watcher's registry mark: the runs topic's fact is gone (retention), the compacted registry keeps it
  {
    await using producer = await startProducer({ config, logger, service: 'test-run-watcher' })
    await producer.publish(topics.runRegistry, create(RegistryEntrySchema, { run: 355700, entry: { case: 'mark', value: { name: 'fcsr', value: 355700, sequence: 4 } } }))
  }
  await using uploader = await startUploader(config, logger)
  const body = await (await fetch(new URL('/api/v1/fcsr', uploader.url))).json() as { fcsr: number | null }
  assert.equal(body.fcsr, 355700, 'known as soon as the uploader listens')
})
