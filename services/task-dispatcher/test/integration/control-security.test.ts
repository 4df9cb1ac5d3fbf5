// The control API's security against a dispatcher process on real Kafka +
// Redis: TLS (a certificate made with openssl at test start) and the CLI's
// --ca; every command RPC audited on autocal.audit.v1 whether accepted or
// refused, reads refused for want of a token or scope audited too (principal
// "anonymous" without a token), listed by `autocal audit`; read tokens read
// and cannot act; control tokens read only their subsystems.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repo, spawnDispatcher, stopDispatcher, testConfig, until } from './fixtures.ts'

const cliPath = join(repo, 'packages/cli/src/main.ts')

function cli (args: string[], env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, AUTOCAL_TOKEN: '', AUTOCAL_TOKEN_FILE: '', AUTOCAL_CA_FILE: '', AUTOCAL_READ_TOKEN: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

interface AuditJson { principal: string, peer: string, action: string, subsystem?: string, target?: string, accepted?: boolean, reason?: string, commandId?: string }

test('the control API over TLS: every command and every refused read is audited; read tokens read, control tokens read their subsystems', { timeout: 180_000 }, async t => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-control-tls-'))
  const cert = join(dir, 'control.crt')
  const key = join(dir, 'control.key')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  const tokenFile = (name: string, token: string): string => { const f = join(dir, name); writeFileSync(f, token + '\n', { mode: 0o600 }); return f }
  const config = testConfig()
  const dispatcher = await spawnDispatcher(config, {
    AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'ecal-token-123': { principal: 'alice', subsystems: ['ECAL'] } }),
    AUTOCAL_READ_TOKENS: 'viewer:viewer-token-789',
    AUTOCAL_CONTROL_TLS_CERT_FILE: cert,
    AUTOCAL_CONTROL_TLS_KEY_FILE: key
  })
  t.after(async () => { await stopDispatcher(dispatcher) })
  const kafka = { AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX }
  const tls = { ...kafka, AUTOCAL_CONTROL_URL: `127.0.0.1:${dispatcher.grpcPort}`, AUTOCAL_CA_FILE: cert }
  const alice = { ...tls, AUTOCAL_TOKEN_FILE: tokenFile('alice', 'ecal-token-123') }
  const viewer = { ...tls, AUTOCAL_TOKEN_FILE: tokenFile('viewer', 'viewer-token-789') }

  await t.test('the CLI reaches the TLS server with --ca; without the CA, or in plaintext, it fails naming the cause', async () => {
    const ok = await cli(['workflows', 'list', '--ca', cert, '--token-file', join(dir, 'viewer')], { ...kafka, AUTOCAL_CONTROL_URL: `127.0.0.1:${dispatcher.grpcPort}` })
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /^ECAL\//m)
    const untrusted = await cli(['workflows', 'list'], { ...viewer, AUTOCAL_CA_FILE: '', AUTOCAL_CONTROL_URL: `grpcs://127.0.0.1:${dispatcher.grpcPort}` })
    assert.equal(untrusted.code, 1)
    assert.match(untrusted.stderr, /^autocal: UNAVAILABLE: .*\(TLS: the control API's certificate is not trusted: give its CA with --ca FILE or AUTOCAL_CA_FILE\)\n$/)
    const plaintext = await cli(['workflows', 'list'], { ...viewer, AUTOCAL_CA_FILE: '' })
    assert.equal(plaintext.code, 1)
    assert.match(plaintext.stderr, /^autocal: UNAVAILABLE: .*a TLS server needs grpcs:\/\/ or --ca\)\n$/)
    const missingCa = await cli(['workflows', 'list', '--ca', join(dir, 'nope.crt')], viewer)
    assert.equal(missingCa.code, 2)
    assert.match(missingCa.stderr, /^autocal: --ca .*nope\.crt: cannot read it \(ENOENT\)/)
  })

  await t.test('a read token reads every subsystem and cannot act; a control token reads only its own', async () => {
    const status = await cli(['status', '--campaign', 'prompt', '--json'], viewer)
    assert.equal(status.code, 0, status.stderr)
    assert.ok((JSON.parse(status.stdout) as { tasks: string[] }).tasks.length > 0)
    const act = await cli(['skip', '--campaign', 'prompt', '--subsystem', 'ECAL', '--reason', 'viewer tries'], viewer)
    assert.equal(act.code, 1)
    assert.equal(act.stderr.trim(), 'autocal: PERMISSION_DENIED: viewer holds a read token: it may read, not act')
    const foreign = await cli(['status', '--campaign', 'prompt', '--subsystem', 'PPS'], alice)
    assert.equal(foreign.code, 1)
    assert.equal(foreign.stderr.trim(), 'autocal: PERMISSION_DENIED: alice may read ECAL, not PPS')
    const anonymous = await cli(['status', '--campaign', 'prompt'], tls)
    assert.equal(anonymous.code, 1)
    assert.match(anonymous.stderr, /^autocal: UNAUTHENTICATED: no bearer token/)
  })

  await t.test('commands accepted and refused, and refused reads, each leave one audit record that `autocal audit` lists', async () => {
    const accepted = await cli(['reprocess', '--campaign', 'prompt', '--subsystem', 'ECAL', '--reason', 'pedestal drift'], alice)
    assert.equal(accepted.code, 0, accepted.stderr)
    const commandId = /command ([0-9a-f-]{36})/.exec(accepted.stdout)?.[1]
    const unknown = await cli(['cancel', '--campaign', 'prompt', '--reason', 'who am I'], { ...tls, AUTOCAL_TOKEN: 'not-a-token-000' })
    assert.equal(unknown.code, 1)
    const forbidden = await cli(['skip', '--campaign', 'prompt', '--subsystem', 'PPS', '--reason', 'not mine'], alice)
    assert.equal(forbidden.code, 1)
    const noToken = await cli(['runs', 'inject', '--campaign', 'prompt', '--runs', '357401', '--reason', 'try'], tls)
    assert.equal(noToken.code, 1)

    let records: AuditJson[] = []
    await until('the audit records', async () => {
      const r = await cli(['audit', '--json', '--action', 'control.'], kafka)
      records = r.stdout.trim() === '' ? [] : r.stdout.trim().split('\n').map(l => JSON.parse(l) as AuditJson)
      return records.length >= 7
    }, 30_000)
    // one record per RPC refused or commanded above, in order, with the peer and the reason (accepted reads
    // and the connections that failed before TLS was up leave none)
    const wanted: Array<[string, string, boolean, string]> = [
      ['control.Skip', 'viewer', false, 'refused: viewer holds a read token: it may read, not act (operator\'s reason: viewer tries)'],
      ['control.GetStatus', 'alice', false, 'refused: alice may read ECAL, not PPS'],
      ['control.GetStatus', 'anonymous', false, 'refused: no bearer token: reading needs a read or control token (--token-file, AUTOCAL_TOKEN / AUTOCAL_TOKEN_FILE)'],
      ['control.Reprocess', 'alice', true, 'pedestal drift'],
      ['control.Cancel', 'anonymous', false, 'refused: unknown bearer token (operator\'s reason: who am I)'],
      ['control.Skip', 'alice', false, 'refused: alice may act for ECAL, but skip on campaign prompt touches PPS (operator\'s reason: not mine)'],
      ['control.InjectRuns', 'anonymous', false, 'refused: no bearer token: pass --token-file or set AUTOCAL_TOKEN / AUTOCAL_TOKEN_FILE (operator\'s reason: try)']
    ]
    assert.deepEqual(records.map(a => [a.action, a.principal, a.accepted === true, a.reason ?? '']), wanted)
    for (const a of records) assert.match(a.peer, /^ipv4:127\.0\.0\.1:\d+$/)
    assert.equal(records.find(a => a.accepted === true)?.commandId, commandId)
    assert.equal(records.find(a => a.action === 'control.Reprocess')?.target, 'campaign prompt subsystem ECAL')

    const table = await cli(['audit', '--principal', 'anonymous', '--refused', '--since', '1h'], kafka)
    assert.equal(table.code, 0, table.stderr)
    const lines = table.stdout.trim().split('\n')
    assert.equal(lines[0], 'AT\tPRINCIPAL\tPEER\tACTION\tSUBSYSTEM\tTARGET\tOUTCOME\tREASON')
    assert.equal(lines.at(-1), '3 record(s), 3 refused')
    assert.deepEqual(lines.slice(1, -1).map(l => l.split('\t')[3]), ['control.GetStatus', 'control.Cancel', 'control.InjectRuns'])
  })
})
