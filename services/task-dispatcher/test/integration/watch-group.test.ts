// A dispatcher replica's own consumer group (the watch group behind the
// control API's task streams) is gone once the replica stops, on the real
// local Kafka: one group per dispatcher process must not pile up.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createKafka } from '@autocal/runtime'
import { silentLogger, startDispatcher, testConfig } from './fixtures.ts'

test('a stopped dispatcher leaves no consumer group of its own behind', { timeout: 120_000 }, async t => {
  const config = testConfig()
  const instance = `watch-${randomUUID().slice(0, 8)}`
  const admin = createKafka(config, silentLogger, 'test-groups').admin()
  await admin.connect()
  t.after(async () => { await admin.disconnect() })
  const groups = async (): Promise<string[]> => (await admin.listGroups()).groups.map(g => g.groupId).filter(g => g.startsWith(`${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.`))

  const dispatcher = await startDispatcher(config, { AUTOCAL_INSTANCE_ID: instance })
  const watchGroup = `${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.task-dispatcher-watch-${instance}`
  const running = await groups()
  assert.ok(running.includes(watchGroup), `the running replica has its watch group (groups: ${running.join(', ')})`)
  assert.ok(running.includes(`${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.task-dispatcher`))

  await dispatcher[Symbol.asyncDispose]()
  const left = await groups()
  assert.ok(!left.includes(watchGroup), `the watch group is deleted on close (groups left: ${left.join(', ')})`)
  // the service's shared group stays: its committed offsets are the dispatcher's progress
  assert.ok(left.includes(`${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.task-dispatcher`))
})
