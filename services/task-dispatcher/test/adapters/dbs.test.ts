// The DBS read adapter against the labelled DBS stand-in (test/helpers/dbs-stand-in.ts: the real API's paths,
// parameters and JSON fields) over HTTPS with a CA file and a bearer token, as cmsweb is reached.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDbsClient } from '../../src/adapters/dbs.ts'
import { startDbsStandIn } from '../../../../test/helpers/dbs-stand-in.ts'

const ds = '/AlCaPhiSym/Run2022C-v1/RAW'
// real 2022 runs (runs2022_oms_enriched.csv): 355872 lasted 28756 s (1234 lumisections), 355913 lasted 2590 s (111)
const runs = [{ run: 355872, era: 'Run2022C', durationS: 28756 }, { run: 355913, era: 'Run2022C', durationS: 2590 }]

function tlsFiles (): { dir: string, cert: string, key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-dbs-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  return { dir, cert, key }
}

test('the adapter reads blocks, files and lumisections of a dataset\'s runs over HTTPS with a CA file and a token', async () => {
  const tls = tlsFiles()
  const tokenFile = join(tls.dir, 'token')
  writeFileSync(tokenFile, 'dbs-reader-token-1\n')
  await using dbs = await startDbsStandIn({ datasets: [{ dataset: ds, runs, lumisPerFile: 100 }], token: 'dbs-reader-token-1', tls: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } })
  const client = createDbsClient({ url: dbs.url, caFile: tls.cert, tokenFile, timeoutMs: 5000 })

  const open = await client.datasetState(ds, [355872])
  assert.equal(open.accessType, 'VALID')
  assert.deepEqual(open.blocks.map(b => b.open), [true])
  dbs.closeBlocks(ds, 355872)
  assert.deepEqual((await client.datasetState(ds, [355872])).blocks.map(b => b.open), [false])

  const files = await client.datasetFiles(ds, [355872])
  assert.equal(files.length, 13, '1234 lumisections in files of 100')
  assert.deepEqual(files.map(f => f.lfn).sort(), [...dbs.filesOf(ds, 355872)].sort())
  assert.equal(files.reduce((s, f) => s + f.lumis, 0), 1234)
  assert.match(files[0]?.lfn ?? '', /^\/store\/data\/Run2022C\/AlCaPhiSym\/RAW\/v1\/000\/355\/872\/00000\/[0-9A-F-]{36}\.root$/)
  assert.deepEqual(files.find(f => f.firstLumi === 1201), { lfn: files.find(f => f.firstLumi === 1201)?.lfn, lumis: 34, firstRun: 355872, firstLumi: 1201 })
  assert.deepEqual(await client.datasetFiles(ds, [355999]), [], 'a run without files')
  assert.deepEqual(await client.datasetState('/AlCaPhiSym/Run2022D-v1/RAW', [355872]), { blocks: [] }, 'a dataset DBS does not know')
  // the calls are the real API's (the stand-in answers 400 to a parameter the API does not take)
  assert.ok(dbs.requests.some(r => r.startsWith('/dbs/prod/global/DBSReader/filelumis?block_name=')))
})

test('a refused token, a DBS that is down and an unreachable server are errors naming the call', async () => {
  await using dbs = await startDbsStandIn({ datasets: [{ dataset: ds, runs }], token: 'right-token-1' })
  const dir = mkdtempSync(join(tmpdir(), 'autocal-dbs-'))
  writeFileSync(join(dir, 'token'), 'wrong-token-1')
  const wrong = createDbsClient({ url: dbs.url, tokenFile: join(dir, 'token'), timeoutMs: 5000 })
  await assert.rejects(wrong.datasetState(ds, [355872]), /^Error: DBS datasets\?dataset=%2FAlCaPhiSym%2FRun2022C-v1%2FRAW&detail=1 answered HTTP 401/)
  writeFileSync(join(dir, 'token'), 'right-token-1')
  const right = createDbsClient({ url: dbs.url, tokenFile: join(dir, 'token'), timeoutMs: 5000 })
  dbs.setDown(true)
  await assert.rejects(right.datasetFiles(ds, [355872]), /DBS files\?dataset=.*&run_num=355872&detail=1&validFileOnly=1 answered HTTP 503/)
  await assert.rejects(createDbsClient({ url: 'http://127.0.0.1:1/dbs', timeoutMs: 5000 }).datasetState(ds, [1]), /^Error: DBS datasets\?.*: connect ECONNREFUSED 127\.0\.0\.1:1$/)
})

test('unreadable credential files stop the start, naming the key', () => {
  const table: Array<[Parameters<typeof createDbsClient>[0], RegExp]> = [
    [{ url: 'https://127.0.0.1/dbs', caFile: '/nonexistent/ca.pem', timeoutMs: 1 }, /^AUTOCAL_DBS_CA_FILE=\/nonexistent\/ca\.pem: cannot read the file \(ENOENT\)$/],
    [{ url: 'https://127.0.0.1/dbs', certFile: '/nonexistent/c.pem', keyFile: '/nonexistent/k.pem', timeoutMs: 1 }, /^AUTOCAL_DBS_CERT_FILE=/],
    [{ url: 'https://127.0.0.1/dbs', tokenFile: '/dev/null', timeoutMs: 1 }, /^AUTOCAL_DBS_TOKEN_FILE=\/dev\/null: the file is empty$/]
  ]
  for (const [options, message] of table) {
    assert.throws(() => createDbsClient(options), (err: Error & { code?: string }) => err.code === 'AUTOCAL_CONFIG_INVALID' && message.test(err.message))
  }
})
