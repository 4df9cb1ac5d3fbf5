// Test fixtures: a configuration for the local Kafka + Redis under a unique
// topic and key prefix and a temporary data directory (its parent is the
// output root payload files must be in); a quiet logger; polling.
import { randomUUID } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { dirname } from 'node:path'
import { Writable } from 'node:stream'
import { connectionEnv, createLogger, loadConfig, type Logger } from '@autocal/runtime'
import { Config } from '../../src/config.ts'

export function testConfig (dataDir: string, overrides: Record<string, string> = {}): Config {
  const id = `t-${randomUUID().slice(0, 8)}`
  return loadConfig(Config, {
    ...connectionEnv(), // the servers and credentials of this test run (defaults: the embedded local ones)
    AUTOCAL_KAFKA_TOPIC_PREFIX: id,
    AUTOCAL_REDIS_KEY_PREFIX: `${id}:`,
    AUTOCAL_KAFKA_RETRY_BASE_MS: '50',
    AUTOCAL_KAFKA_MAX_ATTEMPTS: '20',
    AUTOCAL_DATA_DIR: dataDir,
    // tests write payload files beside the data directory: that directory is the output root
    AUTOCAL_OUTPUT_ROOT: dirname(dataDir),
    AUTOCAL_HTTP_PORT: '0',
    // reads open in the tests of other behaviour; the read-access tests set tokens
    AUTOCAL_READ_PUBLIC: 'true',
    AUTOCAL_LOG_LEVEL: 'warn',
    ...overrides
  })
}

/** A logger whose lines are kept in memory (parsed JSON). */
export function memoryLogger (level = 'warn'): { logger: Logger, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line))
      done()
    }
  })
  return { logger: createLogger({ service: 'test', level, destination: stream }), lines }
}

// the tests' one wait (deadline 60 s unless given)
export { until } from '../../../../test/helpers/until.ts'

/**
 * Reads a CondDB file with python3's sqlite3 module: an independent reader
 * of the schema (not the uploader's code path). SINCE and END_OF_VALIDITY as
 * decimal strings; the payload hash recomputed by Python's hashlib.
 */
export function readWithPython (path: string): {
  tags: Array<{ NAME: string, TIME_TYPE: string, OBJECT_TYPE: string, SYNCHRONIZATION: string, END_OF_VALIDITY: string, LAST_VALIDATED_TIME: string, INSERTION_TIME: string, MODIFICATION_TIME: string, DESCRIPTION: string }>
  iovs: Array<{ TAG_NAME: string, SINCE: string, PAYLOAD_HASH: string, INSERTION_TIME: string }>
  payloads: Array<{ HASH: string, OBJECT_TYPE: string, SHA1: string, SIZE: number, VERSION: string, STREAMER_INFO: string }>
  tagLog: Array<{ TAG_NAME: string, EVENT_TIME: string, ACTION: string, COMMAND: string, USER_TEXT: string, USER_NAME: string }>
  tables: string[]
} {
  const script = `
import hashlib, json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
con.row_factory = sqlite3.Row
def rows(sql): return [dict(r) for r in con.execute(sql)]
u64 = lambda v: str(v % (1 << 64))
out = {
  'tables': [r['name'] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY rowid")],
  'tags': [dict(r, END_OF_VALIDITY=u64(r['END_OF_VALIDITY']), LAST_VALIDATED_TIME=u64(r['LAST_VALIDATED_TIME'])) for r in rows('SELECT * FROM TAG ORDER BY NAME')],
  'iovs': [dict(r, SINCE=u64(r['SINCE'])) for r in rows('SELECT * FROM IOV ORDER BY TAG_NAME, INSERTION_TIME, SINCE')],
  'payloads': [{'HASH': r['HASH'], 'OBJECT_TYPE': r['OBJECT_TYPE'], 'SHA1': hashlib.sha1(r['OBJECT_TYPE'].encode() + bytes(r['DATA'])).hexdigest(),
                'SIZE': len(r['DATA']), 'VERSION': r['VERSION'], 'STREAMER_INFO': bytes(r['STREAMER_INFO']).decode()} for r in con.execute('SELECT * FROM PAYLOAD ORDER BY HASH')],
  'tagLog': rows('SELECT * FROM TAG_LOG ORDER BY TAG_NAME, EVENT_TIME, ACTION'),
}
print(json.dumps(out))
`
  const r = spawnSync('python3', ['-c', script, path], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`python3 reader failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}
