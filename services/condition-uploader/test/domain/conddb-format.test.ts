import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  conddbTimestamp, friendlySince, fromSqliteInteger, lumiSince, maxUint64, parseConddbTimestamp, schemaProblems, toSqliteInteger
} from '../../src/domain/conddb-format.ts'
import { payloadHash } from '../../src/domain/payload-hash.ts'

test('the payload hash is the SHA-1 of the object type bytes followed by the data bytes', () => {
  // sha1("EcalPedestals" + "abc") computed independently: printf 'EcalPedestalsabc' | sha1sum
  assert.equal(payloadHash('EcalPedestals', Buffer.from('abc')), '1a72433bb699dccb6bb109f180afe4abd8546b39')
})

test('uint64 sinces survive the signed SQLite integer round trip, END_OF_VALIDITY -1 is uint64 max', () => {
  for (const v of [0n, 1n, lumiSince(362881, 1500), (BigInt(1_700_000_000) << 32n) | 123n, maxUint64]) {
    assert.equal(fromSqliteInteger(toSqliteInteger(v)), v)
  }
  assert.equal(fromSqliteInteger(-1n), maxUint64)
})

test('CondDB timestamps are UTC text with microseconds and parse back', () => {
  const micros = BigInt(Date.UTC(2022, 6, 10, 10, 0, 0)) * 1000n + 123456n
  const text = conddbTimestamp(micros)
  assert.equal(text, '2022-07-10 10:00:00.123456')
  assert.equal(parseConddbTimestamp(text), micros)
  assert.equal(parseConddbTimestamp('2017-03-13 10:11:12'), BigInt(Date.UTC(2017, 2, 13, 10, 11, 12)) * 1000n)
})

test('a friendly since reads as run, run:lumisection or time', () => {
  assert.equal(friendlySince('Run', 355100n), '355100')
  assert.equal(friendlySince('Lumi', lumiSince(355100, 12)), '355100:12')
  assert.equal(friendlySince('Time', BigInt(1_657_447_200) << 32n), '2022-07-10T10:00:00.000Z')
})

test('schema problems name the missing tables and columns; PROTECTION_CODE is optional', () => {
  assert.deepEqual(schemaProblems({}), ['table TAG is missing', 'table IOV is missing', 'table PAYLOAD is missing'])
  const ok = {
    TAG: ['NAME', 'TIME_TYPE', 'OBJECT_TYPE', 'SYNCHRONIZATION', 'END_OF_VALIDITY', 'DESCRIPTION', 'LAST_VALIDATED_TIME', 'INSERTION_TIME', 'MODIFICATION_TIME'],
    IOV: ['TAG_NAME', 'SINCE', 'PAYLOAD_HASH', 'INSERTION_TIME'],
    PAYLOAD: ['HASH', 'OBJECT_TYPE', 'DATA', 'STREAMER_INFO', 'VERSION', 'INSERTION_TIME']
  }
  assert.deepEqual(schemaProblems(ok), [])
  assert.deepEqual(schemaProblems({ ...ok, TAG: [...ok.TAG, 'PROTECTION_CODE'] }), [])
  assert.deepEqual(schemaProblems({ ...ok, PAYLOAD: ['HASH', 'OBJECT_TYPE'] }), ['table PAYLOAD lacks column(s) DATA, STREAMER_INFO, VERSION, INSERTION_TIME'])
})
