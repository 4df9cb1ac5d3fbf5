// The pure parts of the DLQ redrive: whose a dead letter is, and why one
// cannot be sent back at all (the Kafka part: packages/cli's and
// services/metrics' integration tests).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create, toBinary, toJsonString } from '@bufbuild/protobuf'
import {
  AuditRecordSchema, ControlCommandSchema, DeadLetterSchema, JobStatusSchema, RunEventSchema, TaskEventSchema, topicName, topics, type DeadLetter
} from '@autocal/contracts'
import { redriveProblem, sourceTopicOf, subsystemOfDeadLetter } from '../src/bus/dlq-redrive.ts'
import { scopeAllows } from '../src/access.ts'

const prefix = 'ci-1'
const letter = (topic: string, value: Uint8Array, headers: Record<string, string> = {}, partition = 0): DeadLetter =>
  create(DeadLetterSchema, { topic, partition, offset: 7n, value, headers })
const provenance = { subsystem: 'ECAL', campaign: 'prompt', blockId: 'run-1', task: 't' }

test('a dead letter\'s subsystem comes from its message, decoded with its source topic\'s schema', () => {
  const status = create(JobStatusSchema, { jobId: 'j', try: 1, provenance })
  const table: Array<[string, DeadLetter, string | undefined]> = [
    ['job status: provenance', letter(topicName(topics.jobStatus, prefix), toBinary(JobStatusSchema, status)), 'ECAL'],
    ['job status as JSON', letter(topicName(topics.jobStatus, prefix), Buffer.from(toJsonString(JobStatusSchema, status)), { 'content-type': 'application/json' }), 'ECAL'],
    ['task event: its own field', letter(topicName(topics.tasks, prefix), toBinary(TaskEventSchema, create(TaskEventSchema, { subsystem: 'PPS', campaign: 'prompt', task: 't' }))), 'PPS'],
    ['control: the command\'s subsystem', letter(topicName(topics.control, prefix), toBinary(ControlCommandSchema, create(ControlCommandSchema, { subsystem: 'HCAL' }))), 'HCAL'],
    ['control: else its selector\'s', letter(topicName(topics.control, prefix), toBinary(ControlCommandSchema, create(ControlCommandSchema, { selector: { subsystem: 'HCAL', campaign: 'prompt' } }))), 'HCAL'],
    ['a run is system-wide', letter(topicName(topics.runs, prefix), toBinary(RunEventSchema, create(RunEventSchema, { run: 1 }))), undefined],
    ['undecodable', letter(topicName(topics.jobStatus, prefix), Buffer.from('not protobuf \xff\xff')), undefined],
    ['no provenance', letter(topicName(topics.jobStatus, prefix), toBinary(JobStatusSchema, create(JobStatusSchema, { jobId: 'j' }))), undefined],
    ['another deployment\'s topic', letter(topicName(topics.jobStatus, ''), toBinary(JobStatusSchema, status)), undefined],
    ['not a Kafka source', letter('source:oms', Buffer.from('x'), {}, -1), undefined]
  ]
  for (const [what, l, subsystem] of table) assert.equal(subsystemOfDeadLetter(l, prefix), subsystem, what)
  assert.equal(sourceTopicOf({ topic: `${prefix}.autocal.runs.v1` }, prefix), 'runs')
  assert.equal(sourceTopicOf({ topic: 'autocal.runs.v1' }, prefix), undefined)
})

test('a dead letter is sent back once, only when it is a Kafka message that exists', () => {
  const dlq = topicName(topics.dlq, prefix)
  const stored = (l: DeadLetter) => ({ id: '0/7', letter: l })
  const done = new Map([['0/3', create(AuditRecordSchema, { principal: 'alice', accepted: true })]])
  const table: Array<[string, Parameters<typeof redriveProblem>[0], string, string | undefined, RegExp | undefined]> = [
    ['a Kafka message', stored(letter(`${prefix}.autocal.runs.v1`, Buffer.from('x'))), '0/7', undefined, undefined],
    ['unknown id', undefined, '0/9', 'not-found', /no dead letter 0\/9 on ci-1\.autocal\.dlq\.v1/],
    ['already redriven', stored(letter(`${prefix}.autocal.runs.v1`, Buffer.from('x'))), '0/3', 'already', /already redriven by alice/],
    ['a source record (partition -1)', stored(letter('source:oms', Buffer.from('x'), {}, -1)), '0/7', 'not-kafka', /record of source:oms, not a Kafka message/]
  ]
  for (const [what, entry, id, status, reason] of table) {
    const p = redriveProblem(entry, id, done, dlq)
    assert.equal(p?.status, status, what)
    if (reason !== undefined) assert.match(p?.reason ?? '', reason, what)
  }
})

test('a scope covers its subsystems; "*" covers every one and the system-wide', () => {
  const table: Array<[string[], string | undefined, boolean]> = [
    [['ECAL'], 'ECAL', true], [['ECAL'], 'PPS', false], [['ECAL'], undefined, false],
    [['*'], 'PPS', true], [['*'], undefined, true], [[], 'ECAL', false]
  ]
  for (const [scope, subsystem, allowed] of table) assert.equal(scopeAllows(scope, subsystem), allowed, `${scope.join(',')} ${subsystem}`)
})
