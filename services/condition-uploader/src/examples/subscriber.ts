// Example downstream subscriber of autocal.conditions.v1: prints every new
// IOV (outcome UPLOADED; all outcomes with --all) as one line of the proto3
// JSON form of ConditionEvent, e.g.
//   {"requestId":"prompt/run-355100/timing-calib/1","outcome":"OUTCOME_UPLOADED",
//    "tag":"EcalTimeCalibConstants_prompt","since":"355100","payloadHash":"…", …}
// 64-bit sinces are JSON strings. A subscriber in any language does the same:
// join a consumer group, decode the value (protobuf, or JSON when the
// content-type header says application/json), act on the JSON form.
//
//   node services/condition-uploader/src/examples/subscriber.ts --group my-pog \
//     [--prefix <topic prefix>] [--brokers 127.0.0.1:9092] [--all] [--from-beginning]
//
// Logs go to stderr; IOV lines to stdout. Stops on SIGINT/SIGTERM.
import { parseArgs } from 'node:util'
import { fromBinary, fromJsonString, toJson } from '@bufbuild/protobuf'
import { ConditionEventSchema, contentTypes, headers, topicName, topics, type ConditionEventJson } from '@autocal/contracts'
import { connectionEnv, createKafka, createLogger, headerValue, kafkaShape, loadConfig } from '@autocal/runtime'
import { z } from 'zod'

const { values } = parseArgs({
  options: {
    group: { type: 'string' },
    prefix: { type: 'string', default: process.env.AUTOCAL_KAFKA_TOPIC_PREFIX ?? '' },
    brokers: { type: 'string', default: process.env.AUTOCAL_KAFKA_BROKERS ?? '127.0.0.1:9092' },
    all: { type: 'boolean', default: false },
    'from-beginning': { type: 'boolean', default: false }
  }
})
if (values.group === undefined || values.group === '') {
  process.stderr.write('usage: subscriber.ts --group <consumer group> [--prefix <topic prefix>] [--brokers host:port] [--all] [--from-beginning]\n')
  process.exit(2)
}

const logger = createLogger({ service: 'conditions-subscriber', level: 'warn', destination: process.stderr })
// TLS and SASL settings (AUTOCAL_KAFKA_TLS_*, AUTOCAL_KAFKA_SASL_MECHANISM, …) come from the environment
const config = loadConfig(z.object(kafkaShape), { ...connectionEnv(), AUTOCAL_KAFKA_BROKERS: values.brokers, AUTOCAL_KAFKA_TOPIC_PREFIX: values.prefix })
const kafka = createKafka(config, logger, 'conditions-subscriber')
const consumer = kafka.consumer({ groupId: values.group, maxWaitTimeInMs: 500, allowAutoTopicCreation: false })
await consumer.connect()
await consumer.subscribe({ topic: topicName(topics.conditions, values.prefix), fromBeginning: values['from-beginning'] })
await consumer.run({
  eachMessage: async ({ message }) => {
    if (message.value === null) return
    const event = headerValue(message.headers, headers.contentType) === contentTypes.json
      ? fromJsonString(ConditionEventSchema, message.value.toString('utf8'))
      : fromBinary(ConditionEventSchema, message.value)
    const json = toJson(ConditionEventSchema, event) as ConditionEventJson
    if (!values.all && json.outcome !== 'OUTCOME_UPLOADED') return
    process.stdout.write(`${JSON.stringify(json)}\n`)
  }
})
process.stderr.write(`subscribed to ${topicName(topics.conditions, values.prefix)} as group ${values.group}\n`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void consumer.disconnect().finally(() => process.exit(0))
  })
}
