// The payload file reader against real SQLite files written like CMSSW does.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readPayloadFile } from '../../src/adapters/payload-file.ts'
import { lumiSince, maxUint64 } from '../../src/domain/conddb-format.ts'
import { tempDir, writePayloadFile, writeWrongSchemaFile } from '../helpers/conddb-files.ts'

test('a CondDB file written without TAG.PROTECTION_CODE is read with its tag, IOVs and payloads', t => {
  const path = join(tempDir(t), 'timing.db')
  const [hash] = writePayloadFile(path)
  const f = readPayloadFile(path)
  assert.ok(f.kind === 'read')
  assert.equal(f.tags.length, 1)
  assert.equal(f.tags[0]?.name, 'EcalTimeCalibConstants_test')
  assert.equal(f.tags[0]?.endOfValidity, maxUint64)
  assert.equal(f.tags[0]?.protectionCode, undefined)
  assert.deepEqual(f.iovs.map(i => [i.since, i.payloadHash]), [[1n, hash]])
  assert.equal(f.payloads[0]?.objectType, 'EcalTimeCalibConstants')
  assert.equal(Buffer.from(f.payloads[0]!.data).toString(), 'calibration constants v1')
})

test('a file of a newer CMSSW with TAG.PROTECTION_CODE is read too', t => {
  const path = join(tempDir(t), 'new.db')
  writePayloadFile(path, { protectionCode: true })
  const f = readPayloadFile(path)
  assert.ok(f.kind === 'read')
  assert.equal(f.tags[0]?.protectionCode, 0)
})

test('Lumi and Time sinces above 2^53 are read exactly as 64-bit integers', t => {
  const dir = tempDir(t)
  const lumi = lumiSince(362881, 1501)
  const time = (BigInt(1_657_447_200) << 32n) | 1n
  const top = maxUint64 - 5n // stored negative by SQLite
  writePayloadFile(join(dir, 'lumi.db'), { timeType: 'Lumi', iovs: [{ since: lumi, data: 'a' }] })
  writePayloadFile(join(dir, 'time.db'), { timeType: 'Time', iovs: [{ since: time, data: 'b' }, { since: top, data: 'c' }] })
  const l = readPayloadFile(join(dir, 'lumi.db'))
  const ti = readPayloadFile(join(dir, 'time.db'))
  assert.ok(l.kind === 'read' && ti.kind === 'read')
  assert.equal(l.iovs[0]?.since, lumi)
  assert.deepEqual(ti.iovs.map(i => i.since).sort((a, b) => (a < b ? -1 : 1)), [time, top])
})

test('a file in another schema is read as columns without rows; a non-SQLite file is unreadable, a missing one missing', t => {
  const dir = tempDir(t)
  writeWrongSchemaFile(join(dir, 'wrong.db'))
  const wrong = readPayloadFile(join(dir, 'wrong.db'))
  assert.ok(wrong.kind === 'read')
  assert.deepEqual(Object.keys(wrong.columns).sort(), ['IOV', 'TAGS'])
  assert.deepEqual(wrong.tags, [])
  writeFileSync(join(dir, 'text.db'), 'this is not a database, just text\n'.repeat(100))
  const text = readPayloadFile(join(dir, 'text.db'))
  assert.ok(text.kind === 'unreadable')
  assert.match(text.reason, /not a database/)
  const missing = readPayloadFile(join(dir, 'missing.db'))
  assert.deepEqual(missing, { kind: 'missing', path: join(dir, 'missing.db') })
})
