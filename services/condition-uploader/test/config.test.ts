import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '@autocal/runtime'
import { Config, conddbPath, historyPath, outputRoot } from '../src/config.ts'

test('defaults are the embedded setup: port 8084, sqlite target, CondDB and history in the data directory', () => {
  const c = loadConfig(Config, { AUTOCAL_DATA_DIR: '/data' })
  assert.equal(c.AUTOCAL_HTTP_PORT, 8084)
  assert.equal(c.AUTOCAL_UPLOAD_TARGET, 'sqlite')
  assert.equal(conddbPath(c), '/data/conddb.sqlite')
  assert.equal(historyPath(c), '/data/condition-uploads.sqlite')
  assert.equal(c.AUTOCAL_FCSR_POLICY, 'move')
  assert.deepEqual(c.AUTOCAL_DRY_RUN_TAGS, [])
  assert.equal(outputRoot(c), '/data/jobs')
  assert.equal(c.AUTOCAL_PAYLOAD_MAX_BYTES, 256 * 1024 * 1024)
  assert.equal(outputRoot(loadConfig(Config, { AUTOCAL_DATA_DIR: '/data', AUTOCAL_OUTPUT_ROOT: '/eos/jobs' })), '/eos/jobs')
  assert.throws(() => loadConfig(Config, { AUTOCAL_PAYLOAD_MAX_BYTES: '0' }), /AUTOCAL_PAYLOAD_MAX_BYTES/)
})

test('per-tag FCSR policies and dry-run tags are read from comma-separated lists', () => {
  const c = loadConfig(Config, { AUTOCAL_FCSR_POLICY_TAGS: 'A_prompt=reject, B_express=move', AUTOCAL_DRY_RUN_TAGS: 'X, Y' })
  assert.deepEqual(c.AUTOCAL_FCSR_POLICY_TAGS, { A_prompt: 'reject', B_express: 'move' })
  assert.deepEqual(c.AUTOCAL_DRY_RUN_TAGS, ['X', 'Y'])
})

test('a bad policy list and a dropbox target without credentials fail at start naming the keys', () => {
  assert.throws(() => loadConfig(Config, { AUTOCAL_FCSR_POLICY_TAGS: 'A_prompt=later' }), /'A_prompt=later': expected <tag>=move\|reject[\s\S]*AUTOCAL_FCSR_POLICY_TAGS/)
  assert.throws(() => loadConfig(Config, { AUTOCAL_UPLOAD_TARGET: 'dropbox' }), /AUTOCAL_DROPBOX_USERNAME/)
  assert.doesNotThrow(() => loadConfig(Config, { AUTOCAL_UPLOAD_TARGET: 'dropbox', AUTOCAL_DROPBOX_USERNAME: 'u', AUTOCAL_DROPBOX_PASSWORD: 'p' }))
})
