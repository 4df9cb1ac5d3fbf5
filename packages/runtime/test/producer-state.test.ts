// Which broker answers make the runtime's producer replace its idempotent
// kafkajs producer: built with kafkajs's own error classes and Kafka's error
// codes, as they reach the producer (bare, or wrapped by kafkajs's retrier).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { producerStateError } from '../src/bus/producer.ts'

const require = createRequire(new URL('../src/bus/producer.ts', import.meta.url))
const { KafkaJSProtocolError, KafkaJSNumberOfRetriesExceeded, KafkaJSConnectionError } = require('kafkajs/src/errors.js')
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js')

const protocol = (code: number): Error => new KafkaJSProtocolError(createErrorFromCode(code))
const exhausted = (cause: Error): Error => new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 100 })

test('the sequence and producer-id errors of an idempotent producer are recognised, bare or behind the retrier', () => {
  const table: Array<[string, Error, string | undefined]> = [
    ['OUT_OF_ORDER_SEQUENCE_NUMBER (45)', protocol(45), 'OUT_OF_ORDER_SEQUENCE_NUMBER'],
    ['the same after the retries', exhausted(protocol(45)), 'OUT_OF_ORDER_SEQUENCE_NUMBER'],
    ['INVALID_PRODUCER_EPOCH (47)', protocol(47), 'INVALID_PRODUCER_EPOCH'],
    ['INVALID_PRODUCER_ID_MAPPING (49)', protocol(49), 'INVALID_PRODUCER_ID_MAPPING'],
    ['UNKNOWN_PRODUCER_ID (59)', exhausted(protocol(59)), 'UNKNOWN_PRODUCER_ID'],
    ['a record too large (10) is the message\'s fault', protocol(10), undefined],
    ['NOT_LEADER_FOR_PARTITION (6) is an outage kafkajs retries itself', protocol(6), undefined],
    ['a connection error', new KafkaJSConnectionError('Connection error: ECONNREFUSED'), undefined],
    ['not an error at all', 'text' as unknown as Error, undefined]
  ]
  for (const [name, err, type] of table) assert.equal(producerStateError(err), type, name)
})
