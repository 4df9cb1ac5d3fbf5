// The local CondDB target on real SQLite files, read back by python3's
// sqlite3 module (an independent reader of the schema).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openCondDb } from '../../src/adapters/conddb-sqlite.ts'
import { openSqlite } from '../../src/adapters/sqlite-handles.ts'
import type { PayloadRow } from '../../src/domain/conddb-format.ts'
import type { DestinationTag } from '../../src/domain/payload-validation.ts'
import { realSchemaStatements, sha1, tempDir, writePayloadFile } from '../helpers/conddb-files.ts'
import { readWithPython } from '../helpers/fixtures.ts'

const objectType = 'EcalPedestals'
const tag: DestinationTag = { name: 'EcalPedestals_pcl', timeType: 'Run', objectType, synchronization: 'pcl', description: 'pedestals', exists: false }
function payload (text: string): PayloadRow {
  const data = Buffer.from(text)
  return { hash: sha1(objectType, data), objectType, data, streamerInfo: Buffer.from('{"technology": "boost/serialization"}'), version: '3.2', insertionTime: '2022-07-10 10:00:00.000000' }
}

test('a new CondDB file gets exactly the CREATE statements of a CMSSW-written file', t => {
  const path = join(tempDir(t), 'conddb.sqlite')
  openCondDb(path).close()
  const db = openSqlite(path, { readonly: true })
  const stored = (db.prepare('SELECT sql FROM sqlite_master WHERE type = \'table\' ORDER BY rowid').all() as Array<{ sql: string }>).map(r => r.sql)
  db.close()
  assert.deepEqual(stored, realSchemaStatements())
})

test('an upload creates the tag on first use, stores the payload once, appends IOVs and logs each change; python reads it back', t => {
  const path = join(tempDir(t), 'conddb.sqlite')
  const conddb = openCondDb(path, { user: 'ecalcalib', host: 'testhost' })
  t.after(() => { conddb.close() })
  const p1 = payload('pedestals run 355100')
  const r1 = conddb.upload({ tag, iovs: [{ since: 355100n, payloadHash: p1.hash }], payloads: [p1], requestId: 'prompt/run-355100/ped/1', userText: 'first' })
  assert.ok(r1.kind === 'done')
  assert.equal(r1.tagCreated, true)
  assert.equal(r1.appended.length, 1)
  // the same payload at a later run: the payload is not stored again
  const r2 = conddb.upload({ tag: { ...tag, exists: true }, iovs: [{ since: 355200n, payloadHash: p1.hash }], payloads: [p1], requestId: 'prompt/run-355200/ped/1', userText: 'second' })
  assert.ok(r2.kind === 'done')
  assert.deepEqual(r2.plan.payloadsToStore, [])

  const py = readWithPython(path)
  assert.deepEqual(py.tables, ['TAG', 'coral_sqlite_fk', 'PAYLOAD', 'IOV', 'TAG_LOG', 'GLOBAL_TAG', 'GLOBAL_TAG_MAP'])
  assert.equal(py.tags.length, 1)
  assert.equal(py.tags[0]?.NAME, 'EcalPedestals_pcl')
  assert.equal(py.tags[0]?.TIME_TYPE, 'Run')
  assert.equal(py.tags[0]?.SYNCHRONIZATION, 'pcl')
  assert.equal(py.tags[0]?.END_OF_VALIDITY, String((1n << 64n) - 1n))
  assert.equal(py.tags[0]?.LAST_VALIDATED_TIME, '0')
  assert.match(py.tags[0]!.INSERTION_TIME, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/)
  assert.deepEqual(py.iovs.map(i => [i.SINCE, i.PAYLOAD_HASH]), [['355100', p1.hash], ['355200', p1.hash]])
  assert.equal(py.payloads.length, 1)
  assert.equal(py.payloads[0]?.SHA1, p1.hash)
  assert.deepEqual(py.tagLog.map(l => l.ACTION), ['New tag created.', '1 iov(s) inserted.', '1 iov(s) inserted.'])
  assert.equal(py.tagLog[0]?.USER_NAME, 'ecalcalib')
  assert.equal(py.tagLog[2]?.USER_TEXT, 'second')
  assert.match(py.tagLog[2]!.COMMAND, /prompt\/run-355200\/ped\/1/)
  assert.ok(py.tags[0]!.MODIFICATION_TIME >= py.iovs[1]!.INSERTION_TIME)
})

test('the same (tag, since, payload hash) is appended once, and a redelivery of the same request writes nothing, whatever IOVs it asks for', t => {
  const path = join(tempDir(t), 'conddb.sqlite')
  const conddb = openCondDb(path)
  t.after(() => { conddb.close() })
  const p = payload('x')
  const input = { tag, iovs: [{ since: 7n, payloadHash: p.hash }], payloads: [p], requestId: 'r/1', userText: '' }
  const first = conddb.upload(input)
  const again = conddb.upload(input)
  const other = conddb.upload({ ...input, requestId: 'r/2' })
  assert.ok(first.kind === 'done' && other.kind === 'done')
  assert.deepEqual(again, { kind: 'written-before', rows: first.appended })
  assert.equal(other.appended.length, 0)
  assert.deepEqual(conddb.writtenBy(tag.name, 'r/1'), first.appended)
  assert.deepEqual(conddb.writtenBy(tag.name, 'r/2'), [])
  // the same request with another since (the FCSR moved before the redelivery): still nothing written
  assert.deepEqual(conddb.upload({ ...input, iovs: [{ since: 9n, payloadHash: p.hash }] }), { kind: 'written-before', rows: first.appended })
  assert.equal(readWithPython(path).iovs.length, 1)
})

test('a new payload at an existing since supersedes it with a later insertion time', t => {
  const path = join(tempDir(t), 'conddb.sqlite')
  let clock = 1_700_000_000_000_000n
  const conddb = openCondDb(path, { nowMicros: () => clock }) // a clock that does not move
  t.after(() => { conddb.close() })
  const a = payload('a')
  const b = payload('b')
  conddb.upload({ tag, iovs: [{ since: 7n, payloadHash: a.hash }], payloads: [a], requestId: 'r/1', userText: '' })
  conddb.upload({ tag, iovs: [{ since: 7n, payloadHash: b.hash }], payloads: [b], requestId: 'r/2', userText: '' })
  clock += 1n
  const iovs = conddb.listIovs(tag.name)
  assert.deepEqual(iovs.map(i => i.payloadHash), [a.hash, b.hash])
  assert.ok(iovs[1]!.insertionTime > iovs[0]!.insertionTime)
})

test('an existing CondDB written by a newer CMSSW (TAG.PROTECTION_CODE) is appended to', t => {
  const path = join(tempDir(t), 'existing.db')
  writePayloadFile(path, { tag: 'Existing_tag', protectionCode: true, objectType })
  const conddb = openCondDb(path)
  t.after(() => { conddb.close() })
  const p = payload('new one')
  const r = conddb.upload({ tag: { ...tag, name: 'Existing_tag', synchronization: 'any' }, iovs: [{ since: 500n, payloadHash: p.hash }], payloads: [p], requestId: 'r/9', userText: '' })
  assert.ok(r.kind === 'done')
  assert.equal(r.tagCreated, false)
  assert.equal(conddb.getTag('Existing_tag')?.protectionCode, 0)
  assert.deepEqual(conddb.listIovs('Existing_tag').map(i => i.since), [1n, 500n])
})

test('64-bit Time sinces are written and read back exactly, also by python', t => {
  const path = join(tempDir(t), 'conddb.sqlite')
  const conddb = openCondDb(path)
  t.after(() => { conddb.close() })
  const p = payload('t')
  const since = (BigInt(1_657_447_200) << 32n) | 1n
  const high = (1n << 64n) - 2n
  conddb.upload({ tag: { ...tag, name: 'T', timeType: 'Time' }, iovs: [{ since, payloadHash: p.hash }, { since: high, payloadHash: p.hash }], payloads: [p], requestId: 'r', userText: '' })
  assert.deepEqual(conddb.listIovs('T').map(i => i.since), [since, high])
  assert.deepEqual(readWithPython(path).iovs.map(i => i.SINCE).sort(), [String(since), String(high)].sort())
  assert.equal(conddb.listTags()[0]?.lastSince, high)
})

test('inside its write transaction the CondDB refuses what the synchronization rules refuse, read from the tag as it is then', t => {
  const path = join(tempDir(t), 'conddb.sqlite')
  const conddb = openCondDb(path)
  t.after(() => { conddb.close() })
  const p = payload('offline constants')
  const offline: DestinationTag = { ...tag, name: 'Ecal_offline', synchronization: 'offline' }
  const at = (since: bigint, requestId: string, over: Partial<DestinationTag> = {}) =>
    conddb.upload({ tag: { ...offline, ...over }, iovs: [{ since, payloadHash: p.hash }], payloads: [p], requestId, userText: '' })
  assert.equal(at(1000n, 'r/1').kind, 'done')
  assert.equal(conddb.lastSince('Ecal_offline'), 1000n)
  // the caller thinks the tag is any (validated before another writer created it offline): the tag's own synchronization applies
  const below = at(500n, 'r/2', { synchronization: 'any' })
  assert.deepEqual(below, { kind: 'rejected', rule: 'append-only', reason: "since 500 of offline tag 'Ecal_offline' is not after its last since 1000: an offline tag only takes appends" })
  assert.equal(at(1000n, 'r/3').kind, 'rejected')
  const redelivered = at(1000n, 'r/1')
  assert.equal(redelivered.kind, 'written-before', 'a redelivery of the request that wrote is not refused')

  const mc: DestinationTag = { ...tag, name: 'Ecal_mc', synchronization: 'mc' }
  assert.equal(conddb.upload({ tag: mc, iovs: [{ since: 1n, payloadHash: p.hash }], payloads: [p], requestId: 'm/1', userText: '' }).kind, 'done')
  const second = conddb.upload({ tag: mc, iovs: [{ since: 200n, payloadHash: p.hash }], payloads: [p], requestId: 'm/2', userText: '' })
  assert.ok(second.kind === 'rejected' && second.rule === 'write-once')

  const pcl = conddb.upload({
    tag: { ...tag, name: 'Ecal_new_pcl' },
    iovs: [{ since: 366000n, payloadHash: p.hash }],
    payloads: [p],
    requestId: 'p/1',
    userText: '',
    sync: { requestedSince: 366000n, fileFirstSince: 1n, fcsr: 367000n, policy: 'move', whenFcsrUnknown: 'accept' }
  })
  assert.ok(pcl.kind === 'rejected' && pcl.rule === 'fcsr')
  const py = readWithPython(path)
  assert.deepEqual(py.iovs.map(i => [i.TAG_NAME, i.SINCE]), [['Ecal_mc', '1'], ['Ecal_offline', '1000']])
  assert.ok(!py.tags.some(x => x.NAME === 'Ecal_new_pcl'), 'a refused upload creates no tag')
})
