// Reads a payload file (a CondDB v2 SQLite file written by any CMSSW version,
// with or without TAG.PROTECTION_CODE) read-only, as hostile input: a size
// cap before opening; `PRAGMA trusted_schema = OFF`; TAG, IOV and PAYLOAD
// must be ordinary tables with only CondDB columns (no generated, hidden or
// extra column: a generated `zeroblob(N)` column in a 56 KB file makes a
// `SELECT *` allocate N bytes); explicit column lists; and every blob's
// length, asked in SQL (`length(DATA)`), must fit in the file before the
// blob is read. Never throws for a bad file: it reports why it could not or
// would not read it, or its schema and rows; the domain decides the rest.
import { statSync } from 'node:fs'
import { openSqlite, type SqliteDatabase } from './sqlite-handles.ts'
import {
  fromSqliteInteger, requiredColumns, schemaProblems, type IovRow, type PayloadFile, type PayloadRow, type TagRow
} from '../domain/conddb-format.ts'

type Row = Record<string, unknown>

export interface PayloadFileLimits {
  /** Largest payload file read, in bytes (AUTOCAL_PAYLOAD_MAX_BYTES). */
  maxFileBytes: number
}

export const defaultPayloadFileLimits: PayloadFileLimits = { maxFileBytes: 256 * 1024 * 1024 }

/** Columns a CondDB v2 table may have: the required ones plus TAG.PROTECTION_CODE (newer CMSSW). */
const allowedColumns: Readonly<Record<string, ReadonlySet<string>>> = {
  TAG: new Set([...requiredColumns.TAG, 'PROTECTION_CODE']),
  IOV: new Set(requiredColumns.IOV),
  PAYLOAD: new Set(requiredColumns.PAYLOAD)
}

/**
 * Reads a payload file. Returns `missing` (no file), `unreadable` (not
 * SQLite, I/O error), `refused` (over the size cap, hostile schema, a blob
 * longer than the file) or `read` with its columns and rows (rows empty when
 * required columns lack: the domain reports the schema problem).
 */
export function readPayloadFile (path: string, limits: PayloadFileLimits = defaultPayloadFileLimits): PayloadFile {
  let size: number
  try {
    const st = statSync(path)
    if (!st.isFile()) return { kind: 'unreadable', path, reason: 'not a regular file' }
    size = st.size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing', path }
    return { kind: 'unreadable', path, reason: (err as Error).message }
  }
  if (size > limits.maxFileBytes) {
    return { kind: 'refused', path, reason: `the file has ${size} bytes, more than the payload file cap of ${limits.maxFileBytes} bytes (AUTOCAL_PAYLOAD_MAX_BYTES)` }
  }
  let db: SqliteDatabase
  try {
    db = openSqlite(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    return { kind: 'unreadable', path, reason: (err as Error).message }
  }
  try {
    // schema-defined SQL (views, triggers, defaults, generated columns) may not call functions not marked innocuous
    db.exec('PRAGMA trusted_schema = OFF')
    const objects = db.prepare('SELECT type, name, sql FROM sqlite_master').all() as Array<{ type: string, name: string, sql: string | null }>
    const columns: Record<string, string[]> = {}
    for (const o of objects) {
      const name = o.name.toUpperCase()
      const condTable = Object.hasOwn(allowedColumns, name)
      if (condTable && o.type !== 'table' && o.type !== 'index') {
        return { kind: 'refused', path, reason: `${name} is a ${o.type}, not a table` }
      }
      if (o.type !== 'table') continue
      if (condTable && /^\s*CREATE\s+VIRTUAL\s/i.test(o.sql ?? '')) return { kind: 'refused', path, reason: `${name} is a virtual table` }
      if (!condTable) {
        try {
          columns[name] = (db.prepare('SELECT name FROM pragma_table_xinfo(?)').all(o.name) as Array<{ name: string }>).map(c => c.name.toUpperCase())
        } catch {
          columns[name] = [] // e.g. a virtual table of a module this SQLite lacks: not one we read
        }
        continue
      }
      const info = db.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all(o.name) as Array<{ name: string, hidden: number }>
      columns[name] = info.map(c => c.name.toUpperCase())
      const generated = info.filter(c => c.hidden !== 0).map(c => c.name)
      if (generated.length > 0) return { kind: 'refused', path, reason: `table ${name} has generated or hidden column(s) ${generated.join(', ')}` }
      const extra = info.map(c => c.name.toUpperCase()).filter(c => !allowedColumns[name]!.has(c))
      if (extra.length > 0) return { kind: 'refused', path, reason: `table ${name} has column(s) ${extra.join(', ')} that CondDB v2 does not have` }
    }
    if (schemaProblems(columns).length > 0) return { kind: 'read', path, columns, tags: [], iovs: [], payloads: [] }
    const hasProtection = columns.TAG?.includes('PROTECTION_CODE') === true
    const tags = (db.prepare(`SELECT NAME, TIME_TYPE, OBJECT_TYPE, SYNCHRONIZATION, END_OF_VALIDITY, DESCRIPTION, LAST_VALIDATED_TIME,
      INSERTION_TIME, MODIFICATION_TIME, ${hasProtection ? 'PROTECTION_CODE' : 'NULL AS PROTECTION_CODE'} FROM TAG ORDER BY NAME`)
      .safeIntegers(true).all() as Row[]).map(tagFromRow)
    const iovs = (db.prepare('SELECT TAG_NAME, SINCE, PAYLOAD_HASH, INSERTION_TIME FROM IOV ORDER BY TAG_NAME, SINCE, INSERTION_TIME')
      .safeIntegers(true).all() as Row[]).map(iovFromRow)
    // a stored value cannot be longer than the file that holds it: check before any blob is read
    const lengths = db.prepare(`SELECT HASH, length(DATA) AS DATA_LENGTH, length(STREAMER_INFO) AS INFO_LENGTH FROM PAYLOAD
      WHERE HASH IN (SELECT PAYLOAD_HASH FROM IOV)`).all() as Array<{ HASH: unknown, DATA_LENGTH: number | null, INFO_LENGTH: number | null }>
    let total = 0
    for (const l of lengths) {
      const n = (l.DATA_LENGTH ?? 0) + (l.INFO_LENGTH ?? 0)
      total += n
      if (n > size || total > size) {
        return { kind: 'refused', path, reason: `payload ${String(l.HASH)} claims ${n} bytes of DATA and STREAMER_INFO (${total} in all), more than the ${size} bytes of the file` }
      }
    }
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
