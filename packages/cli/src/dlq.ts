// `autocal dlq list | show | redrive`: the dead-letter topic seen and worked
// by an operator. The CLI talks to Kafka directly with the runtime's client
// (no service in between): the DLQ is written by every service, and sending a
// dead letter back needs nothing but the broker. Kafka's own access rules say
// who may do it; every redrive, done or refused, is recorded on the audit
// topic with the actor (the redrive itself is @autocal/runtime's openRedriver,
// shared with the console), and that record is also what makes a redrive happen
// once: a dead letter already redriven (an accepted `dlq.redrive` for its id
// on autocal.audit.v1) is refused.
import { randomUUID } from 'node:crypto'
import { hostname, userInfo } from 'node:os'
import { fromBinary, fromJsonString, toJsonString } from '@bufbuild/protobuf'
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { DeadLetterSchema, contentTypes, headers as headerNames, topicName, topics, type DeadLetter } from '@autocal/contracts'
import { z } from 'zod'
import {
  connectionEnv, createKafka, createLogger, kafkaShape, loadConfig, openRedriver, readDeadLetters, readRedrives, schemaOfDeadLetter,
  startProducer, type Logger
} from '@autocal/runtime'

export interface DlqIo {
  out: (line: string) => void
  err: (line: string) => void
  env: Record<string, string | undefined>
}

export interface DlqOptions {
  brokers?: string | undefined
  prefix?: string | undefined
  topic?: string | undefined
  actor?: string | undefined
  reason?: string | undefined
  all?: boolean | undefined
  json?: boolean | undefined
}

const KafkaOnly = z.object(kafkaShape)

export interface Setup { brokers: string, prefix: string, logger: Logger, config: z.infer<typeof KafkaOnly> }

/** Raised for a wrong use of the command (exit 2). */
export class DlqUsageError extends Error {}

/** Kafka connection of a CLI command from its flags and the environment (the broker's security settings too). */
export function setupOf (o: Pick<DlqOptions, 'brokers' | 'prefix'>, io: DlqIo): Setup {
  const brokers = o.brokers ?? io.env.AUTOCAL_KAFKA_BROKERS ?? '127.0.0.1:9092'
  if (!/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/.test(brokers)) throw new DlqUsageError(`--brokers: expected host:port[,host:port...], got '${brokers}'`)
  const prefix = o.prefix ?? io.env.AUTOCAL_KAFKA_TOPIC_PREFIX ?? ''
  // kafkajs warnings go to stderr as JSON lines, never mixed with the output
  const logger = createLogger({ service: 'autocal-cli', level: 'error', destination: { write: (s: string) => { io.err(s.trimEnd()) } } })
  // the broker's security settings (SASL_SSL, CA) come from the environment like every client's
  const config = loadConfig(KafkaOnly, { ...connectionEnv(io.env), AUTOCAL_KAFKA_BROKERS: brokers, AUTOCAL_KAFKA_TOPIC_PREFIX: prefix, AUTOCAL_KAFKA_CREATE_TOPICS: 'false' })
  return { brokers, prefix, logger, config }
}

/**
 * Every message of a topic from the beginning up to its current end, in
 * partition order (a group of its own, deleted afterwards, so that nothing is
 * committed for anyone).
 */
export async function readAll (setup: Setup, topic: string): Promise<Array<{ partition: number, offset: string, value: Buffer | null, key: Buffer | null }>> {
  const kafka = createKafka(setup.config, setup.logger, 'autocal-cli')
  const admin = kafka.admin()
  await admin.connect()
  const groupId = `${setup.prefix === '' ? '' : setup.prefix + '.'}autocal-cli-${randomUUID().slice(0, 8)}`
  const got: Array<{ partition: number, offset: string, value: Buffer | null, key: Buffer | null }> = []
  try {
    if (!(await admin.listTopics()).includes(topic)) return []
    const ends = new Map((await admin.fetchTopicOffsets(topic)).filter(o => BigInt(o.high) > BigInt(o.low)).map(o => [o.partition, BigInt(o.high)]))
    if (ends.size === 0) return []
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 10_000 })
    await consumer.connect()
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.CRASH, e => { reject(e.payload.error) })
        consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition)
            if (end === undefined) return
            got.push({ partition, offset: message.offset, value: message.value, key: message.key })
            if (BigInt(message.offset) + 1n >= end) ends.delete(partition)
            if (ends.size === 0) resolve()
          }
        }).catch(reject)
      })
    } finally {
      await consumer.disconnect()
    }
    await admin.deleteGroups([groupId]).catch(() => undefined)
  } finally {
    await admin.disconnect()
  }
  return got.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
}

const deadLetters = async (setup: Setup) => await readDeadLetters(setup.config, setup.logger, 'autocal-cli')
const redriven = async (setup: Setup) => await readRedrives(setup.config, setup.logger, 'autocal-cli')

/** The dead letter's value as the proto3 JSON of its source topic's message, or why it cannot be read. */
export function readableValue (letter: DeadLetter, prefix: string): string {
  const schema = schemaOfDeadLetter(letter, prefix)
  if (schema === undefined) return `(${letter.value.length} bytes of an unknown topic) ${Buffer.from(letter.value).toString('base64')}`
  try {
    const message = letter.headers[headerNames.contentType] === contentTypes.json
      ? fromJsonString(schema, Buffer.from(letter.value).toString('utf8'))
      : fromBinary(schema, letter.value)
    return toJsonString(schema, message)
  } catch (err) {
    return `(not a ${schema.typeName}: ${(err as Error).message}) ${Buffer.from(letter.value).toString('base64')}`
  }
}

function when (letter: DeadLetter): string {
  return letter.at === undefined ? '-' : timestampDate(letter.at).toISOString()
}

function oneLine (s: string, max: number): string {
  const line = s.replace(/\s+/g, ' ')
  return line.length > max ? line.slice(0, max - 1) + '…' : line
}

/** Runs `autocal dlq <sub>`; returns the exit code (usage errors throw DlqUsageError). */
export async function runDlq (sub: string | undefined, ids: string[], o: DlqOptions, io: DlqIo): Promise<number> {
  const setup = setupOf(o, io)
  switch (sub) {
    case 'list': {
      const [letters, done] = await Promise.all([deadLetters(setup), redriven(setup)])
      const shown = letters.filter(l => o.topic === undefined || l.letter.topic === o.topic || l.letter.topic === `${setup.prefix}.${o.topic}`)
      if (o.json === true) {
        for (const l of shown) io.out(JSON.stringify({ id: l.id, redriven: done.has(l.id), letter: JSON.parse(toJsonString(DeadLetterSchema, l.letter, { alwaysEmitImplicit: false })) }))
        return 0
      }
      if (shown.length === 0) {
        io.out('no dead letters')
        return 0
      }
      io.out(['ID', 'AT', 'SOURCE', 'SERVICE', 'CODE', 'REDRIVEN', 'REASON'].join('\t'))
      for (const { id, letter } of shown) {
        io.out([id, when(letter), `${letter.topic}[${letter.partition}]@${letter.offset}`, letter.service, letter.code, done.has(id) ? 'yes' : 'no', oneLine(letter.reason, 100)].join('\t'))
      }
      io.out(`${shown.length} dead letter(s), ${shown.filter(l => !done.has(l.id)).length} not redriven`)
      return 0
    }
    case 'show': {
      if (ids.length === 0) throw new DlqUsageError('dlq show needs the ID of a dead letter (PARTITION/OFFSET, see dlq list)')
      const [letters, done] = await Promise.all([deadLetters(setup), redriven(setup)])
      let code = 0
      for (const id of ids) {
        const found = letters.find(l => l.id === id)
        if (found === undefined) {
          io.err(`autocal: no dead letter ${id} on ${topicName(topics.dlq, setup.prefix)}`)
          code = 1
          continue
        }
        const l = found.letter
        const audit = done.get(id)
        if (o.json === true) {
          io.out(JSON.stringify({ id, redriven: audit !== undefined, letter: JSON.parse(toJsonString(DeadLetterSchema, l)), value: readableValue(l, setup.prefix) }))
          continue
        }
        io.out(`dead letter ${id}`)
        io.out(`  source     ${l.topic} partition ${l.partition} offset ${l.offset}`)
        io.out(`  key        ${Buffer.from(l.key).toString('utf8')}`)
        io.out(`  at         ${when(l)} by ${l.service} (group ${l.consumerGroup}) after ${l.attempts} attempt(s)`)
        io.out(`  code       ${l.code}`)
        io.out(`  reason     ${l.reason}`)
        io.out(`  redriven   ${audit === undefined ? 'no' : `yes, by ${audit.principal} at ${audit.at === undefined ? '?' : timestampDate(audit.at).toISOString()}: ${audit.reason}`}`)
        for (const [k, v] of Object.entries(l.headers).sort()) io.out(`  header     ${k}: ${v}`)
        io.out(`  value      ${readableValue(l, setup.prefix)}`)
      }
      return code
    }
    case 'redrive':
      return await redrive(setup, ids, o, io)
    case undefined:
    default:
      throw new DlqUsageError(sub === undefined ? 'dlq needs list, show or redrive' : `unknown dlq command '${sub}' (list, show, redrive)`)
  }
}

/**
 * Sends dead letters back to their source topic and partition with their
 * original key, value and headers, once each, and audits every one (accepted
 * or refused): @autocal/runtime's openRedriver. Kafka's ACLs say who may.
 */
async function redrive (setup: Setup, ids: string[], o: DlqOptions, io: DlqIo): Promise<number> {
  const reason = o.reason?.trim() ?? ''
  if (reason === '') throw new DlqUsageError('--reason is required: say why the cause is fixed')
  if (ids.length === 0 && o.all !== true) throw new DlqUsageError('dlq redrive needs IDs (PARTITION/OFFSET) or --all [--topic T]')
  if (ids.length > 0 && o.all === true) throw new DlqUsageError('give either IDs or --all, not both')
  const actor = o.actor ?? io.env.AUTOCAL_ACTOR ?? userInfo().username
  const config = setup.config
  await using auditor = await startProducer({ config, logger: setup.logger, service: 'cli' })
  await using redriver = await openRedriver({ config, logger: setup.logger, clientId: 'autocal-cli', auditor, service: 'autocal/cli' })
  const wanted = o.all === true
    ? redriver.letters.filter(l => !redriver.redriven.has(l.id) && (o.topic === undefined || l.letter.topic === o.topic || l.letter.topic === `${setup.prefix}.${o.topic}`)).map(l => l.id)
    : ids
  let code = 0
  for (const id of wanted) {
    const outcome = await redriver.redrive({ id, principal: actor, peer: `local:${hostname()}`, reason })
    if (outcome.kind === 'redriven') {
      io.out(`redriven ${id} → ${outcome.topic}[${outcome.partition}]@${outcome.offset === '' ? '?' : outcome.offset}`)
    } else {
      io.err(`autocal: ${outcome.reason}`)
      code = 1
    }
  }
  if (wanted.length === 0) io.out('nothing to redrive')
  return code
}
