// Reads a payload file (a CondDB v2 SQLite file written by any CMSSW version,
// with or without TAG.PROTECTION_CODE) read-only. Never throws for a bad
// file: it reports why it could not read it, or its schema and rows; the
// domain decides what that means.
import { openSqlite, type SqliteDatabase } from './sqlite-handles.ts'
import {
  fromSqliteInteger, schemaProblems, type IovRow, type PayloadFile, type PayloadRow, type TagRow
} from '../domain/conddb-format.ts'

type Row = Record<string, unknown>

export function readPayloadFile (path: string): PayloadFile {
  let db: SqliteDatabase
  try {
    db = openSqlite(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    return { kind: 'unreadable', path, reason: (err as Error).message }
  }
  try {
    const tables = db.prepare('SELECT name FROM sqlite_master WHERE type = \'table\'').all() as Array<{ name: string }>
    const columns: Record<string, string[]> = {}
    for (const { name } of tables) {
      const info = db.prepare('SELECT name FROM pragma_table_info(?)').all(name) as Array<{ name: string }>
      columns[name.toUpperCase()] = info.map(c => c.name.toUpperCase())
    }
    if (schemaProblems(columns).length > 0) return { kind: 'read', path, columns, tags: [], iovs: [], payloads: [] }
    const hasProtection = columns.TAG?.includes('PROTECTION_CODE') === true
    const tags = (db.prepare(`SELECT *${hasProtection ? '' : ', NULL AS PROTECTION_CODE'} FROM TAG ORDER BY NAME`).safeIntegers(true).all() as Row[]).map(tagFromRow)
    const iovs = (db.prepare('SELECT TAG_NAME, SINCE, PAYLOAD_HASH, INSERTION_TIME FROM IOV ORDER BY TAG_NAME, SINCE, INSERTION_TIME')
      .safeIntegers(true).all() as Row[]).map(iovFromRow)
    const payloads = (db.prepare('SELECT HASH, OBJECT_TYPE, DATA, STREAMER_INFO, VERSION, INSERTION_TIME FROM PAYLOAD WHERE HASH IN (SELECT PAYLOAD_HASH FROM IOV)')
      .all() as Row[]).map(payloadFromRow)
    return { kind: 'read', path, columns, tags, iovs, payloads }
  } catch (err) {
    return { kind: 'unreadable', path, reason: (err as Error).message }
  } finally {
    db.close()
  }
}

export function tagFromRow (r: Row): TagRow {
  const protection = r.PROTECTION_CODE
  return {
    name: String(r.NAME),
    timeType: String(r.TIME_TYPE),
    objectType: String(r.OBJECT_TYPE),
    synchronization: String(r.SYNCHRONIZATION),
    endOfValidity: fromSqliteInteger(asInteger(r.END_OF_VALIDITY)),
    description: String(r.DESCRIPTION ?? ''),
    lastValidatedTime: fromSqliteInteger(asInteger(r.LAST_VALIDATED_TIME)),
    insertionTime: String(r.INSERTION_TIME),
    modificationTime: String(r.MODIFICATION_TIME),
    protectionCode: protection === null || protection === undefined ? undefined : Number(protection)
  }
}

export function iovFromRow (r: Row): IovRow {
  return {
    tagName: String(r.TAG_NAME),
    since: fromSqliteInteger(asInteger(r.SINCE)),
    payloadHash: String(r.PAYLOAD_HASH),
    insertionTime: String(r.INSERTION_TIME)
  }
}

export function payloadFromRow (r: Row): PayloadRow {
  return {
    hash: String(r.HASH),
    objectType: String(r.OBJECT_TYPE),
    data: asBytes(r.DATA),
    streamerInfo: asBytes(r.STREAMER_INFO),
    version: String(r.VERSION),
    insertionTime: String(r.INSERTION_TIME)
  }
}

/** An integer column; CORAL may also have stored it as text. */
function asInteger (v: unknown): bigint {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number') return BigInt(Math.trunc(v))
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return BigInt(v.trim())
  return 0n
}

/** A BLOB column; a TEXT value (STREAMER_INFO written as text) is taken as its UTF-8 bytes. */
function asBytes (v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  return new Uint8Array()
}
