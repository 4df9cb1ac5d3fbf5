// Upload history: one row per request (its outcome and the event that
// announced it) and the steps taken for it, in a SQLite file of the
// uploader's own, apart from the CondDB so that the CondDB holds only the
// CMS schema. A redelivered request whose outcome is recorded is answered
// by republishing the recorded event instead of being done again.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { openSqlite } from './sqlite-handles.ts'

export interface UploadRecord {
  requestId: string
  /** pending: the target may have been written but the outcome is not known (dropbox); final: outcome known. */
  state: 'pending' | 'final'
  outcome: string
  tag: string
  /** uint64 as decimal text. */
  since: string
  requestedSince: string | null
  payloadHash: string
  target: string
  reason: string
  decisions: string[]
  iovs: Array<{ since: string, payloadHash: string }>
  eventId: string
  at: string
  /** Binary ConditionEvent as published; empty while pending. */
  event: Uint8Array
}

export interface UploadStep {
  requestId: string
  at: string
  step: string
  detail: string
}

export interface UploadHistory {
  get: (requestId: string) => UploadRecord | undefined
  record: (r: UploadRecord) => void
  step: (requestId: string, step: string, detail?: string) => void
  list: (filter: { tag?: string | undefined, requestId?: string | undefined, limit?: number }) => Array<Omit<UploadRecord, 'event'> & { steps: UploadStep[] }>
  close: () => void
}

const schema = `
CREATE TABLE IF NOT EXISTS upload (
  request_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  outcome TEXT NOT NULL,
  tag TEXT NOT NULL,
  since TEXT NOT NULL,
  requested_since TEXT,
  payload_hash TEXT NOT NULL,
  target TEXT NOT NULL,
  reason TEXT NOT NULL,
  decisions TEXT NOT NULL,
  iovs TEXT NOT NULL,
  event_id TEXT NOT NULL,
  at TEXT NOT NULL,
  event BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS upload_tag ON upload (tag, at);
CREATE TABLE IF NOT EXISTS upload_step (
  request_id TEXT NOT NULL,
  at TEXT NOT NULL,
  step TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS upload_step_request ON upload_step (request_id, at);
`

export function openUploadHistory (path: string): UploadHistory {
  mkdirSync(dirname(path), { recursive: true })
  const db = openSqlite(path)
  db.exec('PRAGMA busy_timeout = 10000')
  db.exec('PRAGMA journal_mode = WAL')
  db.exec(schema)
  const upsert = db.prepare(`INSERT INTO upload (request_id, state, outcome, tag, since, requested_since, payload_hash, target, reason, decisions, iovs, event_id, at, event)
    VALUES (@requestId, @state, @outcome, @tag, @since, @requestedSince, @payloadHash, @target, @reason, @decisions, @iovs, @eventId, @at, @event)
    ON CONFLICT (request_id) DO UPDATE SET state = excluded.state, outcome = excluded.outcome, tag = excluded.tag, since = excluded.since,
      requested_since = excluded.requested_since, payload_hash = excluded.payload_hash, target = excluded.target, reason = excluded.reason,
      decisions = excluded.decisions, iovs = excluded.iovs, event_id = excluded.event_id, at = excluded.at, event = excluded.event`)
  const insertStep = db.prepare('INSERT INTO upload_step (request_id, at, step, detail) VALUES (?, ?, ?, ?)')
  const selectSteps = db.prepare('SELECT request_id, at, step, detail FROM upload_step WHERE request_id = ? ORDER BY rowid')

  function fromRow (r: Record<string, any>): UploadRecord {
    return {
      requestId: r.request_id,
      state: r.state,
      outcome: r.outcome,
      tag: r.tag,
      since: r.since,
      requestedSince: r.requested_since,
      payloadHash: r.payload_hash,
      target: r.target,
      reason: r.reason,
      decisions: JSON.parse(r.decisions),
      iovs: JSON.parse(r.iovs),
      eventId: r.event_id,
      at: r.at,
      event: r.event
    }
  }

  return {
    get: requestId => {
      const r = db.prepare('SELECT * FROM upload WHERE request_id = ?').get(requestId) as Record<string, any> | undefined
      return r === undefined ? undefined : fromRow(r)
    },
    record: r => {
      upsert.run({ ...r, decisions: JSON.stringify(r.decisions), iovs: JSON.stringify(r.iovs), event: Buffer.from(r.event) })
    },
    step: (requestId, step, detail = '') => {
      insertStep.run(requestId, new Date().toISOString(), step, detail)
    },
    list: filter => {
      const where: string[] = []
      const args: Array<string | number> = []
      if (filter.tag !== undefined) { where.push('tag = ?'); args.push(filter.tag) }
      if (filter.requestId !== undefined) { where.push('request_id = ?'); args.push(filter.requestId) }
      // a fixed set of SQL texts (statements are cached per text, see sqlite-handles.ts)
      const sql = `SELECT * FROM upload ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC LIMIT ?`
      args.push(Math.max(1, Math.min(filter.limit ?? 100, 1000)))
      return (db.prepare(sql).all(...args) as Array<Record<string, any>>).map(r => {
        const { event: _event, ...rest } = fromRow(r)
        const steps = (selectSteps.all(rest.requestId) as Array<Record<string, string>>)
          .map(s => ({ requestId: s.request_id!, at: s.at!, step: s.step!, detail: s.detail! }))
        return { ...rest, steps }
      })
    },
    close: () => { db.close() }
  }
}
