// Redrive of dead letters: one implementation for the CLI (`autocal dlq
// redrive`) and the console (POST /console/api/dlq/<id>/redrive of the
// metrics service).
//
// A dead letter is sent back to its source topic and partition with its
// original key, value and headers (the same ce_id event id, so idempotent
// consumers still recognise it, DESIGN §4 rule 2), once: the record of a
// redrive is an accepted `dlq.redrive` AuditRecord on autocal.audit.v1 whose
// target is "<dlq topic>/<id>", and a dead letter that already has one is
// refused. Every attempt, accepted or refused, leaves one audit record with
// the principal, the peer and the reason. A dead letter is named by where it
// sits on the DLQ topic: id = "<partition>/<offset>".
import { create, fromBinary, fromJsonString, type DescMessage } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { randomUUID } from 'node:crypto'
import {
  AuditRecordSchema, allTopics, contentTypes, headers as headerNames, topicName, topics,
  type AuditRecord, type DeadLetter, type TopicId
} from '@autocal/contracts'
import { createKafka, type KafkaConfig } from './kafka.ts'
import { readTopic } from './read-topic.ts'
import type { Producer } from './producer.ts'
import type { Logger } from '../logger.ts'
import type { AuditWriter } from '../audit-throttle.ts'

/** A dead letter with where it sits on the DLQ topic; `id` = "<partition>/<offset>" of the DLQ topic. */
export interface StoredDeadLetter {
  id: string
  letter: DeadLetter
}

/** Audit action of a redrive (AuditRecord.action). */
export const redriveAction = 'dlq.redrive'

/**
 * Source topics the console (the metrics service's principal) may send dead
 * letters back to; kafka-acls.ts and the chart's KafkaUser give the metrics
 * principal Write on exactly these (and the audit topic). Left out on
 * purpose: the three topics that make things happen (jobs.requests,
 * conditions.requests, control: only the task-dispatcher's principal writes
 * them, README "Threat model") and the compacted task states (an old state
 * sent back would become its key's latest). Their dead letters are redriven
 * with `autocal dlq redrive` and an operator's Kafka credentials.
 */
export const consoleRedriveTopics: readonly TopicId[] = ['runs', 'jobStatus', 'conditions']

/**
 * Every dead letter on this deployment's DLQ topic, in partition and offset
 * order. `clientId` names the reader and must start with the reading
 * principal's name (its throw-away group, see readTopic/readerGroup).
 */
export async function readDeadLetters (config: KafkaConfig, logger: Logger, clientId: string): Promise<StoredDeadLetter[]> {
  const out: Array<StoredDeadLetter & { partition: number, offset: bigint }> = []
  await readTopic(config, logger, clientId, topics.dlq, async (letter, meta) => {
    out.push({ id: `${meta.partition}/${meta.offset}`, letter, partition: meta.partition, offset: BigInt(meta.offset) })
  })
  return out.sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0)).map(({ id, letter }) => ({ id, letter }))
}

/** Accepted redrives so far by dead-letter id, read from the audit topic (the record a redrive leaves). */
export async function readRedrives (config: KafkaConfig, logger: Logger, clientId: string): Promise<Map<string, AuditRecord>> {
  const done = new Map<string, AuditRecord>()
  const prefix = `${topicName(topics.dlq, config.AUTOCAL_KAFKA_TOPIC_PREFIX)}/`
  await readTopic(config, logger, clientId, topics.audit, async a => {
    if (a.action === redriveAction && a.accepted && a.target.startsWith(prefix)) done.set(a.target.slice(prefix.length), a)
  })
  return done
}

/** The registry topic a dead letter came from (under `prefix`), when it is one. */
export function sourceTopicOf (letter: Pick<DeadLetter, 'topic'>, prefix: string): TopicId | undefined {
  return (Object.keys(topics) as TopicId[]).find(id => topicName(topics[id], prefix) === letter.topic)
}

/** The source topic's schema, when the dead letter came from a registry topic. */
export function schemaOfDeadLetter (letter: Pick<DeadLetter, 'topic'>, prefix: string): DescMessage | undefined {
  return allTopics.find(t => topicName(t, prefix) === letter.topic)?.schema
}

/** Where each source topic's message names its subsystem (topics not listed are system-wide: runs, dlq, audit). */
const subsystemFields: Partial<Record<TopicId, (m: any) => string | undefined>> = {
  tasks: m => m.subsystem,
  jobRequests: m => m.provenance?.subsystem,
  jobStatus: m => m.provenance?.subsystem,
  conditionRequests: m => m.provenance?.subsystem,
  conditions: m => m.provenance?.subsystem,
  control: m => m.subsystem || m.selector?.subsystem
}

/**
 * The subsystem of a dead letter's message, decoded with its source topic's
 * schema (binary, or JSON when its content-type header says so). Undefined
 * when the topic is system-wide (runs), not a registry topic, or the value
 * cannot be decoded (often why it is a dead letter): such a letter is
 * nobody's in particular, so only an admin ("*") may redrive it.
 */
export function subsystemOfDeadLetter (letter: DeadLetter, prefix: string): string | undefined {
  const id = sourceTopicOf(letter, prefix)
  const field = id === undefined ? undefined : subsystemFields[id]
  if (id === undefined || field === undefined) return undefined
  const schema = topics[id].schema as DescMessage
  try {
    const message = letter.headers[headerNames.contentType] === contentTypes.json
      ? fromJsonString(schema, Buffer.from(letter.value).toString('utf8'))
      : fromBinary(schema, letter.value)
    const subsystem = field(message)
    return subsystem === undefined || subsystem === '' ? undefined : subsystem
  } catch {
    return undefined
  }
}

/** Why a dead letter cannot be sent back at all (whoever asks), or undefined when it can. */
export function redriveProblem (entry: StoredDeadLetter | undefined, id: string, redriven: ReadonlyMap<string, AuditRecord>, dlqTopic: string): { status: 'not-found' | 'already' | 'not-kafka', reason: string } | undefined {
  if (entry === undefined) return { status: 'not-found', reason: `no dead letter ${id} on ${dlqTopic}` }
  const before = redriven.get(id)
  if (before !== undefined) return { status: 'already', reason: `dead letter ${id} was already redriven by ${before.principal}; not sent again` }
  const l = entry.letter
  if (l.partition < 0 || l.topic.startsWith('source:')) return { status: 'not-kafka', reason: `dead letter ${id} is a record of ${l.topic}, not a Kafka message: there is nothing to send back; fix the source, it is read again` }
  return undefined
}

/** Who asks for a redrive and why: what the audit record says. */
export interface RedriveRequest {
  /** Dead-letter id "<partition>/<offset>". */
  id: string
  principal: string
  /** The caller's address as audit records spell it (auditPeer), or e.g. "local:<host>". */
  peer: string
  /** The operator's reason (why the cause is fixed). */
  reason: string
  /** A refusal of the caller's own (scope, topic not allowed): the reason, or undefined to go ahead. Called with the letter and its subsystem. */
  authorise?: (entry: StoredDeadLetter, subsystem: string | undefined) => string | undefined
}

export type RedriveOutcome =
  | { kind: 'redriven', id: string, topic: string, partition: number, offset: string, subsystem: string | undefined }
  | { kind: 'refused', id: string, status: 'not-found' | 'already' | 'not-kafka' | 'forbidden', reason: string, subsystem: string | undefined }

export interface Redriver extends AsyncDisposable {
  /** The dead letters when the redriver was opened. */
  letters: StoredDeadLetter[]
  /** Accepted redrives by id, updated by this redriver's own. */
  redriven: Map<string, AuditRecord>
  /** Sends one dead letter back (or refuses it) and audits the outcome; throws only when Kafka fails. */
  redrive: (request: RedriveRequest) => Promise<RedriveOutcome>
}

/** What one audit record of a redrive says besides who asked (the request). */
export interface RedriveVerdict {
  accepted: boolean
  reason: string
  subsystem?: string | undefined
  details?: Record<string, string>
}

/**
 * Writes the AuditRecord of one redrive attempt (action `dlq.redrive`,
 * target "<dlq topic>/<id>", command id "dlq.redrive/<dlq topic>/<id>") and
 * returns it; a refusal decided before the DLQ is read (no token, a read
 * token) is audited through this too, through `writer` when given (a service's
 * AuditWriter: anonymous refusals over its budget are summarised). Rejects when the
 * audit topic cannot be written.
 */
export async function auditRedrive (to: { auditor: Producer, service: string, dlqTopic: string, writer?: AuditWriter }, request: Pick<RedriveRequest, 'id' | 'principal' | 'peer'>, verdict: RedriveVerdict): Promise<AuditRecord> {
  const record = create(AuditRecordSchema, {
    id: randomUUID(),
    at: timestampFromDate(new Date()),
    principal: request.principal,
    peer: request.peer,
    service: to.service,
    action: redriveAction,
    subsystem: verdict.subsystem ?? '',
    target: `${to.dlqTopic}/${request.id}`,
    accepted: verdict.accepted,
    reason: verdict.reason,
    commandId: `${redriveAction}/${to.dlqTopic}/${request.id}`,
    details: verdict.details ?? {}
  })
  if (to.writer !== undefined) await to.writer.write(record) // anonymous refusals throttled per peer
  else await to.auditor.publish(topics.audit, record, { eventId: record.id })
  return record
}

export interface RedriverOptions {
  config: KafkaConfig
  logger: Logger
  /** Client id and reader-group stem; starts with the principal's name (e.g. "metrics-redrive", "autocal-cli"). */
  clientId: string
  /** Producer of the audit records (its principal must write autocal.audit.v1). */
  auditor: Producer
  /** The auditing service as records name it, e.g. "autocal/cli", "autocal/metrics". */
  service: string
}

/**
 * Reads the DLQ and the redrives done so far and returns a redriver over
 * them. Sending needs Write on the source topic for the connection's
 * principal (kafka-acls.ts); a broker refusal rejects `redrive` after the
 * refusal is audited. Dispose to close the raw producer.
 */
export async function openRedriver (options: RedriverOptions): Promise<Redriver> {
  const { config, logger, clientId, auditor, service } = options
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const dlqTopic = topicName(topics.dlq, prefix)
  const [letters, redriven] = await Promise.all([readDeadLetters(config, logger, `${clientId}-dlq`), readRedrives(config, logger, `${clientId}-audit`)])
  const raw = createKafka(config, logger, clientId).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  await raw.connect()

  const audit = async (request: RedriveRequest, accepted: boolean, reason: string, subsystem: string | undefined, details: Record<string, string>): Promise<AuditRecord> =>
    await auditRedrive({ auditor, service, dlqTopic }, request, { accepted, reason, subsystem, details })

  return {
    letters,
    redriven,
    redrive: async request => {
      const entry = letters.find(l => l.id === request.id)
      const subsystem = entry === undefined ? undefined : subsystemOfDeadLetter(entry.letter, prefix)
      const l = entry?.letter
      const details: Record<string, string> = l === undefined ? {} : { source_topic: l.topic, source_partition: String(l.partition), source_offset: String(l.offset), code: l.code }
      const problem = redriveProblem(entry, request.id, redriven, dlqTopic)
      const refusal = problem ?? (entry === undefined ? undefined : mapForbidden(request.authorise?.(entry, subsystem)))
      if (refusal !== undefined) {
        await audit(request, false, `${refusal.reason} (${request.reason})`, subsystem, details)
        return { kind: 'refused', id: request.id, status: refusal.status, reason: refusal.reason, subsystem }
      }
      const letter = l as DeadLetter
      let sent
      try {
        [sent] = await raw.send({
          topic: letter.topic,
          acks: -1,
          messages: [{ partition: letter.partition, key: Buffer.from(letter.key), value: Buffer.from(letter.value), headers: { ...letter.headers } }]
        })
      } catch (err) {
        await audit(request, false, `the broker refused the send to ${letter.topic}: ${(err as Error).message} (${request.reason})`, subsystem, details)
        throw err
      }
      const offset = sent?.baseOffset ?? ''
      redriven.set(request.id, await audit(request, true, request.reason, subsystem, { ...details, redriven_offset: offset }))
      return { kind: 'redriven', id: request.id, topic: letter.topic, partition: letter.partition, offset, subsystem }
    },
    [Symbol.asyncDispose]: async () => { await raw.disconnect() }
  }
}

function mapForbidden (reason: string | undefined): { status: 'forbidden', reason: string } | undefined {
  return reason === undefined ? undefined : { status: 'forbidden', reason }
}
