// The payload file reader against real SQLite files written like CMSSW does.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readPayloadFile } from '../../src/adapters/payload-file.ts'
import { lumiSince, maxUint64 } from '../../src/domain/conddb-format.ts'
import { tempDir, writeHostileFile, writePayloadFile, writeWrongSchemaFile, type HostileKind } from '../helpers/conddb-files.ts'

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

/** Reads a file with readPayloadFile in a child process; its result kind and reason, and its peak RSS in MB. */
function readInChild (path: string): { kind: string, reason: string, peakMb: number } {
  const reader = new URL('../../src/adapters/payload-file.ts', import.meta.url).href
  const script = `const { readPayloadFile } = await import(${JSON.stringify(reader)})
const f = readPayloadFile(${JSON.stringify(path)})
console.log(JSON.stringify({ kind: f.kind, reason: f.reason ?? '', peakMb: process.resourceUsage().maxRSS / 1024 }))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

test('the 56 KB payload bomb (a generated zeroblob column) is refused unread and the reader stays small', t => {
  const path = join(tempDir(t), 'bomb.db')
  writeHostileFile(path, 'bomb', 400_000_000)
  assert.ok(statSync(path).size < 100_000, `the bomb is a small file (${statSync(path).size} bytes)`)
  const r = readInChild(path)
  assert.equal(r.kind, 'refused')
  assert.match(r.reason, /table TAG has generated or hidden column\(s\) NOTE/)
  // reading the 400 MB column would need at least that much; an idle reader needs well under 200 MB
  assert.ok(r.peakMb < 200, `peak RSS ${r.peakMb.toFixed(0)} MB`)
})

test('hostile schemas are refused with a reason before any row is read', t => {
  const dir = tempDir(t)
  const cases: Array<{ kind: HostileKind, reason: RegExp }> = [
    { kind: 'extra-column', reason: /table IOV has column\(s\) COMMENT that CondDB v2 does not have/ },
    { kind: 'generated-data', reason: /table PAYLOAD has generated or hidden column\(s\) DATA/ },
    { kind: 'payload-view', reason: /PAYLOAD is a view, not a table/ }
  ]
  for (const c of cases) {
    const path = join(dir, `${c.kind}.db`)
    writeHostileFile(path, c.kind, 100_000_000)
    const f = readPayloadFile(path)
    assert.ok(f.kind === 'refused', `${c.kind}: ${f.kind}`)
    assert.match(f.reason, c.reason, c.kind)
  }
})

test('a file above the size cap is refused without being opened', t => {
  const path = join(tempDir(t), 'big.db')
  writePayloadFile(path, { iovs: [{ since: 1n, data: Buffer.alloc(50_000, 7) }] })
  const f = readPayloadFile(path, { maxFileBytes: 20_000 })
  assert.ok(f.kind === 'refused')
  assert.match(f.reason, /^the file has \d+ bytes, more than the payload file cap of 20000 bytes \(AUTOCAL_PAYLOAD_MAX_BYTES\)/)
  assert.equal(readPayloadFile(path, { maxFileBytes: 1_000_000 }).kind, 'read')
})
