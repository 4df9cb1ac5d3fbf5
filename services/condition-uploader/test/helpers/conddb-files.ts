// Test helper: writes CondDB v2 payload files with better-sqlite3, the way
// CMSSW does (the CREATE statements of /work/shared/realdata), good ones and
// deliberately bad ones.
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSqlite } from '../../src/adapters/sqlite-handles.ts'

/** ../shared/realdata beside the repository (or $AUTOCAL_REALDATA_DIR). */
export const realdataDir = process.env.AUTOCAL_REALDATA_DIR ?? new URL('../../../../../shared/realdata', import.meta.url).pathname
export const realSchemaFile = `${realdataDir}/conddb_v2_sqlite_schema.sql`

/** The CREATE statements of the real CMSSW-written file, in file order. */
export function realSchemaStatements (): string[] {
  return readFileSync(realSchemaFile, 'utf8').split('\n')
    .filter(l => l.startsWith('CREATE '))
    .map(l => l.trim().replace(/;$/, ''))
}

export function sha1 (objectType: string, data: Uint8Array): string {
  return createHash('sha1').update(objectType).update(data).digest('hex')
}

export interface IovSpec {
  since: bigint
  /** Payload DATA; the payload row is derived from it. */
  data: string | Uint8Array
  /** Object type of this payload (default: the tag's). */
  objectType?: string
  /** Stored HASH instead of the right one (a corrupted file). */
  hash?: string
}

export interface PayloadFileSpec {
  tag?: string
  timeType?: string
  objectType?: string
  synchronization?: string
  iovs?: IovSpec[]
  /** Newer CMSSW: TAG has PROTECTION_CODE. */
  protectionCode?: boolean
  /** Extra tags without IOVs. */
  extraTags?: string[]
}

export const defaults = { tag: 'EcalTimeCalibConstants_test', timeType: 'Run', objectType: 'EcalTimeCalibConstants', synchronization: 'any' }

const streamerInfo = '{"CMSSW_version": "CMSSW_13_0_3", "architecture": "el8_amd64_gcc11", "technology": "boost/serialization", "tech_version": "1.1"}'

/** Writes a payload file; returns the payload hashes of its IOVs (as stored). */
export function writePayloadFile (path: string, spec: PayloadFileSpec = {}): string[] {
  const tag = spec.tag ?? defaults.tag
  const timeType = spec.timeType ?? defaults.timeType
  const objectType = spec.objectType ?? defaults.objectType
  const sync = spec.synchronization ?? defaults.synchronization
  const iovs = spec.iovs ?? [{ since: 1n, data: 'calibration constants v1' }]
  const db = openSqlite(path)
  try {
    for (const statement of realSchemaStatements()) {
      db.exec(spec.protectionCode === true && statement.startsWith('CREATE TABLE "TAG"')
        ? statement.replace('"MODIFICATION_TIME" TIMESTAMP  NOT NULL,', '"MODIFICATION_TIME" TIMESTAMP  NOT NULL,"PROTECTION_CODE" INTEGER DEFAULT 0 NOT NULL,')
        : statement)
    }
    const now = '2022-07-10 10:00:00.000000'
    const insertTag = db.prepare('INSERT INTO TAG (NAME, TIME_TYPE, OBJECT_TYPE, SYNCHRONIZATION, END_OF_VALIDITY, DESCRIPTION, LAST_VALIDATED_TIME, INSERTION_TIME, MODIFICATION_TIME) VALUES (?, ?, ?, ?, -1, ?, 0, ?, ?)')
    insertTag.run(tag, timeType, objectType, sync, 'test tag', now, now)
    for (const extra of spec.extraTags ?? []) insertTag.run(extra, timeType, objectType, sync, 'extra', now, now)
    const hashes: string[] = []
    for (const iov of iovs) {
      const data = typeof iov.data === 'string' ? Buffer.from(iov.data) : Buffer.from(iov.data)
      const type = iov.objectType ?? objectType
      const hash = iov.hash ?? sha1(type, data)
      db.prepare('INSERT OR IGNORE INTO PAYLOAD (HASH, OBJECT_TYPE, DATA, STREAMER_INFO, VERSION, INSERTION_TIME) VALUES (?, ?, ?, ?, ?, ?)')
        .run(hash, type, data, Buffer.from(streamerInfo), '3.2', now)
      db.prepare('INSERT INTO IOV (TAG_NAME, SINCE, PAYLOAD_HASH, INSERTION_TIME) VALUES (?, ?, ?, ?)').run(tag, BigInt.asIntN(64, iov.since), hash, now)
      hashes.push(hash)
    }
    return hashes
  } finally {
    db.close()
  }
}

/**
 * Hostile variants of a CMSSW-written payload file (issue 12), each a small
 * file: `bomb` adds to TAG a generated column `zeroblob(bytes)`, which costs
 * nothing on disk and `bytes` of memory per row to whoever reads it with
 * `SELECT *`.
 */
export type HostileKind = 'bomb' | 'extra-column' | 'generated-data' | 'payload-view'

export function writeHostileFile (path: string, kind: HostileKind, bytes = 400_000_000): void {
  writePayloadFile(path, { iovs: [{ since: 1n, data: 'looks harmless' }] })
  const db = openSqlite(path)
  db.exec('PRAGMA foreign_keys = OFF') // IOV references PAYLOAD, which some variants replace
  try {
    switch (kind) {
      case 'bomb':
        db.exec(`ALTER TABLE TAG ADD COLUMN "NOTE" BLOB GENERATED ALWAYS AS (zeroblob(${bytes})) VIRTUAL`)
        break
      case 'extra-column':
        db.exec('ALTER TABLE IOV ADD COLUMN "COMMENT" TEXT')
        break
      case 'generated-data':
        db.exec(`CREATE TABLE P2 ("HASH" TEXT, "OBJECT_TYPE" TEXT NOT NULL, "DATA" BLOB GENERATED ALWAYS AS (zeroblob(${bytes})) VIRTUAL,
          "STREAMER_INFO" BLOB NOT NULL, "VERSION" TEXT NOT NULL, "INSERTION_TIME" TIMESTAMP NOT NULL, PRIMARY KEY("HASH"))`)
        db.exec('INSERT INTO P2 (HASH, OBJECT_TYPE, STREAMER_INFO, VERSION, INSERTION_TIME) SELECT HASH, OBJECT_TYPE, STREAMER_INFO, VERSION, INSERTION_TIME FROM PAYLOAD')
        db.exec('DROP TABLE PAYLOAD')
        db.exec('ALTER TABLE P2 RENAME TO PAYLOAD')
        break
      case 'payload-view':
        db.exec('ALTER TABLE PAYLOAD RENAME TO P_REAL')
        db.exec(`CREATE VIEW PAYLOAD AS SELECT HASH, OBJECT_TYPE, zeroblob(${bytes}) AS DATA, STREAMER_INFO, VERSION, INSERTION_TIME FROM P_REAL`)
        break
    }
  } finally {
    db.close()
  }
}

/** A SQLite file in some other schema (tables TAGS and IOVS, no PAYLOAD). */
export function writeWrongSchemaFile (path: string): void {
  const db = openSqlite(path)
  db.exec('CREATE TABLE TAGS (NAME TEXT PRIMARY KEY, TIME_TYPE TEXT)')
  db.exec('CREATE TABLE IOV (TAG_NAME TEXT, SINCE INTEGER)')
  db.prepare('INSERT INTO TAGS VALUES (?, ?)').run('x', 'Run')
  db.close()
}

/** A temporary directory removed at the end of the test. */
export function tempDir (t: { after: (fn: () => void) => void }, prefix = 'uploader-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
