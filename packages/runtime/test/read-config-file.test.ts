import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readConfigFile } from '../src/index.ts'

test('a file named by a configuration key is read, or refused naming the key, the path and why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-cfgfile-'))
  writeFileSync(join(dir, 'ca.pem'), 'PEM')
  assert.equal(readConfigFile('AUTOCAL_DBS_CA_FILE', join(dir, 'ca.pem')).toString(), 'PEM')
  const table: Array<[string, RegExp]> = [
    [join(dir, 'missing.pem'), /^AUTOCAL_DBS_CA_FILE=\/.*\/missing\.pem: cannot read the file \(ENOENT\)$/],
    [dir, /^AUTOCAL_DBS_CA_FILE=\/.*: cannot read the file \(EISDIR\)$/]
  ]
  for (const [path, message] of table) {
    assert.throws(() => readConfigFile('AUTOCAL_DBS_CA_FILE', path), (err: Error & { code?: string, retryable?: boolean }) => err.code === 'AUTOCAL_CONFIG_INVALID' && err.retryable === false && message.test(err.message), path)
  }
})
