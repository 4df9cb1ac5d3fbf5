// The local CondDB target: one SQLite file in the CMS CondDB v2 schema, the
// embedded default. The schema is created on first use with the exact
// statements a CMSSW/CORAL-written file holds. Tags are created on first
// use, payloads deduplicated by hash, IOVs appended with a TAG_LOG row per
// change, all in one IMMEDIATE transaction that re-reads the tag first, so
// that two writers (even two processes) never append the same
// (tag, since, payload hash) twice, and that the synchronization rules
// (domain/sync-rules.ts) are checked against the tag's synchronization and
// last since as they are at the moment of writing.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { hostname } from 'node:os'
import { openSqlite, type SqliteDatabase } from './sqlite-handles.ts'
import {
  conddbTimestamp, fromSqliteInteger, parseConddbTimestamp, schemaProblems, toSqliteInteger,
  type IovRow, type PayloadRow, type TagRow
} from '../domain/conddb-format.ts'
import type { DestinationTag, SyncFacts } from '../domain/payload-validation.ts'
import type { SinceIov } from '../domain/since-rules.ts'
import { checkSynchronization, type SyncRuleName } from '../domain/sync-rules.ts'
import { planUpload, type UploadPlan } from '../domain/upload-plan.ts'
import { iovFromRow, tagFromRow } from './payload-file.ts'

/**
 * The CREATE statements of a CMSSW-written CondDB v2 SQLite file, byte for
 * byte (see /work/shared/realdata/conddb_v2_sqlite_schema.sql), in file order.
 */
export const conddbSchema: readonly string[] = [
  'CREATE TABLE "TAG" ( "NAME" TEXT ,"TIME_TYPE" TEXT  NOT NULL,"OBJECT_TYPE" TEXT  NOT NULL,"SYNCHRONIZATION" TEXT  NOT NULL,"END_OF_VALIDITY" ULONGLONG  NOT NULL,"DESCRIPTION" TEXT  NOT NULL,"LAST_VALIDATED_TIME" ULONGLONG  NOT NULL,"INSERTION_TIME" TIMESTAMP  NOT NULL,"MODIFICATION_TIME" TIMESTAMP  NOT NULL, PRIMARY KEY("NAME") )',
  'CREATE TABLE coral_sqlite_fk(id TEXT NOT NULL, name TEXT, tablename TEXT NOT NULL)',
  'CREATE TABLE "PAYLOAD" ( "HASH" TEXT ,"OBJECT_TYPE" TEXT  NOT NULL,"DATA" BLOB  NOT NULL,"STREAMER_INFO" BLOB  NOT NULL,"VERSION" TEXT  NOT NULL,"INSERTION_TIME" TIMESTAMP  NOT NULL, PRIMARY KEY("HASH") )',
  'CREATE TABLE "IOV" ( "TAG_NAME" TEXT  NOT NULL,"SINCE" ULONGLONG  NOT NULL,"PAYLOAD_HASH" TEXT  NOT NULL,"INSERTION_TIME" TIMESTAMP  NOT NULL, PRIMARY KEY("TAG_NAME","SINCE","INSERTION_TIME"), FOREIGN KEY("TAG_NAME") REFERENCES TAG("NAME"), FOREIGN KEY("PAYLOAD_HASH") REFERENCES PAYLOAD("HASH") )',
  'CREATE TABLE "TAG_LOG" ( "TAG_NAME" TEXT  NOT NULL,"EVENT_TIME" TIMESTAMP  NOT NULL,"USER_NAME" TEXT  NOT NULL,"HOST_NAME" TEXT  NOT NULL,"COMMAND" TEXT  NOT NULL,"ACTION" TEXT  NOT NULL,"USER_TEXT" TEXT  NOT NULL, PRIMARY KEY("TAG_NAME","EVENT_TIME","ACTION"), FOREIGN KEY("TAG_NAME") REFERENCES TAG("NAME") )',
  'CREATE TABLE "GLOBAL_TAG" ( "NAME" TEXT ,"VALIDITY" ULONGLONG  NOT NULL,"DESCRIPTION" TEXT  NOT NULL,"RELEASE" TEXT  NOT NULL,"SNAPSHOT_TIME" TIMESTAMP  NOT NULL,"INSERTION_TIME" TIMESTAMP  NOT NULL, PRIMARY KEY("NAME") )',
  'CREATE TABLE "GLOBAL_TAG_MAP" ( "GLOBAL_TAG_NAME" TEXT  NOT NULL,"RECORD" TEXT  NOT NULL,"LABEL" TEXT  NOT NULL,"TAG_NAME" TEXT  NOT NULL, PRIMARY KEY("GLOBAL_TAG_NAME","RECORD","LABEL") )'
]

export interface TagSummary extends TagRow {
  iovCount: number
  /** Largest since; undefined for a tag without IOVs. */
  lastSince: bigint | undefined
}

export interface TagLogRow {
  tagName: string
  eventTime: string
  userName: string
  hostName: string
  command: string
  action: string
  userText: string
}

export interface PayloadMeta {
  hash: string
  objectType: string
  version: string
  insertionTime: string
  streamerInfo: string
  sizeBytes: number
}

export interface UploadInput {
  tag: DestinationTag
  iovs: readonly SinceIov[]
  payloads: readonly PayloadRow[]
  requestId: string
  userText: string
  /**
   * Facts for the synchronization rules (validation's); default: the IOVs'
   * own sinces, no FCSR known, policy move. Write-once and append-only are
   * enforced whatever is given.
   */
  sync?: SyncFacts
}

export type UploadResult =
  | {
    kind: 'done'
    plan: UploadPlan
    tagCreated: boolean
    /** The rows appended, with their insertion time. */
    appended: IovRow[]
  }
  /**
   * An earlier delivery of this request already inserted these rows (found
   * inside the write transaction): nothing is written, whatever IOVs this
   * delivery asks for (the FCSR may have moved since and moved them).
   */
  | { kind: 'written-before', rows: IovRow[] }
  /** The tag changed under us (created by another writer with another type). */
  | { kind: 'conflict', reason: string }
  /** Refused by a synchronization rule, checked against the tag as it is inside the write transaction. */
  | { kind: 'rejected', rule: SyncRuleName, reason: string }

export interface CondDb {
  readonly path: string
  getTag: (name: string) => TagRow | undefined
  /** Largest since of the tag (compared as uint64); undefined when it has no IOV. */
  lastSince: (tag: string) => bigint | undefined
  /**
   * The IOV rows this request inserted into the tag, found by its TAG_LOG row
   * (COMMAND `commandOf(requestId)`, whose EVENT_TIME is the insertion time of
   * the rows it appended in the same transaction); empty when it wrote none.
   * A redelivery after a crash is answered from these, never written again.
   */
  writtenBy: (tag: string, requestId: string) => IovRow[]
  listTags: () => TagSummary[]
  listIovs: (tag: string) => IovRow[]
  tagLog: (tag: string) => TagLogRow[]
  payloadMeta: (hash: string) => PayloadMeta | undefined
  upload: (input: UploadInput) => UploadResult
  close: () => void
}

export interface CondDbOptions {
  /** USER_NAME of TAG_LOG rows. */
  user?: string
  host?: string
  /** Clock in microseconds since the epoch (tests). */
  nowMicros?: () => bigint
}

/** The COMMAND of the TAG_LOG rows one request writes; finds them again on redelivery. */
export function commandOf (requestId: string): string {
  return `autocal condition-uploader --request ${requestId}`
}

export function openCondDb (path: string, options: CondDbOptions = {}): CondDb {
  mkdirSync(dirname(path), { recursive: true })
  const db = openSqlite(path)
  db.exec('PRAGMA busy_timeout = 10000')
  db.exec('PRAGMA foreign_keys = ON')
  ensureSchema(db, path)
  const user = options.user ?? 'autocal'
  const host = options.host ?? hostname()
  const now = options.nowMicros ?? (() => BigInt(Date.now()) * 1000n)
  const hasProtection = (db.prepare('SELECT name FROM pragma_table_info(\'TAG\')').all() as Array<{ name: string }>)
    .some(c => c.name.toUpperCase() === 'PROTECTION_CODE')

  const selectTag = db.prepare('SELECT * FROM TAG WHERE NAME = ?').safeIntegers(true)
  const selectIovs = db.prepare('SELECT TAG_NAME, SINCE, PAYLOAD_HASH, INSERTION_TIME FROM IOV WHERE TAG_NAME = ? ORDER BY SINCE, INSERTION_TIME').safeIntegers(true)
  const selectLastTimes = db.prepare(`SELECT MAX(t) AS last FROM (
    SELECT MAX(INSERTION_TIME) AS t FROM IOV WHERE TAG_NAME = @tag
    UNION ALL SELECT MAX(EVENT_TIME) FROM TAG_LOG WHERE TAG_NAME = @tag
    UNION ALL SELECT MODIFICATION_TIME FROM TAG WHERE NAME = @tag)`)
  const selectPayload = db.prepare('SELECT 1 FROM PAYLOAD WHERE HASH = ?')
  const insertTag = db.prepare(`INSERT INTO TAG (NAME, TIME_TYPE, OBJECT_TYPE, SYNCHRONIZATION, END_OF_VALIDITY, DESCRIPTION,
    LAST_VALIDATED_TIME, INSERTION_TIME, MODIFICATION_TIME${hasProtection ? ', PROTECTION_CODE' : ''})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?${hasProtection ? ', 0' : ''})`)
  const insertPayload = db.prepare('INSERT OR IGNORE INTO PAYLOAD (HASH, OBJECT_TYPE, DATA, STREAMER_INFO, VERSION, INSERTION_TIME) VALUES (?, ?, ?, ?, ?, ?)')
  const insertIov = db.prepare('INSERT INTO IOV (TAG_NAME, SINCE, PAYLOAD_HASH, INSERTION_TIME) VALUES (?, ?, ?, ?)')
  const insertLog = db.prepare('INSERT INTO TAG_LOG (TAG_NAME, EVENT_TIME, USER_NAME, HOST_NAME, COMMAND, ACTION, USER_TEXT) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const touchTag = db.prepare('UPDATE TAG SET MODIFICATION_TIME = ? WHERE NAME = ?')
  // the rows a request appended carry the EVENT_TIME of its TAG_LOG row (one time per transaction, unique per tag: nextTime)
  const selectWrittenBy = db.prepare(`SELECT IOV.TAG_NAME, IOV.SINCE, IOV.PAYLOAD_HASH, IOV.INSERTION_TIME FROM IOV JOIN TAG_LOG
    ON TAG_LOG.TAG_NAME = IOV.TAG_NAME AND TAG_LOG.EVENT_TIME = IOV.INSERTION_TIME
    WHERE IOV.TAG_NAME = ? AND TAG_LOG.COMMAND = ? AND TAG_LOG.ACTION LIKE '% iov(s) inserted.' ORDER BY IOV.SINCE`).safeIntegers(true)
  const writtenBy = (tag: string, requestId: string): IovRow[] =>
    (selectWrittenBy.all(tag, commandOf(requestId)) as Array<Record<string, unknown>>).map(iovFromRow)

  const selectSinces = db.prepare('SELECT SINCE FROM IOV WHERE TAG_NAME = ?').safeIntegers(true)
  function lastSince (tag: string): bigint | undefined {
    // not MAX(SINCE): a since above 2^63 is stored negative, so compare as uint64
    let last: bigint | undefined
    for (const r of selectSinces.all(tag) as Array<{ SINCE: bigint }>) {
      const since = fromSqliteInteger(r.SINCE)
      if (last === undefined || since > last) last = since
    }
    return last
  }

  function getTag (name: string): TagRow | undefined {
    const row = selectTag.get(name) as Record<string, unknown> | undefined
    return row === undefined ? undefined : tagFromRow({ PROTECTION_CODE: null, ...row })
  }

  /** A timestamp after every timestamp the tag already has (CondDB keys include the time). */
  function nextTime (tag: string): string {
    const last = (selectLastTimes.get({ tag }) as { last: string | null }).last
    const lastMicros = last === null ? undefined : parseConddbTimestamp(last)
    let t = now()
    if (lastMicros !== undefined && t <= lastMicros) t = lastMicros + 1n
    return conddbTimestamp(t)
  }

  const uploadTx = db.transaction((input: UploadInput): UploadResult => {
    const { tag, requestId, userText } = input
    const command = commandOf(requestId)
    let existing = getTag(tag.name)
    let iovs: readonly SinceIov[] = input.iovs
    // a redelivery of a request that already wrote here writes nothing: checked under the write lock, in the transaction that would write
    if (existing !== undefined) {
      const rows = writtenBy(tag.name, requestId)
      if (rows.length > 0) return { kind: 'written-before', rows }
    }
    if (iovs.length > 0) {
      const facts = input.sync ?? { requestedSince: undefined, fileFirstSince: iovs[0]!.since, fcsr: undefined, policy: 'move' as const, whenFcsrUnknown: 'accept' as const }
      const rules = checkSynchronization({
        tag: tag.name,
        synchronization: existing?.synchronization ?? tag.synchronization,
        timeType: tag.timeType,
        iovs,
        destination: { exists: existing !== undefined, lastSince: existing === undefined ? undefined : lastSince(tag.name) },
        fcsrSource: 'tier0',
        ...facts
      })
      if (rules.kind === 'rejected') return { kind: 'rejected', rule: rules.rule, reason: rules.reason }
      iovs = rules.iovs
    }
    let tagCreated = false
    if (existing === undefined) {
      const created = nextTime(tag.name)
      insertTag.run(tag.name, tag.timeType, tag.objectType, tag.synchronization, toSqliteInteger(-1n), tag.description, 0, created, created)
      insertLog.run(tag.name, created, user, host, command, 'New tag created.', userText)
      tagCreated = true
      existing = getTag(tag.name)!
    } else if (existing.timeType !== tag.timeType || existing.objectType !== tag.objectType) {
      return { kind: 'conflict', reason: `destination tag '${tag.name}' is now ${existing.timeType}/${existing.objectType}, the upload is ${tag.timeType}/${tag.objectType}` }
    }
    const time = nextTime(tag.name) // after the tag's creation and every earlier change
    const rows = (selectIovs.all(tag.name) as Array<Record<string, unknown>>).map(iovFromRow)
    const payloadHashes = new Set(input.payloads.map(p => p.hash))
    const stored = new Set([...payloadHashes].filter(h => selectPayload.get(h) !== undefined))
    const plan = planUpload(iovs, rows, stored)
    const byHash = new Map(input.payloads.map(p => [p.hash, p]))
    for (const hash of plan.payloadsToStore) {
      const p = byHash.get(hash)
      if (p === undefined) throw new Error(`payload ${hash} is needed by an IOV but was not given`)
      insertPayload.run(p.hash, p.objectType, Buffer.from(p.data), Buffer.from(p.streamerInfo), p.version, time)
    }
    const appended: IovRow[] = []
    for (const iov of plan.append) {
      insertIov.run(tag.name, toSqliteInteger(iov.since), iov.payloadHash, time)
      appended.push({ tagName: tag.name, since: iov.since, payloadHash: iov.payloadHash, insertionTime: time })
    }
    if (appended.length > 0) {
      insertLog.run(tag.name, time, user, host, command, `${appended.length} iov(s) inserted.`, userText)
      touchTag.run(time, tag.name)
    }
    return { kind: 'done', plan, tagCreated, appended }
  })

  return {
    path,
    getTag,
    lastSince,
    writtenBy,
    listTags: () => {
      const tags = (db.prepare('SELECT * FROM TAG ORDER BY NAME').safeIntegers(true).all() as Array<Record<string, unknown>>)
        .map(r => tagFromRow({ PROTECTION_CODE: null, ...r }))
      const sincesOf = db.prepare('SELECT SINCE FROM IOV WHERE TAG_NAME = ?').safeIntegers(true)
      return tags.map(t => {
        // not MAX(SINCE): a since above 2^63 is stored negative, so compare as uint64
        const sinces = (sincesOf.all(t.name) as Array<{ SINCE: bigint }>).map(r => fromSqliteInteger(r.SINCE))
        const lastSince = sinces.length === 0 ? undefined : sinces.reduce((a, b) => (a > b ? a : b))
        return { ...t, iovCount: sinces.length, lastSince }
      })
    },
    listIovs: tag => (selectIovs.all(tag) as Array<Record<string, unknown>>).map(iovFromRow)
      .sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.insertionTime.localeCompare(b.insertionTime))),
    tagLog: tag => (db.prepare('SELECT * FROM TAG_LOG WHERE TAG_NAME = ? ORDER BY EVENT_TIME, ACTION').all(tag) as Array<Record<string, unknown>>)
      .map(r => ({
        tagName: String(r.TAG_NAME),
        eventTime: String(r.EVENT_TIME),
        userName: String(r.USER_NAME),
        hostName: String(r.HOST_NAME),
        command: String(r.COMMAND),
        action: String(r.ACTION),
        userText: String(r.USER_TEXT)
      })),
    payloadMeta: hash => {
      const r = db.prepare('SELECT HASH, OBJECT_TYPE, VERSION, INSERTION_TIME, STREAMER_INFO, LENGTH(DATA) AS SIZE FROM PAYLOAD WHERE HASH = ?')
        .get(hash) as Record<string, unknown> | undefined
      if (r === undefined) return undefined
      const info = r.STREAMER_INFO
      return {
        hash: String(r.HASH),
        objectType: String(r.OBJECT_TYPE),
        version: String(r.VERSION),
        insertionTime: String(r.INSERTION_TIME),
        streamerInfo: info instanceof Uint8Array ? Buffer.from(info).toString('utf8') : String(info),
        sizeBytes: Number(r.SIZE)
      }
    },
    upload: input => uploadTx.immediate(input),
    close: () => { db.close() }
  }
}

function ensureSchema (db: SqliteDatabase, path: string): void {
  const tableNames = (): string[] => (db.prepare('SELECT name FROM sqlite_master WHERE type = \'table\'').all() as Array<{ name: string }>).map(t => t.name)
  // checked again inside the write lock: two processes may open a new file at once
  db.transaction(() => {
    if (tableNames().length === 0) for (const statement of conddbSchema) db.exec(statement)
  }).immediate()
  const columns: Record<string, string[]> = {}
  for (const name of tableNames()) {
    columns[name.toUpperCase()] = (db.prepare('SELECT name FROM pragma_table_info(?)').all(name) as Array<{ name: string }>).map(c => c.name.toUpperCase())
  }
  const problems = schemaProblems(columns)
  if (columns.TAG_LOG === undefined) problems.push('table TAG_LOG is missing')
  if (problems.length > 0) throw new Error(`CondDB file ${path} exists but is not in the CondDB v2 schema: ${problems.join('; ')}`)
}
