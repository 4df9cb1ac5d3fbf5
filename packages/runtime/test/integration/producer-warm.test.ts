// startProducer's `warm`: the metadata of a service's hot-path topics is
// fetched at start, so the first publish after the service is ready sends
// its Produce request without a Metadata request first (that wait was the
// slowest run of `pnpm bench`'s latency row, the first after a start).
// The real broker; the kafkajs connection's send is observed (not replaced)
// to list the Kafka API requests in the order they go out.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { create } from '@bufbuild/protobuf'
import { RunEventSchema, topics } from '@autocal/contracts'
import { startProducer } from '../../src/bus/producer.ts'
import { memoryLogger, testConfig } from '../fixtures.ts'

interface Request { request: { apiName: string } }
const Connection = createRequire(import.meta.url)('kafkajs/src/network/connection') as { prototype: { send: (this: unknown, args: Request) => Promise<unknown> } }
const requests: string[] = []
const send = Connection.prototype.send
Connection.prototype.send = function (this: unknown, args: Request) {
  requests.push(args.request.apiName)
  return send.call(this, args)
}
after(() => { Connection.prototype.send = send })

for (const [warm, metadataFirst] of [[true, false], [false, true]] as const) {
  test(`${warm ? 'with' : 'without'} warm, the first publish after start ${metadataFirst ? 'asks for the topic\'s metadata first' : 'is a Produce request alone'}`, async () => {
    const config = testConfig()
    const { logger } = memoryLogger()
    await using producer = await startProducer({ config, logger, service: 'test', ...(warm ? { warm: [topics.runs] } : {}) })
    const from = requests.length
    await producer.publish(topics.runs, create(RunEventSchema, { run: 355100, contentHash: 'a', source: 'test' }))
    const during = requests.slice(from)
    assert.ok(during.includes('Produce'), `a Produce request was sent: ${during.join(', ')}`)
    assert.equal(during.slice(0, during.indexOf('Produce')).includes('Metadata'), metadataFirst, `requests of the first publish: ${during.join(', ')}`)
  })
}

test('a warm topic that does not exist yet is left to the first publish: the producer still starts', async () => {
  // no topic is created under this prefix: a metadata request for it would be retried until kafkajs gives up (about 20 s) and fail the start
  const config = testConfig({ AUTOCAL_KAFKA_CREATE_TOPICS: 'false' })
  const { logger } = memoryLogger()
  await using producer = await startProducer({ config, logger, service: 'test', warm: [topics.runs, topics.tasks] })
  assert.equal(producer.nameOf(topics.runs), `${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.autocal.runs.v1`)
})
