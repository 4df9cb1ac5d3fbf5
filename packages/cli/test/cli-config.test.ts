import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CliConfigError, configPath, parseCliConfig, withConfig } from '../src/cli-config.ts'
import { runCli } from '../src/cli.ts'

const home = '/home/shifter'

test('the config file is $AUTOCAL_CONFIG, else under $XDG_CONFIG_HOME, else ~/.config/autocal/config.json', () => {
  assert.deepEqual(configPath({ AUTOCAL_CONFIG: '/etc/autocal.json' }, home), { path: '/etc/autocal.json', explicit: true })
  assert.deepEqual(configPath({ XDG_CONFIG_HOME: '/xdg' }, home), { path: '/xdg/autocal/config.json', explicit: false })
  assert.deepEqual(configPath({}, home), { path: '/home/shifter/.config/autocal/config.json', explicit: false })
})

const bad: Array<[string, string, RegExp]> = [
  ['not JSON', '{"server": ', /^config file \/c\/config\.json: not JSON/],
  ['an unknown key, named with the known ones', '{"servr": "x:1"}', /^config file \/c\/config\.json: key 'servr': unknown \(known: server, ca, tokenFile, readTokenFile, uploader, executor\)$/],
  ['a key of the wrong type', '{"server": 50051}', /^config file \/c\/config\.json: key 'server': Invalid input: expected string, received number$/],
  ['a URL that is not one', '{"executor": "8083"}', /^config file \/c\/config\.json: key 'executor': /],
  ['an array instead of an object', '[]', /^config file \/c\/config\.json: key '\(top level\)'|^config file \/c\/config\.json: \(top level\)/]
]
for (const [name, text, message] of bad) {
  test(`a bad config file is an error naming the file and the key: ${name}`, () => {
    assert.throws(() => parseCliConfig(text, '/c/config.json', home), (err: Error) => err instanceof CliConfigError && message.test(err.message))
  })
}

test('paths in the config file are taken from its directory, ~/ from the home', () => {
  const c = parseCliConfig('{"ca": "ca.crt", "tokenFile": "~/.autocal-token", "readTokenFile": "/abs/read"}', '/c/config.json', home)
  assert.deepEqual(c, { ca: '/c/ca.crt', tokenFile: '/home/shifter/.autocal-token', readTokenFile: '/abs/read' })
})

test('the environment wins over the config file, and a token in AUTOCAL_TOKEN keeps the file\'s tokenFile out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-config-'))
  const path = join(dir, 'config.json')
  writeFileSync(path, JSON.stringify({ server: 'grpcs://dispatcher:50051', tokenFile: 'token', executor: 'http://127.0.0.1:8083' }))
  const env = withConfig({ AUTOCAL_CONFIG: path, AUTOCAL_CONTROL_URL: '127.0.0.1:1' }, home)
  assert.equal(env.AUTOCAL_CONTROL_URL, '127.0.0.1:1')
  assert.equal(env.AUTOCAL_TOKEN_FILE, join(dir, 'token'))
  assert.equal(env.AUTOCAL_EXECUTOR_URL, 'http://127.0.0.1:8083')
  assert.equal(withConfig({ AUTOCAL_CONFIG: path, AUTOCAL_TOKEN: 't' }, home).AUTOCAL_TOKEN_FILE, undefined)
  // no file at the default place is no config; AUTOCAL_CONFIG naming a missing file is an error
  assert.deepEqual(withConfig({ XDG_CONFIG_HOME: dir }, home), { XDG_CONFIG_HOME: dir })
  assert.throws(() => withConfig({ AUTOCAL_CONFIG: join(dir, 'missing.json') }, home), /^Error: config file .*missing\.json \(AUTOCAL_CONFIG\): cannot read it \(ENOENT\)$/)
})

test('the CLI stops at a bad config file with one line naming the file and the key, exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-config-'))
  const path = join(dir, 'config.json')
  writeFileSync(path, '{"server": "127.0.0.1:50051", "token": "secret"}')
  let err = ''
  const code = await runCli(['status', '--campaign', 'prompt'], { stdout: { write: () => true }, stderr: { write: s => { err += s } }, env: { AUTOCAL_CONFIG: path } })
  assert.equal(code, 2)
  assert.equal(err.split('\n')[0], `autocal: config file ${path}: key 'token': unknown (known: server, ca, tokenFile, readTokenFile, uploader, executor)`)
})
