import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { AuditRecordSchema } from '@autocal/contracts'
import { auditMatches, sinceOf } from '../src/audit.ts'
import { tokenOf } from '../src/cli.ts'

const now = Date.parse('2026-03-10T12:00:00Z')

test('--since is a duration back from now or an ISO time; anything else names the flag', () => {
  const table: Array<[string, number]> = [
    ['90s', now - 90_000], ['30m', now - 1_800_000], ['12h', now - 43_200_000], ['7d', now - 7 * 86_400_000], ['2w', now - 14 * 86_400_000],
    ['2026-03-01', Date.parse('2026-03-01')], ['2026-03-01T06:00:00Z', Date.parse('2026-03-01T06:00:00Z')]
  ]
  for (const [text, ms] of table) assert.equal(sinceOf(text, now), ms, text)
  for (const bad of ['7', 'yesterday', '3y', '-1d', '']) assert.throws(() => sinceOf(bad, now), /^Error: --since: expected a duration/, bad)
})

test('audit filters: since, principal, action (exact or a prefix ending in "."), one of the subsystems, refused only', () => {
  const record = create(AuditRecordSchema, { principal: 'anonymous', action: 'control.Reprocess', subsystem: 'ECAL,PPS', accepted: false, at: timestampFromDate(new Date(now - 3_600_000)) })
  const table: Array<[Parameters<typeof auditMatches>[1], boolean]> = [
    [{}, true],
    [{ sinceMs: now - 7_200_000 }, true],
    [{ sinceMs: now - 60_000 }, false],
    [{ principal: 'anonymous' }, true],
    [{ principal: 'alice' }, false],
    [{ action: 'control.Reprocess' }, true],
    [{ action: 'control.' }, true],
    [{ action: 'control' }, false],
    [{ action: 'conditions.' }, false],
    [{ subsystem: 'PPS' }, true],
    [{ subsystem: 'ECA' }, false],
    [{ refused: true }, true]
  ]
  for (const [filter, expected] of table) assert.equal(auditMatches(record, filter), expected, JSON.stringify(filter))
  assert.equal(auditMatches(create(AuditRecordSchema, { accepted: true }), { refused: true }), false)
})

test('the token comes from --token, a token file or the environment, never required on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-cli-token-'))
  const file = join(dir, 'token')
  writeFileSync(file, 'file-token-1\n')
  const empty = join(dir, 'empty')
  writeFileSync(empty, '\n')
  assert.equal(tokenOf({}, { AUTOCAL_TOKEN: 'env-token-1' }), 'env-token-1')
  assert.equal(tokenOf({}, { AUTOCAL_TOKEN_FILE: file, AUTOCAL_TOKEN: 'env-token-1' }), 'file-token-1')
  assert.equal(tokenOf({ 'token-file': file }, { AUTOCAL_TOKEN: 'env-token-1' }), 'file-token-1')
  assert.equal(tokenOf({ token: 'flag-token-1' }, { AUTOCAL_TOKEN_FILE: file }), 'flag-token-1')
  assert.equal(tokenOf({}, { AUTOCAL_TOKEN: '' }), undefined)
  assert.throws(() => tokenOf({ token: 'a', 'token-file': file }, {}), /give --token or --token-file, not both/)
  assert.throws(() => tokenOf({ 'token-file': join(dir, 'missing') }, {}), /--token-file .*missing: cannot read it \(ENOENT\)/)
  assert.throws(() => tokenOf({}, { AUTOCAL_TOKEN_FILE: empty }), /AUTOCAL_TOKEN_FILE .*empty: the file is empty/)
})
