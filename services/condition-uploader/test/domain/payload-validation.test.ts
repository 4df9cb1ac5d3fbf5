import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PayloadFile, PayloadRow, TagRow } from '../../src/domain/conddb-format.ts'
import { payloadHash } from '../../src/domain/payload-hash.ts'
import { validatePayload, type ValidationInput } from '../../src/domain/payload-validation.ts'

const columns = {
  TAG: ['NAME', 'TIME_TYPE', 'OBJECT_TYPE', 'SYNCHRONIZATION', 'END_OF_VALIDITY', 'DESCRIPTION', 'LAST_VALIDATED_TIME', 'INSERTION_TIME', 'MODIFICATION_TIME'],
  IOV: ['TAG_NAME', 'SINCE', 'PAYLOAD_HASH', 'INSERTION_TIME'],
  PAYLOAD: ['HASH', 'OBJECT_TYPE', 'DATA', 'STREAMER_INFO', 'VERSION', 'INSERTION_TIME']
}
const t0 = '2022-07-10 10:00:00.000000'

function tag (over: Partial<TagRow> = {}): TagRow {
  return { name: 'In', timeType: 'Run', objectType: 'EcalTimeCalibConstants', synchronization: 'any', endOfValidity: (1n << 64n) - 1n, description: 'd', lastValidatedTime: 0n, insertionTime: t0, modificationTime: t0, ...over }
}
function payload (data: string, objectType = 'EcalTimeCalibConstants'): PayloadRow {
  const bytes = Buffer.from(data)
  return { hash: payloadHash(objectType, bytes), objectType, data: bytes, streamerInfo: Buffer.from('{}'), version: '3.2', insertionTime: t0 }
}
function file (over: Partial<Extract<PayloadFile, { kind: 'read' }>> = {}): PayloadFile {
  const p = payload('constants')
  return { kind: 'read', path: '/x/timing.db', columns, tags: [tag()], iovs: [{ tagName: 'In', since: 1n, payloadHash: p.hash, insertionTime: t0 }], payloads: [p], ...over }
}
function input (over: Partial<ValidationInput> = {}, request: Partial<ValidationInput['request']> = {}): ValidationInput {
  return {
    request: { requestId: 'prompt/run-355100/calib/1', destinationTag: 'Dest', inputTag: '', synchronization: 'prompt', since: 355100n, checks: {}, ...request },
    file: file(),
    destination: undefined,
    fcsr: 355000,
    policy: 'move',
    whenFcsrUnknown: 'accept',
    ...over
  }
}

test('a valid payload gives one IOV at the requested since on a new tag', () => {
  const v = validatePayload(input())
  assert.ok(v.kind === 'valid', JSON.stringify(v, (_k, x) => typeof x === 'bigint' ? String(x) : x))
  assert.deepEqual(v.iovs.map(i => i.since), [355100n])
  assert.equal(v.tag.exists, false)
  assert.equal(v.tag.synchronization, 'prompt')
  assert.equal(v.tag.objectType, 'EcalTimeCalibConstants')
  assert.equal(v.payloads.length, 1)
})

test('each bad file is rejected by its own check with a reason naming what and where', () => {
  const bad = payload('constants')
  const cases: Array<{ name: string, input: ValidationInput, check: string, reason: RegExp }> = [
    { name: 'unreadable', input: input({ file: { kind: 'unreadable', path: '/x/a.db', reason: 'file is not a database' } }), check: 'unreadable', reason: /\/x\/a\.db is not readable as SQLite: file is not a database/ },
    { name: 'wrong schema', input: input({ file: file({ columns: { TAGS: ['NAME'] } }) }), check: 'schema', reason: /not in the CondDB v2 schema: table TAG is missing/ },
    { name: 'unknown input tag', input: input({}, { inputTag: 'Nope' }), check: 'input-tag', reason: /has no tag 'Nope' \(tags in the file: 'In'\)/ },
    { name: 'two tags, none named', input: input({ file: file({ tags: [tag(), tag({ name: 'Other' })] }) }), check: 'input-tag', reason: /has 2 tags/ },
    { name: 'empty IOV', input: input({ file: file({ iovs: [] }) }), check: 'empty-iov', reason: /tag 'In' has no IOV/ },
    { name: 'missing payload', input: input({ file: file({ payloads: [] }) }), check: 'missing-payload', reason: /which the file does not contain/ },
    { name: 'payload of another object type', input: input({ file: file({ payloads: [{ ...bad, objectType: 'EcalPedestals' }] }) }), check: 'object-type', reason: /has object type 'EcalPedestals' but the tag holds 'EcalTimeCalibConstants'/ },
    { name: 'destination holds another object type', input: input({ destination: tag({ name: 'Dest', objectType: 'EcalPedestals', synchronization: 'prompt' }) }), check: 'object-type', reason: /destination tag 'Dest' holds 'EcalPedestals'/ },
    { name: 'corrupted hash', input: input({ file: file({ payloads: [{ ...bad, data: Buffer.from('tampered') }] }) }), check: 'payload-hash', reason: /does not match SHA-1\(object type \+ data\)/ },
    { name: 'destination of another time type', input: input({ destination: tag({ name: 'Dest', timeType: 'Lumi' }) }), check: 'time-type', reason: /time type Lumi/ },
    { name: 'protected destination', input: input({ destination: tag({ name: 'Dest', protectionCode: 1 }) }), check: 'protected', reason: /protected/ },
    { name: 'before the FCSR, policy reject', input: input({ fcsr: 355200, policy: 'reject' }), check: 'fcsr', reason: /since 355100 of prompt tag 'Dest' is before the first condition-safe run 355200 \(FCSR policy reject\)/ },
    { name: 'pcl before the FCSR under policy move', input: input({ fcsr: 355200, policy: 'move' }, { synchronization: 'pcl' }), check: 'fcsr', reason: /since 355100 of pcl tag 'Dest' is before the first condition-safe run 355200: a pcl tag refuses it/ },
    { name: 'a requested since before the file\'s first IOV', input: input({}, { since: 0n }), check: 'before-first-iov', reason: /requested since 0 of prompt tag 'Dest' is before the first IOV 1 of the payload file/ },
    { name: 'an offline tag at its last since', input: input({ destination: tag({ name: 'Dest', synchronization: 'offline' }), destinationState: { exists: true, lastSince: 355100n } }), check: 'append-only', reason: /since 355100 of offline tag 'Dest' is not after its last since 355100/ },
    { name: 'an existing mc tag', input: input({ destination: tag({ name: 'Dest', synchronization: 'mc' }), destinationState: { exists: true, lastSince: 1n } }), check: 'write-once', reason: /mc tag 'Dest' already exists \(last since 1\)/ },
    { name: 'another payload than the expected one', input: input({}, { expectedPayloadHash: 'a'.repeat(40) }), check: 'expected-hash', reason: new RegExp(`payload hash ${payload('constants').hash} \\(IOV since 355100\\) is not the expected payload hash ${'a'.repeat(40)}`) },
    { name: 'a missing file of a required condition', input: input({ file: { kind: 'missing', path: '/x/none.db' } }), check: 'unreadable', reason: /payload file \/x\/none\.db does not exist/ },
    { name: 'a failed value check', input: input({}, { checks: { min_size_bytes: '1000' } }), check: 'check', reason: /min_size_bytes=1000 failed/ },
    { name: 'an unknown value check', input: input({}, { checks: { colour: 'blue' } }), check: 'check', reason: /unknown check 'colour'/ },
    { name: 'unknown synchronization', input: input({}, { synchronization: 'weekly' }), check: 'synchronization', reason: /'weekly'/ }
  ]
  for (const c of cases) {
    const v = validatePayload(c.input)
    assert.equal(v.kind, 'rejected', c.name)
    assert.ok(v.kind === 'rejected')
    assert.equal(v.check, c.check, c.name)
    assert.match(v.reason, c.reason, c.name)
    // a refusal by the synchronization rules or the expected hash names the payload it refused
    const named = ['append-only', 'expected-hash', 'fcsr', 'write-once', 'before-first-iov'].includes(c.check)
    assert.equal(v.payloadHash, named ? payload('constants').hash : undefined, c.name)
  }
})

test('before the FCSR under policy move the since is moved and the asked since recorded', () => {
  const v = validatePayload(input({ fcsr: 355200 }))
  assert.ok(v.kind === 'valid')
  assert.deepEqual(v.iovs.map(i => i.since), [355200n])
  assert.equal(v.requestedSince, 355100n)
  assert.ok(v.decisions.some(d => /moved forward/.test(d)))
})

test('an offline tag takes a since before the FCSR', () => {
  const v = validatePayload(input({ fcsr: 355200, policy: 'reject' }, { synchronization: 'offline' }))
  assert.ok(v.kind === 'valid')
  assert.deepEqual(v.iovs.map(i => i.since), [355100n])
})

test('the destination tag synchronization applies over the requested one, and is recorded', () => {
  const v = validatePayload(input({ destination: tag({ name: 'Dest', synchronization: 'offline' }), fcsr: 355200, policy: 'reject' }))
  assert.ok(v.kind === 'valid')
  assert.equal(v.tag.synchronization, 'offline')
  assert.ok(v.decisions.some(d => /destination tag has 'offline'/.test(d)))
})

test('the latest insertion of a since supersedes older rows of the file', () => {
  const p1 = payload('old')
  const p2 = payload('new')
  const v = validatePayload(input({
    file: file({
      iovs: [{ tagName: 'In', since: 1n, payloadHash: p1.hash, insertionTime: t0 }, { tagName: 'In', since: 1n, payloadHash: p2.hash, insertionTime: '2022-07-11 00:00:00.000000' }],
      payloads: [p1, p2]
    })
  }))
  assert.ok(v.kind === 'valid')
  assert.deepEqual(v.iovs.map(i => i.payloadHash), [p2.hash])
})

test('an optional condition without a file, or with the input tag and no IOV, is "no new payload"; the expected hash passes when it matches', () => {
  const none = validatePayload(input({ file: { kind: 'missing', path: '/x/none.db' } }, { optionalPayload: true }))
  assert.deepEqual(none, { kind: 'no-payload', reason: 'no new payload: the job wrote no file /x/none.db' })
  // the dispatcher sends an optional condition whose job listed no payload without a file
  const noFile = validatePayload(input({ file: { kind: 'missing', path: '' } }, { optionalPayload: true }))
  assert.deepEqual(noFile, { kind: 'no-payload', reason: 'no new payload: the job wrote no payload file' })
  const noFileRequired = validatePayload(input({ file: { kind: 'missing', path: '' } }))
  assert.ok(noFileRequired.kind === 'rejected' && noFileRequired.check === 'unreadable' && noFileRequired.reason === 'the request names no payload file')
  const empty = validatePayload(input({ file: file({ iovs: [] }) }, { optionalPayload: true }))
  assert.ok(empty.kind === 'no-payload')
  assert.match(empty.reason, /^no new payload: payload file \/x\/timing\.db, tag 'In' has no IOV/)
  const notOptional = validatePayload(input({ file: file({ iovs: [] }) }))
  assert.ok(notOptional.kind === 'rejected' && notOptional.check === 'empty-iov')
  const hash = payload('constants').hash
  const expected = validatePayload(input({}, { expectedPayloadHash: hash }))
  assert.ok(expected.kind === 'valid')
  assert.ok(expected.decisions.includes(`payload hash is the expected ${hash}`))
})
