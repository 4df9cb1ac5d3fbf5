// The service as a real process (node src/index.ts) and the example
// subscriber as another: a request in, the new IOV printed by the
// subscriber from the JSON form, SIGTERM stops the service cleanly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { create } from '@bufbuild/protobuf'
import { ConditionRequestSchema, topics, type ConditionEventJson } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'
import { tempDir, writePayloadFile } from '../helpers/conddb-files.ts'
import { memoryLogger, testConfig, until } from '../helpers/fixtures.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

function lines (child: ChildProcess, stream: 'stdout' | 'stderr'): string[] {
  const out: string[] = []
  let rest = ''
  child[stream]?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n')
    rest = parts.pop() ?? ''
    out.push(...parts.filter(l => l.trim() !== ''))
  })
  return out
}

test('the service process uploads a request, the example subscriber prints the new IOV, SIGTERM exits 0', async t => {
  const dir = tempDir(t)
  const config = testConfig(join(dir, 'data'))
  const env = {
    ...process.env,
    AUTOCAL_KAFKA_BROKERS: config.AUTOCAL_KAFKA_BROKERS,
    AUTOCAL_REDIS_URL: config.AUTOCAL_REDIS_URL,
    AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX,
    AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX,
    AUTOCAL_DATA_DIR: join(dir, 'data'),
    AUTOCAL_HTTP_PORT: '0',
    AUTOCAL_LOG_LEVEL: 'info',
    AUTOCAL_READ_TOKENS: 'reader:process-test-read-token'
  }
  const service = spawn(process.execPath, ['src/index.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (service.exitCode === null) service.kill('SIGKILL') })
  const logs = lines(service, 'stdout')
  await until('service consuming', () => logs.some(l => l.includes('condition-uploader consuming')))
  const listening = JSON.parse(logs.find(l => l.includes('condition-uploader listening'))!) as { address: string }

  // the topics exist once the service consumes; the subscriber starts then
  const group = `pog-${randomUUID().slice(0, 8)}`
  const subscriber = spawn(process.execPath, ['src/examples/subscriber.ts', '--prefix', config.AUTOCAL_KAFKA_TOPIC_PREFIX, '--group', group, '--from-beginning'],
    { cwd: root, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (subscriber.exitCode === null) subscriber.kill('SIGKILL') })
  const printed = lines(subscriber, 'stdout')
  const complaints = lines(subscriber, 'stderr')
  t.after(() => { if (printed.length === 0) t.diagnostic(complaints.join('\n')) })

  // under the default output root, <AUTOCAL_DATA_DIR>/jobs, where job outputs are
  const payload = join(dir, 'data', 'jobs', 'prompt', 'run-361000', 'timing-calib', 'a1', 'j0', 'timing.db')
  mkdirSync(dirname(payload), { recursive: true })
  const [hash] = writePayloadFile(payload, { iovs: [{ since: 1n, data: 'from a process' }] })
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  await producer.publish(topics.conditionRequests, create(ConditionRequestSchema, {
    requestId: 'prompt/run-361000/timing-calib/1', payloadFile: payload, destinationTag: 'EcalTimeCalibConstants_hlt', synchronization: 'hlt', since: 361000n, record: 'EcalTimeCalibConstantsRcd'
  }), { eventId: 'conditions.requests/prompt/run-361000/timing-calib/1' })

  await until('subscriber printed the IOV', () => printed.length > 0)
  const json = JSON.parse(printed[0]!) as ConditionEventJson
  assert.equal(json.outcome, 'OUTCOME_UPLOADED')
  assert.equal(json.tag, 'EcalTimeCalibConstants_hlt')
  assert.equal(json.since, '361000', '64-bit since as a JSON string')
  assert.equal(json.payloadHash, hash)

  const iovs = await (await fetch(new URL('/api/v1/tags/EcalTimeCalibConstants_hlt/iovs', listening.address), { headers: { authorization: 'Bearer process-test-read-token' } })).json() as { iovs: Array<{ since: string }> }
  assert.deepEqual(iovs.iovs.map(i => i.since), ['361000'])

  service.kill('SIGTERM')
  const [code] = await once(service, 'exit') as [number | null]
  assert.equal(code, 0)
  subscriber.kill('SIGTERM')
  await once(subscriber, 'exit')
})
