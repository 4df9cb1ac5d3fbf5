// The OMS poller against a local OMS stand-in serving the real run list, the
// Tier-0 poller against a local Tier-0 stand-in, and HTTP injection.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { createMetrics, loadConfig, startConsumer, startProducer } from '@autocal/runtime'
import type { AuditRecord, DeadLetter } from '@autocal/contracts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { Config } from '../../src/config.ts'
import { readRunList } from '../../src/adapters/run-list-file.ts'
import { startOmsStandIn } from '../helpers/oms-stand-in.ts'
import { topics } from '@autocal/contracts'
import { allDelivered, collectRuns, finishedCount, omsRoundsSince, quietLogger, realdata, startWatcher, testEnv, topicRecordCount, until, type Collected } from '../helpers/harness.ts'

const csv = join(realdata, 'Runs2022-hltmode.csv')
const first = 356300
const last = 356500
const adminToken = 'admin-token-0001'
const ecalToken = 'ecal-token-0002'
const injectTokens = JSON.stringify({ [adminToken]: { principal: 'run-coordinator', subsystems: '*' }, [ecalToken]: { principal: 'ecal-shifter', subsystems: ['ECAL'] } })

/** What a consumer acts on: per run, the sequence of (change, content hash). */
function actionable (events: Collected[]): Map<number, string[]> {
  const out = new Map<number, string[]>()
  for (const e of events) {
    const kind = e.event.change.case
    if (kind !== 'started' && kind !== 'ended' && kind !== 'updated') continue
    out.set(e.event.run, [...(out.get(e.event.run) ?? []), `${kind}:${e.event.contentHash}`])
  }
  return out
}

test('the OMS poller over an OMS-format server gives the same events as the replay of the same runs, across pages', async () => {
  const runs = (await readRunList(csv)).runs.filter(r => r.run >= first && r.run <= last)
  assert.ok(runs.length > 60, 'several pages of runs')
  const { logger } = quietLogger()

  const replayEnv = testEnv({ AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_FROM_RUN: String(first), AUTOCAL_REPLAY_TO_RUN: String(last) })
  await using replayed = await collectRuns(replayEnv, logger)
  {
    await using _w = await startWatcher(replayEnv, logger)
    await until('replay ended every run', () => replayed.events.filter(e => e.event.change.case === 'ended').length === runs.length)
  }

  await using oms = await startOmsStandIn(runs)
  const omsEnv = testEnv({
    AUTOCAL_OMS_URL: oms.url,
    AUTOCAL_OMS_POLL_MS: '300',
    AUTOCAL_OMS_PAGE_SIZE: '25',
    AUTOCAL_OMS_FIRST_RUN: String(first),
    AUTOCAL_OMS_TOKEN_URL: oms.tokenUrl,
    AUTOCAL_OMS_CLIENT_ID: 'autocal',
    AUTOCAL_OMS_CLIENT_SECRET: 'client-secret'
  })
  await using polled = await collectRuns(omsEnv, logger)
  await using watcher = await startWatcher(omsEnv, logger)
  await until('OMS poller ended every run', () => polled.events.filter(e => e.event.change.case === 'ended').length === runs.length)
  const polledAll = oms.requests.length
  await allDelivered(polled, 'a whole OMS round after every run ended', () => omsRoundsSince(oms.requests, polledAll) >= 2)
  assert.deepEqual(actionable(polled.events), actionable(replayed.events))
  assert.ok(oms.requests.some(r => r.query.get('page[offset]') === '50'), 'followed pagination')
  assert.ok(oms.requests.every(r => r.authorized), 'every request carried a valid bearer token')
  assert.equal(oms.tokensIssued, 1, 'the token is reused until it expires')
  assert.equal(oms.requests[0]?.query.get('filter[sequence][EQ]'), 'GLOBAL-RUN')

  // a luminosity correction of an already ended run, reported in another unit
  const corrected = runs[runs.length - 10]!
  oms.runs = oms.runs.map(r => r.run === corrected.run ? { ...r, recordedLumiPb: r.recordedLumiPb + 0.5 } : r)
  oms.lumiUnit = '{\\mu}b^{-1}' // as a real OMS record writes µb⁻¹
  oms.revokeTokens() // and the token expires early: the next request is refused with 401
  const changedAt = oms.requests.length
  await allDelivered(polled, 'a whole OMS round after the correction', () => omsRoundsSince(oms.requests, changedAt) >= 2)
  const updates = polled.events.filter(e => e.event.change.case === 'updated')
  assert.equal(updates.length, 1, 'only the corrected run is updated, whatever the unit of the page')
  const update = updates[0]!.event.change
  assert.ok(update.case === 'updated')
  assert.equal(update.value.run?.run, corrected.run)
  assert.deepEqual(update.value.changedFields, ['recorded_lumi_pb'])
  assert.ok(Math.abs((update.value.run?.recordedLumiPb ?? 0) - (corrected.recordedLumiPb + 0.5)) < 1e-9)
  assert.equal(oms.tokensIssued, 2, 'a token refused with 401 is fetched again')
  assert.ok(oms.requests.some(r => !r.authorized), 'one request was refused')
  const metrics = await (await fetch(`http://127.0.0.1:${watcher.port}/metrics`)).text()
  assert.match(metrics, /autocal_source_errors_total\{[^}]*source="oms"[^}]*\} 0/, 'a refreshed token is not a failure')
})

test('a 500, a timeout, a malformed page and a non-JSON answer are survived and counted', async () => {
  const runs = (await readRunList(csv)).runs.filter(r => r.run >= first).slice(0, 40)
  const { logger, lines } = quietLogger()
  await using oms = await startOmsStandIn(runs)
  oms.faults.push('500', 'timeout', 'malformed', 'not-json')
  const env = testEnv({
    AUTOCAL_OMS_URL: oms.url,
    AUTOCAL_OMS_POLL_MS: '200',
    AUTOCAL_OMS_TIMEOUT_MS: '500',
    AUTOCAL_SOURCE_BACKOFF_MS: '100',
    AUTOCAL_OMS_FIRST_RUN: String(first),
    AUTOCAL_OMS_TOKEN_URL: oms.tokenUrl,
    AUTOCAL_OMS_CLIENT_ID: 'autocal',
    AUTOCAL_OMS_CLIENT_SECRET: 'client-secret',
    // a replay runs beside it and is not stopped by the failing OMS
    AUTOCAL_REPLAY_FILE: csv,
    AUTOCAL_REPLAY_FROM_RUN: '355100',
    AUTOCAL_REPLAY_TO_RUN: '355120'
  })
  await using collected = await collectRuns(env, logger)
  await using watcher = await startWatcher(env, logger)
  const replayRuns = (await readRunList(csv)).runs.filter(r => r.run >= 355100 && r.run <= 355120).length
  await until('replay finished while OMS failed', () => collected.events.filter(e => e.event.change.case === 'ended' && e.event.run <= 355120).length === replayRuns, 60_000)
  await until('OMS recovered', () => collected.events.filter(e => e.event.change.case === 'ended' && e.event.run >= first).length === runs.length, 90_000)
  const res = await fetch(`http://127.0.0.1:${watcher.port}/metrics`)
  const text = await res.text()
  assert.match(text, /autocal_source_errors_total\{[^}]*source="oms"[^}]*\} 4/)
  assert.match(text, /autocal_source_last_success_age_seconds\{[^}]*source="oms"/)
  const failures = lines.filter(l => l.msg === 'source failed; retrying').map(l => l.err?.message as string)
  assert.ok(failures.some(m => /answered 500/.test(m)))
  assert.ok(failures.some(m => /no answer in 500 ms/.test(m)))
  assert.ok(failures.some(m => /no data array/.test(m)))
  assert.ok(failures.some(m => /not JSON/.test(m)))
  const ready = await (await fetch(`http://127.0.0.1:${watcher.port}/readyz`)).json() as { checks: Record<string, any> }
  assert.equal(ready.checks['source:oms'].details.errors, 4)
  assert.equal(ready.checks['source:oms'].details.ok, true)
})

test('an OMS record that cannot be read is reported once (metric, log with field and value, dead letter), not on every poll, and never half-published', async () => {
  const runs = (await readRunList(csv)).runs.filter(r => r.run >= first).slice(0, 5)
  const { logger, lines } = quietLogger()
  await using oms = await startOmsStandIn(runs)
  oms.overrides.set(runs[2]!.run, { start_time: 'yesterday' })
  oms.overrides.set(runs[3]!.run, { era: '../../etc/cron.d/x' })
  const env = testEnv({ AUTOCAL_OMS_URL: oms.url, AUTOCAL_OMS_POLL_MS: '100', AUTOCAL_OMS_FIRST_RUN: String(first), AUTOCAL_OMS_TOKEN_URL: oms.tokenUrl, AUTOCAL_OMS_CLIENT_ID: 'a', AUTOCAL_OMS_CLIENT_SECRET: 'client-secret' })
  const letters: DeadLetter[] = []
  const config = loadConfig(Config, env)
  await using producer = await startProducer({ config, logger, service: 'test' })
  await using _dlq = await startConsumer({ config, logger, service: 'test', group: 'dlq-reader', producer, metrics: createMetrics({ service: 'test' }), handlers: { dlq: async letter => { letters.push(letter) } } })
  await using collected = await collectRuns(env, logger)
  await using watcher = await startWatcher(env, logger)
  await until('three runs ended', () => collected.events.filter(e => e.event.change.case === 'ended').length === 3)
  const rounds = (): number => oms.requests.length
  const after = rounds()
  await until('five more polls', () => rounds() >= after + 5)
  await until('two dead letters', () => letters.length >= 2)
  // two more whole rounds: a record reported again would be in the DLQ by now
  const lettersAt = oms.requests.length
  await allDelivered(collected, 'two whole OMS rounds after the dead letters', () => omsRoundsSince(oms.requests, lettersAt) >= 3)
  const deadLetters = await topicRecordCount(env, logger, topics.dlq)
  await until(`the DLQ reader received all ${deadLetters} dead letters`, () => letters.length >= deadLetters)
  for (const bad of [runs[2]!.run, runs[3]!.run]) assert.ok(!collected.events.some(e => e.event.run === bad), `run ${bad} is not announced at all`)

  const refused = lines.filter(l => l.msg === 'source record refused')
  assert.deepEqual(refused.map(l => [l.source, l.run, l.field, l.value]).sort(), [
    ['oms', String(runs[2]!.run), 'start_time', '"yesterday"'],
    ['oms', String(runs[3]!.run), 'era', '"../../etc/cron.d/x"']
  ], 'each logged once, with the field and its value, whatever the number of polls')
  assert.equal(letters.length, 2, 'one dead letter per run and problem')
  const letter = letters.find(l => l.headers.field === 'era')!
  assert.equal(letter.topic, 'source:oms')
  assert.equal(letter.code, 'AUTOCAL_VALIDATION_FAILED')
  assert.equal(letter.headers.run, String(runs[3]!.run))
  assert.match(letter.reason, /era "\.\.\/\.\.\/etc\/cron\.d\/x" is not a valid name/)
  assert.equal((JSON.parse(new TextDecoder().decode(letter.value)) as { attributes: { era: string } }).attributes.era, '../../etc/cron.d/x', 'the record is kept in the dead letter')
  const metrics = await (await fetch(`http://127.0.0.1:${watcher.port}/metrics`)).text()
  assert.match(metrics, /autocal_run_records_refused_total\{(?=[^}]*source="oms")(?=[^}]*field="start_time")[^}]*\} 1\n/)
  assert.match(metrics, /autocal_run_records_refused_total\{(?=[^}]*source="oms")(?=[^}]*field="era")[^}]*\} 1\n/)
})

test('the Tier-0 poller announces stream, dataset and FCSR facts only when they change', async () => {
  const { logger, lines } = quietLogger()
  const done = new Set<string>()
  let fcsr = 355100
  // a Tier-0 round begins with the FCSR: two asked after a change mean a whole round saw it
  let fcsrAsked = 0
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/firstconditionsaferun') fcsrAsked++
    const reply = (result: unknown[]): void => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ result })) }
    // T0WmaDataSvc's FirstConditionSafeRun answers [{"run_id": N}]
    if (url.pathname === '/firstconditionsaferun') return reply([{ run_id: fcsr }])
    if (url.pathname === '/run_stream_done') return reply([done.has(`${url.searchParams.get('run')}:${url.searchParams.get('stream')}`)])
    if (url.pathname === '/run_dataset_done') return reply([done.has(`${url.searchParams.get('run')}:${url.searchParams.get('primary_dataset')}`)])
    res.writeHead(404).end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const t0 = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const env = testEnv({
    AUTOCAL_REPLAY_FILE: csv,
    AUTOCAL_REPLAY_FROM_RUN: '355100',
    AUTOCAL_REPLAY_TO_RUN: '355102',
    AUTOCAL_REPLAY_T0_STREAMS: 'none',
    AUTOCAL_T0_URL: t0,
    AUTOCAL_T0_STREAMS: 'Express',
    AUTOCAL_T0_DATASETS: 'AlCaPhiSym',
    AUTOCAL_T0_POLL_MS: '200'
  })
  try {
    await using collected = await collectRuns(env, logger)
    await using w = await startWatcher(env, logger)
    const facts = (kind: string): Collected[] => collected.events.filter(e => e.event.change.case === kind)
    await until('first facts', () => facts('fcsr').length === 1 && facts('streamDone').filter(e => e.event.change.case === 'streamDone' && e.event.change.value.stream === 'Express').length >= 2)
    await until('the replay finished', () => finishedCount(lines, 'replay') === 1)
    const replayed = fcsrAsked
    await allDelivered(collected, 'a whole Tier-0 round after the replay', () => fcsrAsked >= replayed + 2)
    const before = collected.events.length
    assert.ok(facts('streamDone').filter(e => e.event.change.case === 'streamDone' && e.event.change.value.stream === 'Express').every(e => e.event.change.case === 'streamDone' && !e.event.change.value.done))
    done.add('355101:Express')
    done.add('355101:AlCaPhiSym')
    fcsr = 355102
    const changed = fcsrAsked
    await allDelivered(collected, 'a whole Tier-0 round after the changes', () => fcsrAsked >= changed + 2)
    assert.equal(collected.events.length, before + 3, 'only the three changed facts')
    const last = facts('fcsr').at(-1)!.event.change
    assert.ok(last.case === 'fcsr' && last.value.fcsr === 355102)
    const stream = facts('streamDone').at(-1)!.event
    assert.ok(stream.run === 355101 && stream.change.case === 'streamDone' && stream.change.value.done)
    // an FCSR outside the run range is a failed round (counted, retried), never announced
    fcsr = 2 ** 32
    await until('a failed round', async () => /autocal_source_errors_total\{[^}]*source="t0"[^}]*\} [1-9]/.test(await (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text()))
    assert.equal(facts('fcsr').length, 2, 'no FCSR beyond 2^32 announced')
  } finally {
    server.close()
  }
})

test('injection needs a token for every subsystem, read from a file; every request is logged with its peer and audited; a campaign goes to the control API', async t => {
  const { logger, lines } = quietLogger()
  const dir = mkdtempSync(join(tmpdir(), 'autocal-inject-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const tokenFile = join(dir, 'inject-tokens.json')
  writeFileSync(tokenFile, injectTokens, { mode: 0o600 })
  const env = testEnv({ AUTOCAL_INJECT_TOKENS_FILE: tokenFile, AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_FROM_RUN: '355100', AUTOCAL_REPLAY_TO_RUN: '355100' })
  const config = loadConfig(Config, env)
  const audits: AuditRecord[] = []
  await using producer = await startProducer({ config, logger, service: 'test' })
  await using _audit = await startConsumer({ config, logger, service: 'test', group: 'audit-reader', producer, metrics: createMetrics({ service: 'test' }), handlers: { audit: async record => { audits.push(record) } } })
  await using collected = await collectRuns(env, logger)
  await using watcher = await startWatcher(env, logger)
  await until('replayed', () => collected.events.some(e => e.event.change.case === 'ended'))
  const url = `http://127.0.0.1:${watcher.port}/api/v1/runs`
  const post = async (body: unknown, token?: string): Promise<{ status: number, error?: string }> => {
    const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } })
    return { status: res.status, ...(await res.json() as { error?: string }) }
  }
  const refusals: Array<[unknown, string | undefined, number, RegExp]> = [
    [{ run_number: 355100, recorded_lumi: 1 }, undefined, 401, /missing bearer token/],
    [{ run_number: 355100, recorded_lumi: 1 }, 'wrong-token-9999', 401, /unknown token/],
    // a subsystem's token may not rewrite a run every subsystem acts on
    [{ run_number: 355100, recorded_lumi: 1 }, ecalToken, 403, /ecal-shifter may act for ECAL, but run facts are shared by every subsystem/],
    [{ campaign: 'ecal-rereco', runs: [{ run_number: 999001, fill_number: 1, start_time: '2026-11-01T10:00:00Z' }] }, adminToken, 400, /run facts only: inject runs into a campaign through the control API \(autocal runs inject/],
    [{ run_number: 'x' }, adminToken, 400, /runs\[0\]\.run_number: .*\(source: inject\)/],
    [{ run_number: 2 ** 32, start_time: '2026-11-01T10:00:00Z' }, adminToken, 400, /runs\[0\]\.run_number: run 4294967296 is out of range/],
    [{ run_number: 999002, start_time: '2026-11-01T10:00:00Z', era: '../../../../etc/cron.d/x' }, adminToken, 400, /runs\[0\]\.era: era .* is not a valid name/],
    [{ run_number: 355100, recorded_lumi: 2, units: { recorded_lumi: 'constructor' } }, adminToken, 400, /runs\[0\]\.recorded_lumi: unknown luminosity unit "constructor"/]
  ]
  for (const [body, token, status, error] of refusals) {
    const res = await post(body, token)
    assert.equal(res.status, status, JSON.stringify(body))
    assert.match(res.error ?? '', error)
  }
  // the token is checked before the body is read: a caller without one learns nothing of the API (401, not 415)
  const plain = await fetch(url, { method: 'POST', body: 'run_number=1', headers: { 'content-type': 'text/plain' } })
  assert.equal(plain.status, 401)
  const ok = await post({ run_number: 355100, recorded_lumi: 2, units: { recorded_lumi: 'fb^{-1}' } }, adminToken)
  assert.equal(ok.status, 202)
  await until('update', () => collected.events.some(e => e.event.change.case === 'updated'))
  const update = collected.events.find(e => e.event.change.case === 'updated')!.event
  assert.equal(update.source, 'inject')
  assert.equal(update.actor, 'run-coordinator')
  assert.ok(update.change.case === 'updated')
  assert.deepEqual(update.change.value.changedFields, ['recorded_lumi_pb'])
  assert.equal(update.change.value.run?.recordedLumiPb, 2000)
  assert.equal(update.change.value.run?.fill, 7920, 'fields left out keep their known values')
  assert.ok(!collected.events.some(e => [999001, 999002, 2 ** 32].includes(e.event.run)), 'nothing refused was announced')
  assert.ok(!collected.events.some(e => e.event.campaign !== ''), 'no campaign event from the run-watcher')

  // logged with the peer
  const refused = lines.filter(l => l.msg === 'run injection refused')
  assert.deepEqual(refused.map(l => l.status), [401, 401, 403, 400, 400, 400, 400, 400, 401])
  for (const l of refused) assert.match(l.peer, /^ipv4:127\.0\.0\.1:\d+$|^ipv6:\[::1\]:\d+$/)
  // audited: one record per request, accepted or refused
  await until('ten audit records', () => audits.length === 10)
  assert.deepEqual(audits.map(a => [a.principal, a.accepted, a.action, a.service]), [
    ['anonymous', false, 'runs.inject', 'autocal/run-watcher'],
    ['anonymous', false, 'runs.inject', 'autocal/run-watcher'],
    ['ecal-shifter', false, 'runs.inject', 'autocal/run-watcher'],
    ...Array.from({ length: 5 }, () => ['run-coordinator', false, 'runs.inject', 'autocal/run-watcher']),
    ['anonymous', false, 'runs.inject', 'autocal/run-watcher'],
    ['run-coordinator', true, 'runs.inject', 'autocal/run-watcher']
  ])
  assert.match(audits[2]!.reason, /shared by every subsystem/)
  assert.equal(audits[9]!.target, 'runs 355100')
  assert.deepEqual(audits[9]!.details, { runs: '1', events: '1' })
  for (const a of audits) {
    assert.match(a.peer, /^ipv4:127\.0\.0\.1:\d+$|^ipv6:\[::1\]:\d+$/)
    const text = JSON.stringify(a, (_k, v: unknown) => typeof v === 'bigint' ? String(v) : v)
    assert.ok(!text.includes(adminToken) && !text.includes('wrong-token-9999'), 'no token in an audit record')
  }
  assert.ok(!lines.some(l => JSON.stringify(l).includes(adminToken)), 'no token in the logs')
})

test('a correction that returns to an earlier value within a minute (A → B → A) is delivered as a third event', async () => {
  const { logger, lines } = quietLogger()
  const env = testEnv({ AUTOCAL_INJECT_TOKENS: injectTokens, AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_FROM_RUN: '355100', AUTOCAL_REPLAY_TO_RUN: '355100' })
  await using collected = await collectRuns(env, logger)
  await using watcher = await startWatcher(env, logger)
  await until('replayed', () => collected.events.some(e => e.event.change.case === 'ended'))
  const updates = (): Collected[] => collected.events.filter(e => e.event.change.case === 'updated')
  for (const [i, lumi] of [1.5, 2.5, 1.5].entries()) {
    const res = await fetch(`http://127.0.0.1:${watcher.port}/api/v1/runs`, {
      method: 'POST', body: JSON.stringify({ run_number: 355100, recorded_lumi: lumi }), headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }
    })
    assert.equal(res.status, 202)
    assert.deepEqual(await res.json(), { runs: 1, events: 1 }, `correction ${i + 1} announced`)
    await until(`update ${i + 1} delivered`, () => updates().length === i + 1)
  }
  // each correction was sent before its answer: with the replay done, the topic holds all there is
  await allDelivered(collected, 'the replay finished', () => finishedCount(lines, 'replay') === 1)
  const seen = updates().map(e => e.event.change.case === 'updated' ? e.event.change.value.run?.recordedLumiPb : undefined)
  assert.deepEqual(seen, [1.5, 2.5, 1.5], 'A → B → A, every change delivered')
  const ids = updates().map(e => e.meta.eventId)
  assert.equal(new Set(ids).size, 3, ids.join(' '))
  assert.equal(updates()[0]!.event.contentHash, updates()[2]!.event.contentHash, 'same content, told apart by its sequence number')
})
