// Facts of the CMS CondDB v2 format that the uploader's decisions rest on:
// the rows of a payload file, time types, synchronizations, since encoding
// (64-bit, as BigInt) and the timestamp text CORAL writes.

/** A TAG row. 64-bit columns are BigInt (uint64); timestamps are CondDB text. */
export interface TagRow {
  name: string
  timeType: string
  objectType: string
  synchronization: string
  endOfValidity: bigint
  description: string
  lastValidatedTime: bigint
  insertionTime: string
  modificationTime: string
  /** Newer CMSSW files only; undefined when the column is absent. */
  protectionCode?: number | undefined
}

/** An IOV row: valid from `since` until the next since of the same tag. */
export interface IovRow {
  tagName: string
  since: bigint
  payloadHash: string
  insertionTime: string
}

/** A PAYLOAD row. */
export interface PayloadRow {
  hash: string
  objectType: string
  data: Uint8Array
  streamerInfo: Uint8Array
  version: string
  insertionTime: string
}

/** What an adapter read from a payload file: either why it could not, or its schema and rows. */
export type PayloadFile =
  /** No file at the path (a job that wrote nothing). */
  | { kind: 'missing', path: string }
  | { kind: 'unreadable', path: string, reason: string }
  /** Read would be unsafe: over the size cap, generated or extra columns, a blob longer than the file. */
  | { kind: 'refused', path: string, reason: string }
  | {
    kind: 'read'
    path: string
    /** Column names per table, for every table in the file. */
    columns: Record<string, string[]>
    /** Rows; empty when the schema check fails (they could not be read). */
    tags: TagRow[]
    iovs: IovRow[]
    payloads: PayloadRow[]
  }

/** Columns a file must have to be read as CondDB v2 (PROTECTION_CODE is optional). */
export const requiredColumns: Readonly<Record<'TAG' | 'IOV' | 'PAYLOAD', readonly string[]>> = {
  TAG: ['NAME', 'TIME_TYPE', 'OBJECT_TYPE', 'SYNCHRONIZATION', 'END_OF_VALIDITY', 'DESCRIPTION', 'LAST_VALIDATED_TIME', 'INSERTION_TIME', 'MODIFICATION_TIME'],
  IOV: ['TAG_NAME', 'SINCE', 'PAYLOAD_HASH', 'INSERTION_TIME'],
  PAYLOAD: ['HASH', 'OBJECT_TYPE', 'DATA', 'STREAMER_INFO', 'VERSION', 'INSERTION_TIME']
}

/** What is missing for a file to be in the CondDB v2 schema; empty when nothing is. */
export function schemaProblems (columns: Record<string, string[]>): string[] {
  const problems: string[] = []
  for (const [table, needed] of Object.entries(requiredColumns)) {
    const have = columns[table]
    if (have === undefined) {
      problems.push(`table ${table} is missing`)
      continue
    }
    const upper = new Set(have.map(c => c.toUpperCase()))
    const lacking = needed.filter(c => !upper.has(c))
    if (lacking.length > 0) problems.push(`table ${table} lacks column(s) ${lacking.join(', ')}`)
  }
  return problems
}

export const timeTypes = ['Run', 'Time', 'Lumi', 'Hash', 'User'] as const
export type TimeType = typeof timeTypes[number]

export const synchronizations = ['any', 'validation', 'mc', 'runmc', 'hlt', 'express', 'prompt', 'pcl', 'offline'] as const
export type Synchronization = typeof synchronizations[number]

export function isTimeType (s: string): s is TimeType {
  return (timeTypes as readonly string[]).includes(s)
}

export function isSynchronization (s: string): s is Synchronization {
  return (synchronizations as readonly string[]).includes(s)
}

export const maxUint64 = (1n << 64n) - 1n

/** A Lumi since: (run << 32) | lumisection. */
export function lumiSince (run: bigint | number, lumisection: bigint | number): bigint {
  return (BigInt(run) << 32n) | BigInt(lumisection)
}

/** The run of a Lumi since. */
export function runOfLumiSince (since: bigint): bigint {
  return since >> 32n
}

/** A since as a person reads it: "355100" (Run), "355100:12" (Lumi), ISO time (Time), else the number. */
export function friendlySince (timeType: string, since: bigint): string {
  if (timeType === 'Lumi') return `${since >> 32n}:${since & 0xffffffffn}`
  if (timeType === 'Time') {
    const seconds = since >> 32n
    if (seconds <= BigInt(Number.MAX_SAFE_INTEGER) / 1000n) return new Date(Number(seconds) * 1000).toISOString()
  }
  return since.toString()
}

/** A uint64 as SQLite stores it (signed 64-bit; ULONGLONG -1 = uint64 max). */
export function toSqliteInteger (value: bigint): bigint {
  return BigInt.asIntN(64, value)
}

/** A SQLite integer read back as the uint64 CORAL meant. */
export function fromSqliteInteger (value: bigint | number): bigint {
  return BigInt.asUintN(64, BigInt(value))
}

/** CondDB timestamp text: "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, from microseconds since the epoch. */
export function conddbTimestamp (micros: bigint): string {
  const ms = micros / 1000n
  const iso = new Date(Number(ms)).toISOString() // YYYY-MM-DDTHH:MM:SS.mmmZ
  const frac = (micros % 1_000_000n).toString().padStart(6, '0')
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${frac}`
}

/** Microseconds since the epoch of a CondDB timestamp text (fraction optional); undefined if unparsable. */
export function parseConddbTimestamp (text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?/.exec(text)
  if (m === null) return undefined
  const seconds = Date.parse(`${m[1]}T${m[2]}Z`)
  if (Number.isNaN(seconds)) return undefined
  const frac = (m[3] ?? '').padEnd(6, '0').slice(0, 6)
  return BigInt(seconds) * 1000n + BigInt(frac)
}
