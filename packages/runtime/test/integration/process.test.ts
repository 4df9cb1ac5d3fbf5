// Consumers as real processes: SIGKILL mid-batch loses nothing, SIGTERM
// commits what was handled and exits 0.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { create } from '@bufbuild/protobuf'
import { RunEventSchema, topics, topicName } from '@autocal/contracts'
import { startProducer } from '../../src/bus/producer.ts'
import { createKafka } from '../../src/bus/kafka.ts'
import { memoryLogger, testConfig, until } from '../fixtures.ts'

const script = new URL('./consumer-process.ts', import.meta.url).pathname

function startProcess (env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr?.on('data', () => {})
  return child
}

async function ready (child: ChildProcess): Promise<void> {
  let out = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('READY')) resolve() })
    child.once('exit', code => reject(new Error(`exited ${code} before ready`)))
  })
}

function handled (file: string): number[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : []
}

test('a consumer killed with SIGKILL mid-batch redelivers, and no message is lost', async t => {
  const config = testConfig()
  // a short session timeout lets the group notice the killed member sooner
  const env = { AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX, AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX, AUTOCAL_LOG_LEVEL: 'warn', AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: '8000' }
  const out = join(mkdtempSync(join(tmpdir(), 'autocal-')), 'handled.txt')
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  const runs = Array.from({ length: 200 }, (_, i) => 1000 + i)
  await producer.publishMany(topics.runs, runs.map(run => create(RunEventSchema, { run })))

  const first = startProcess({ ...env, TEST_OUT: out, TEST_HANDLER_MS: '20' })
  t.after(() => first.kill('SIGKILL'))
  await ready(first)
  await until('some handled', () => handled(out).length >= 40, 60_000)
  first.kill('SIGKILL')
  await once(first, 'exit')
  const beforeKill = handled(out).length
  assert.ok(beforeKill < runs.length, 'killed mid-stream')

  const second = startProcess({ ...env, TEST_OUT: out, TEST_HANDLER_MS: '1' })
  t.after(() => second.kill('SIGKILL'))
  await ready(second)
  await until('every run handled', () => new Set(handled(out)).size === runs.length, 60_000)
  assert.deepEqual([...new Set(handled(out))].sort(), runs)
  second.kill('SIGTERM')
  const [code] = await once(second, 'exit')
  assert.equal(code, 0)
})

test('SIGTERM stops the consumer, commits the handled offsets and exits 0', async t => {
  const config = testConfig()
  const env = { AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX, AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX, AUTOCAL_LOG_LEVEL: 'warn' }
  const out = join(mkdtempSync(join(tmpdir(), 'autocal-')), 'handled.txt')
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test' })
  await producer.publishMany(topics.runs, [1, 2, 3, 4, 5, 6].map(run => create(RunEventSchema, { run })))
  const child = startProcess({ ...env, TEST_OUT: out, TEST_HANDLER_MS: '1' })
  t.after(() => child.kill('SIGKILL'))
  await ready(child)
  await until('six handled', () => handled(out).length === 6, 60_000)
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit')
  assert.equal(code, 0)
  const admin = createKafka(config, logger, 'probe').admin()
  await admin.connect()
  const offsets = await admin.fetchOffsets({ groupId: `${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.process-test`, topics: [topicName(topics.runs, config.AUTOCAL_KAFKA_TOPIC_PREFIX)] })
  await admin.disconnect()
  assert.equal(offsets[0]?.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0), 6)
})

test('a consumer that cannot restart closes the service gracefully and exits 1', async t => {
  const config = testConfig()
  // INVALID_SESSION_TIMEOUT at join: kafkajs crashes the consumer with restart false
  const env = { AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX, AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX, AUTOCAL_LOG_LEVEL: 'info', AUTOCAL_KAFKA_SESSION_TIMEOUT_MS: '1000' }
  const out = join(mkdtempSync(join(tmpdir(), 'autocal-')), 'handled.txt')
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env, TEST_OUT: out }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => child.kill('SIGKILL'))
  let log = ''
  child.stdout?.on('data', (d: Buffer) => { log += d.toString() })
  const [code] = await once(child, 'exit')
  assert.equal(code, 1)
  const lines = log.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { msg: string, exitCode?: number, reason?: string })
  assert.ok(lines.some(l => l.msg === 'consumer crashed and will not restart'))
  assert.match(lines.find(l => l.msg === 'failed for good: shutting down to be restarted')?.reason ?? '', /cannot restart/)
  assert.equal(lines.find(l => l.msg === 'stopped')?.exitCode, 1, 'closed gracefully before exiting')
})
