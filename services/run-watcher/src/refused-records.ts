// Records a source could not read are reported, never dropped silently:
// each refused record is counted (autocal_run_records_refused_total{source,
// field}), logged with its field and value, and written to the dead-letter
// topic (autocal.dlq.v1, `topic` = "source:<name>", code
// AUTOCAL_VALIDATION_FAILED) so that metrics counts it and an operator sees
// it. Once per (source, run, problem): a poller that reads the same bad
// record every round reports it the first time only (the claim is kept in
// Redis for 30 days).
import { createHash } from 'node:crypto'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { DeadLetterSchema, topics } from '@autocal/contracts'
import type { Logger, Producer, RedisHandle } from '@autocal/runtime'
import { Counter, type Registry } from 'prom-client'

/** A record a source refused: where it was, the field and what was wrong. */
export interface RefusedRecord {
  /** "line 12 (run 355100)", "record 3", "offset 40 (id 355100)". */
  where: string
  field: string
  message: string
  /** The record's run number as the source wrote it, when it has one. */
  run?: string | undefined
  /** The value of the field as the source wrote it. */
  value?: unknown
  /** The whole record as read (kept in the dead letter). */
  raw?: unknown
}

export interface RecordReporter {
  /** Reports refused records of a source; resolves with how many were new. */
  report: (source: string, refused: readonly RefusedRecord[]) => Promise<number>
}

/** How long a reported problem is remembered (not reported again). */
const rememberS = 30 * 24 * 3600
/** The most of a record kept in a dead letter. */
const maxRecordBytes = 64 * 1024

/** A field value for a log line or a header: JSON, at most 200 characters. */
export function shownValue (value: unknown): string {
  let text: string
  try { text = JSON.stringify(value) ?? 'undefined' } catch { text = String(value) }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

/** The identity of a problem: the same record with the same fault is one problem, whatever the poll or page. */
export function problemId (source: string, r: RefusedRecord): string {
  const subject = r.run !== undefined && r.run !== '' ? `run ${r.run}` : r.where
  return createHash('sha256').update(JSON.stringify([source, subject, r.field, r.message])).digest('hex').slice(0, 32)
}

export function createRecordReporter (deps: { redis: RedisHandle, producer: Producer, logger: Logger, registry: Registry, service: string }): RecordReporter {
  const log = deps.logger.child({ component: 'records' })
  const refused = new Counter({
    name: 'autocal_run_records_refused_total',
    help: 'Source records the run-watcher could not read (each record and problem counted once), by source and field',
    labelNames: ['source', 'field'],
    registers: [deps.registry]
  })
  return {
    report: async (source, records) => {
      let reported = 0
      for (const r of records) {
        const id = problemId(source, r)
        const first = await deps.redis.client.set(deps.redis.key('run-watcher', 'refused', id), new Date().toISOString(), 'EX', rememberS, 'NX')
        if (first !== 'OK') continue
        const value = shownValue(r.value)
        const reason = `${source} ${r.where}: ${r.field === '' ? '' : `${r.field}: `}${r.message}`
        const rawText = r.raw === undefined ? '' : shownRecord(r.raw)
        await deps.producer.publish(topics.dlq, create(DeadLetterSchema, {
          topic: `source:${source}`,
          partition: -1,
          offset: 0n,
          key: new TextEncoder().encode(r.run ?? ''),
          value: new TextEncoder().encode(rawText),
          headers: { source, record: r.where, field: r.field, value, ...(r.run === undefined ? {} : { run: r.run }) },
          code: 'AUTOCAL_VALIDATION_FAILED',
          reason,
          consumerGroup: '',
          service: `autocal/${deps.service}`,
          attempts: 0,
          at: timestampFromDate(new Date())
        }), { eventId: `dlq/run-watcher/${source}/${id}` })
        refused.inc({ source, field: r.field === '' ? 'record' : r.field })
        log.warn({ source, record: r.where, run: r.run, field: r.field, value, problem: r.message }, 'source record refused')
        reported++
      }
      return reported
    }
  }
}

function shownRecord (raw: unknown): string {
  const text = typeof raw === 'string' ? raw : shownValueWhole(raw)
  return text.length > maxRecordBytes ? text.slice(0, maxRecordBytes) : text
}

function shownValueWhole (raw: unknown): string {
  try { return JSON.stringify(raw) ?? '' } catch { return String(raw) }
}
