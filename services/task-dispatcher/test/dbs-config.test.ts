// The DBS keys of the dispatcher's configuration (data-aware tasks, issue 15): a bad value stops the start naming the key.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '@autocal/runtime'
import { Config } from '../src/config.ts'

test('DBS configuration: defaults, and every bad combination stops the start naming the key', () => {
  const base = { AUTOCAL_CONTROL_INSECURE: 'true' } // the control API's own start-up rule, not under test here
  const config = loadConfig(Config, base)
  assert.deepEqual([config.AUTOCAL_DBS_URL, config.AUTOCAL_DBS_TIMEOUT_MS, config.AUTOCAL_DBS_RECHECK_MS], [undefined, 30_000, 60_000])
  const url = 'https://cmsweb.cern.ch/dbs/prod/global/DBSReader'
  assert.equal(loadConfig(Config, { ...base, AUTOCAL_DBS_URL: url, AUTOCAL_DBS_CERT_FILE: '/c', AUTOCAL_DBS_KEY_FILE: '/k', AUTOCAL_DBS_CA_FILE: '/ca' }).AUTOCAL_DBS_URL, url)
  assert.equal(loadConfig(Config, { ...base, AUTOCAL_DBS_URL: 'http://127.0.0.1:8443/dbs', AUTOCAL_DBS_TOKEN_FILE: '/t' }).AUTOCAL_DBS_TOKEN_FILE, '/t', 'loopback may be plain http')
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ AUTOCAL_DBS_URL: 'cmsweb.cern.ch/dbs' }, /(?=[\s\S]*\bAUTOCAL_DBS_URL\b)[\s\S]*expected the http\(s\) URL of a DBSReader instance/],
    [{ AUTOCAL_DBS_URL: 'ftp://cmsweb.cern.ch/dbs' }, /AUTOCAL_DBS_URL/],
    [{ AUTOCAL_DBS_URL: url, AUTOCAL_DBS_CERT_FILE: '/c' }, /(?=[\s\S]*\bAUTOCAL_DBS_KEY_FILE\b)[\s\S]*half a client certificate/],
    [{ AUTOCAL_DBS_URL: url, AUTOCAL_DBS_KEY_FILE: '/k' }, /(?=[\s\S]*\bAUTOCAL_DBS_CERT_FILE\b)[\s\S]*half a client certificate/],
    [{ AUTOCAL_DBS_TOKEN_FILE: '/t' }, /(?=[\s\S]*\bAUTOCAL_DBS_TOKEN_FILE\b)[\s\S]*AUTOCAL_DBS_URL is not/],
    [{ AUTOCAL_DBS_CA_FILE: '/ca' }, /(?=[\s\S]*\bAUTOCAL_DBS_CA_FILE\b)[\s\S]*AUTOCAL_DBS_URL is not/],
    [{ AUTOCAL_DBS_URL: 'http://dbs.example.org/dbs', AUTOCAL_DBS_TOKEN_FILE: '/t' }, /(?=[\s\S]*\bAUTOCAL_DBS_URL\b)[\s\S]*clear text: use an https URL/],
    [{ AUTOCAL_DBS_TIMEOUT_MS: '10' }, /AUTOCAL_DBS_TIMEOUT_MS/],
    [{ AUTOCAL_DBS_RECHECK_MS: 'soon' }, /AUTOCAL_DBS_RECHECK_MS/]
  ]
  for (const [env, message] of bad) assert.throws(() => loadConfig(Config, { ...base, ...env }), (err: Error & { code?: string }) => err.code === 'AUTOCAL_CONFIG_INVALID' && message.test(err.message), JSON.stringify(env))
})
