// Operator controls of condition uploads end to end, through the `autocal`
// CLI, on real Kafka and Redis: a dispatcher process, the real
// condition-uploader (built in-process from its app.ts, writing a real SQLite
// CondDB), and the stand-in executor of fixtures.ts running the example
// payload script. Sign-off approve and reject, a refused sign-off, promotion
// with the recorded payload hash, the IOV at a run, the audit records, and a
// condition without a new payload.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startConsumer, startProducer } from '@autocal/runtime'
import { Outcome, topics, type AuditRecord, type ConditionEvent } from '@autocal/contracts'
import { realRuns, repo, runEvents, silentLogger, startDispatcher, startBackends, testConfig, until } from './fixtures.ts'

const cliPath = join(repo, 'packages/cli/src/main.ts')
const script = join(repo, 'deploy/workflows/scripts/write_payload.py')
const tokens = {
  'ecal-token-123': { principal: 'alice', subsystems: ['ECAL'] },
  'pps-token-456': { principal: 'bob', subsystems: ['PPS'] }
}

function cli (args: string[], env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, AUTOCAL_TOKEN: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

// A workflow of this test: per run, a pedestal payload whose upload needs a
// sign-off, a task that writes no payload (an optional condition), and a
// timing payload uploaded only once its validation task (failing on run `bad`) is done.
const workflow = (bad: number): string => `subsystem: ECAL
workflow: signoff
runTypes:
  collisions: { filter: { runClass: collisions2022, global: true } }
tasks:
  - name: pedestals
    block: run
    run: [python3, ${script}, --object-type, EcalPedestals, --tag, EcalPedestals_calib, --since, "{run}", --out, "{outdir}/pedestals.db"]
    retries: 0
    condition:
      tag: EcalPedestals_signoff_offline
      record: EcalPedestalsRcd
      sync: offline
      signOff: required
      checks: { minSizeBytes: 1, objectType: EcalPedestals }
  - name: laser
    block: run
    run: [python3, -c, "import json, os, sys; d = sys.argv[1]; os.makedirs(d, exist_ok=True); json.dump(dict(outputs=[]), open(os.path.join(d, 'outputs.json'), 'w'))", "{outdir}"]
    retries: 0
    condition: { tag: EcalLaserAPDPNRatios_nothing_offline, record: EcalLaserAPDPNRatiosRcd, sync: offline, optional: true }
  - name: timing
    block: run
    run: [python3, ${script}, --object-type, EcalTimeCalibConstants, --tag, EcalTimeCalibConstants_calib, --since, "{run}", --out, "{outdir}/timing.db"]
    retries: 0
    condition: { tag: EcalTimeCalibConstants_validated_offline, record: EcalTimeCalibConstantsRcd, sync: offline, validatedBy: hlt-validation }
  - name: hlt-validation
    needs: [timing]
    retries: 0
    run: [python3, -c, "import json, os, sys; d = sys.argv[2]; os.makedirs(d, exist_ok=True); json.dump(dict(outputs=[]), open(os.path.join(d, 'outputs.json'), 'w')); sys.exit(3 if sys.argv[1] == '${bad}' else 0)", "{run}", "{outdir}"]
`

test('sign-off, reject, promote and the IOV at a run work end to end through the CLI with the real condition-uploader', { timeout: 240_000 }, async t => {
  const config = testConfig()
  const runs = realRuns(357400, 357480).filter(r => r.runClass === 'collisions2022').slice(0, 3)
  assert.equal(runs.length, 3)
  const [a, b, c] = runs.map(r => r.run) as [number, number, number]
  const workflows = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(workflows, 'signoff.yaml'), workflow(b))

  await using backends = await startBackends(config)
  const audits: AuditRecord[] = []
  const outcomes: ConditionEvent[] = []
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await using observer = await startConsumer({
    config,
    logger: silentLogger,
    service: 'test-observer',
    producer,
    group: 'test-observer',
    handlers: { audit: async r => { audits.push(r) }, conditions: async e => { outcomes.push(e) } }
  })
  void observer
  const dispatcher = await startDispatcher(config, { AUTOCAL_CONTROL_TOKENS: JSON.stringify(tokens), AUTOCAL_WORKFLOWS_DIR: workflows })
  t.after(async () => { await dispatcher[Symbol.asyncDispose]() })
  const ecal = { AUTOCAL_CONTROL_URL: `127.0.0.1:${dispatcher.grpcPort}`, AUTOCAL_TOKEN: 'ecal-token-123', AUTOCAL_UPLOADER_URL: backends.uploaderUrl }
  const pps = { ...ecal, AUTOCAL_TOKEN: 'pps-token-456' }

  await producer.publishMany(topics.runs, runEvents(runs))

  const stateOf = async (run: number, task: string): Promise<{ state: string, reason: string } | undefined> => {
    const r = await cli(['status', '--campaign', 'prompt', '--task', task, '--runs', String(run), '--json'], ecal)
    if (r.code !== 0) return undefined
    return (JSON.parse(r.stdout) as { cells?: Array<{ state: string, reason?: string }> }).cells?.map(x => ({ state: x.state, reason: x.reason ?? '' }))[0]
  }
  const pending = async (): Promise<Array<{ requestId: string, payloadHash: string, since: string, tag: string }>> => {
    const r = await cli(['conditions', 'pending', '--json'], ecal)
    assert.equal(r.code, 0, r.stderr)
    return (JSON.parse(r.stdout) as { conditions?: Array<{ requestId: string, payloadHash: string, since: string, tag: string }> }).conditions ?? []
  }
  const upload = (run: number): string => `prompt/run-${run}/pedestals/1`

  // the pedestals go to an offline tag: uploads, and so their checks and sign-offs, come in since order
  // (upload-order.ts): run a's payload waits for sign-off, b's and c's wait for a's upload
  const waitsForA = `all 1 job(s) done; upload waits for run-${a}'s upload to EcalPedestals_signoff_offline: an offline tag takes only appends`
  await until('the first payload waits for sign-off, the later ones for its upload', async () =>
    (await pending()).length === 1 && (await stateOf(b, 'pedestals'))?.reason === waitsForA && (await stateOf(c, 'pedestals'))?.reason === waitsForA, 120_000)
  const waiting = await pending()
  assert.deepEqual(waiting.map(p => p.requestId), [upload(a)])
  assert.match(waiting[0]!.payloadHash, /^[0-9a-f]{40}$/)
  assert.equal(waiting[0]!.tag, 'EcalPedestals_signoff_offline')
  assert.equal(backends.conditionRequests.some(r => r.requestId.startsWith(`prompt/run-${b}/pedestals/`) || r.requestId.startsWith(`prompt/run-${c}/pedestals/`)), false)
  const hashA = waiting[0]!.payloadHash

  await t.test('a payload needing sign-off is checked by a dry run and waits, visibly', async () => {
    assert.equal((await stateOf(a, 'pedestals'))?.state, 'TASK_STATE_AWAITING_SIGNOFF')
    const check = backends.conditionRequests.find(r => r.requestId === `${upload(a)}/check`)
    assert.equal(check?.dryRun, true)
    assert.equal(check?.since, BigInt(a))
    assert.deepEqual(check?.checks, { min_size_bytes: '1', object_type: 'EcalPedestals' })
    assert.match(check?.outputDir ?? '', new RegExp(`/jobs/prompt/run-${a}/pedestals/a1/j0/t1$`))
    assert.equal(outcomes.find(e => e.requestId === `${upload(a)}/check`)?.target, 'dry-run')
    assert.equal(backends.conditionRequests.some(r => r.requestId === upload(a)), false, 'nothing uploaded before the sign-off')
    const text = await cli(['status', '--campaign', 'prompt', '--task', 'pedestals'], ecal)
    assert.match(text.stdout, /a awaiting-signoff 1/)
  })

  await t.test('a PPS operator cannot sign off an ECAL payload; the refusal is audited', async () => {
    const r = await cli(['conditions', 'approve', '--request', upload(a), '--reason', 'looks fine to me'], pps)
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim(), `autocal: PERMISSION_DENIED: bob may act for PPS, but request ${upload(a)} is a condition of ECAL`)
    await until('the refusal audit record', () => audits.some(x => x.principal === 'bob' && !x.accepted))
    const refused = audits.find(x => x.principal === 'bob')
    assert.deepEqual({ action: refused?.action, subsystem: refused?.subsystem, target: refused?.target, hash: refused?.details.payload_hash, service: refused?.service },
      { action: 'conditions.approve', subsystem: 'ECAL', target: upload(a), hash: hashA, service: 'autocal/task-dispatcher' })
    assert.match(refused?.reason ?? '', /^refused: bob may act for PPS/)
    assert.equal((await stateOf(a, 'pedestals'))?.state, 'TASK_STATE_AWAITING_SIGNOFF')
  })

  await t.test('approve uploads exactly the checked payload, audited with who, why and the hash', async () => {
    const r = await cli(['conditions', 'approve', '--request', upload(a), '--reason', 'pedestals within 0.1 ADC of the reference'], ecal)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^approved: ${upload(a)} payload ${hashA} \\(command [0-9a-f-]{36}\\)\\n$`))
    await until('the approved upload is done', async () => (await stateOf(a, 'pedestals'))?.state === 'TASK_STATE_DONE', 60_000)
    const sent = backends.conditionRequests.find(x => x.requestId === upload(a))
    assert.deepEqual({ dryRun: sent?.dryRun, expected: sent?.expectedPayloadHash, since: sent?.since }, { dryRun: false, expected: hashA, since: BigInt(a) })
    const event = outcomes.find(e => e.requestId === upload(a))
    assert.equal(event?.outcome, Outcome.UPLOADED)
    assert.equal(event?.payloadHash, hashA)
    // the CondDB holds the approved payload at the run
    const iovs = await (await fetch(`${backends.uploaderUrl}/api/v1/tags/EcalPedestals_signoff_offline/iovs`)).json() as { iovs: Array<{ since: string, payloadHash: string }> }
    assert.deepEqual(iovs.iovs.map(i => [i.since, i.payloadHash]), [[String(a), hashA]])
    const approved = audits.find(x => x.action === 'conditions.approve' && x.accepted)
    assert.deepEqual({ principal: approved?.principal, reason: approved?.reason, hash: approved?.details.payload_hash, tag: approved?.details.tag, target: approved?.target },
      { principal: 'alice', reason: 'pedestals within 0.1 ADC of the reference', hash: hashA, tag: 'EcalPedestals_signoff_offline', target: upload(a) })
    assert.ok(approved?.at !== undefined && approved.commandId !== '')
  })

  await t.test('reject ends the task failed with the reason and uploads nothing', async () => {
    // a's upload is done: b's payload is checked and waits for sign-off, c's waits for b
    await until('the second payload waits for sign-off', async () => (await pending()).map(p => p.requestId).join() === upload(b), 60_000)
    assert.equal((await stateOf(c, 'pedestals'))?.reason, `all 1 job(s) done; upload waits for run-${b}'s upload to EcalPedestals_signoff_offline: an offline tag takes only appends`)
    const r = await cli(['conditions', 'reject', '--request', upload(b), '--reason', 'noisy channels in EB+12'], ecal)
    assert.equal(r.code, 0, r.stderr)
    await until('the rejected task fails', async () => (await stateOf(b, 'pedestals'))?.state === 'TASK_STATE_FAILED', 60_000)
    const s = await stateOf(b, 'pedestals')
    assert.match(s?.reason ?? '', /^sign-off rejected by alice: noisy channels in EB\+12; payload [0-9a-f]{40} not uploaded to EcalPedestals_signoff_offline$/)
    assert.equal(backends.conditionRequests.some(x => x.requestId === upload(b)), false)
    await until('the reject audit record', () => audits.some(x => x.action === 'conditions.reject' && x.accepted))
    // b ended: c's payload is checked now
    await until('the third payload waits for sign-off', async () => (await pending()).map(p => p.requestId).join() === upload(c), 60_000)
  })

  await t.test('a decision on a task that no longer waits is refused and audited', async () => {
    const r = await cli(['conditions', 'approve', '--request', upload(a), '--reason', 'again'], ecal)
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim(), `autocal: INVALID_ARGUMENT: task prompt/run-${a}/pedestals is done, not awaiting sign-off`)
    await until('the audit record of the refusal', () => audits.some(x => x.principal === 'alice' && !x.accepted && x.reason.includes('is done, not awaiting sign-off')))
  })

  await t.test('promote uploads the recorded payload hash to another database, audited', async () => {
    const r = await cli(['conditions', 'promote', '--request', upload(a), '--database', 'oracle://cms_orcon_prod/CMS_CONDITIONS', '--reason', 'validated on prep'], ecal)
    assert.equal(r.code, 0, r.stderr)
    const m = /^promotion requested: (\S+) payload ([0-9a-f]{40}) to oracle:\/\/cms_orcon_prod\/CMS_CONDITIONS \(command ([0-9a-f-]{36})\)\n$/.exec(r.stdout)
    assert.ok(m !== null, r.stdout)
    const [, promotionId, hash, commandId] = m as unknown as [string, string, string, string]
    assert.equal(hash, hashA)
    assert.equal(promotionId, `${upload(a)}/promote/${commandId}`)
    await until('the promotion request', () => backends.conditionRequests.some(x => x.requestId === promotionId), 30_000)
    const sent = backends.conditionRequests.find(x => x.requestId === promotionId)
    assert.deepEqual({ db: sent?.destinationDatabase, expected: sent?.expectedPayloadHash, dryRun: sent?.dryRun, tag: sent?.destinationTag, since: sent?.since },
      { db: 'oracle://cms_orcon_prod/CMS_CONDITIONS', expected: hashA, dryRun: false, tag: 'EcalPedestals_signoff_offline', since: BigInt(a) })
    // the embedded target is one local CondDB, where the approved IOV is already the tag's last since: an offline tag
    // takes only appends, so the uploader refuses the promotion as CMS would, naming the payload it refused
    await until('the promotion outcome', () => outcomes.some(e => e.requestId === promotionId), 30_000)
    const event = outcomes.find(e => e.requestId === promotionId)
    assert.equal(event?.payloadHash, hashA)
    assert.equal(event?.outcome, Outcome.REJECTED, event?.reason)
    assert.equal(event?.reason, `append-only: since ${a} of offline tag 'EcalPedestals_signoff_offline' is not after its last since ${a}: an offline tag only takes appends`)
    const audit = audits.find(x => x.action === 'conditions.promote')
    assert.deepEqual({ accepted: audit?.accepted, hash: audit?.details.payload_hash, db: audit?.details.destination_database, id: audit?.details.promotion_request_id },
      { accepted: true, hash: hashA, db: 'oracle://cms_orcon_prod/CMS_CONDITIONS', id: promotionId })
    // a payload still waiting for sign-off cannot be promoted
    const early = await cli(['conditions', 'promote', '--request', upload(c), '--reason', 'too early'], ecal)
    assert.equal(early.code, 1)
    assert.match(early.stderr, /INVALID_ARGUMENT: request prompt\/run-\d+\/pedestals\/1 has no upload outcome yet/)
  })

  await t.test('conditions at TAG RUN answers the IOV and payload hash valid at a run', async () => {
    const at = await cli(['conditions', 'at', 'EcalPedestals_signoff_offline', String(a + 1000)], ecal)
    assert.equal(at.code, 0, at.stderr)
    assert.equal(at.stdout, `EcalPedestals_signoff_offline at run ${a + 1000}: IOV since ${a}, payload ${hashA}\n`)
    const before = await cli(['conditions', 'at', 'EcalPedestals_signoff_offline', String(a - 1)], ecal)
    assert.equal(before.code, 1)
    assert.equal(before.stderr, `autocal: tag 'EcalPedestals_signoff_offline' has no IOV valid at run ${a - 1} (its first since is after it, or it has none)\n`)
    const unknown = await cli(['conditions', 'at', 'EcalPedestals_never_written', String(a)], ecal)
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /^autocal: no tag 'EcalPedestals_never_written' in \S+conddb\.sqlite\n$/)
  })

  await t.test('an optional condition without a payload file is requested as such', async () => {
    await until('the laser request', () => backends.conditionRequests.some(x => x.requestId === `prompt/run-${a}/laser/1`), 30_000)
    const sent = backends.conditionRequests.find(x => x.requestId === `prompt/run-${a}/laser/1`)
    assert.deepEqual({ file: sent?.payloadFile, optional: sent?.optionalPayload, dryRun: sent?.dryRun }, { file: '', optional: true, dryRun: false })
    assert.match(sent?.outputDir ?? '', new RegExp(`/jobs/prompt/run-${a}/laser/a1/j0/t1$`))
  })

  await t.test('a payload is uploaded once its validation task is done, and not at all when the validation fails', async () => {
    await until('the validated upload of run a', async () => (await stateOf(a, 'hlt-validation'))?.state === 'TASK_STATE_DONE', 60_000)
    const sent = backends.conditionRequests.find(x => x.requestId === `prompt/run-${a}/hlt-validation/1`)
    assert.match(sent?.payloadFile ?? '', new RegExp(`/jobs/prompt/run-${a}/timing/a1/j0/t1/timing\\.db$`))
    assert.equal(sent?.destinationTag, 'EcalTimeCalibConstants_validated_offline')
    assert.equal(outcomes.find(e => e.requestId === sent?.requestId)?.outcome, Outcome.UPLOADED)
    // the calibration itself uploads nothing
    assert.equal((await stateOf(a, 'timing'))?.state, 'TASK_STATE_DONE')
    assert.equal(backends.conditionRequests.some(x => x.requestId.includes('/timing/')), false)
    await until('the failed validation of run b', async () => (await stateOf(b, 'hlt-validation'))?.state === 'TASK_STATE_FAILED', 60_000)
    assert.match((await stateOf(b, 'hlt-validation'))?.reason ?? '', /^job 0 try 1 failed: exit code 3; retries exhausted; nothing uploaded to EcalTimeCalibConstants_validated_offline$/)
    assert.equal(backends.conditionRequests.some(x => x.requestId === `prompt/run-${b}/hlt-validation/1`), false)
  })

  // needs the condition-uploader's side of issue 11 (optional_payload → SKIPPED "no new payload"), written on another branch
  await t.test('an optional condition without a new payload ends done with "no new payload"', async () => {
    await until('the laser outcome', () => outcomes.some(e => e.requestId === `prompt/run-${a}/laser/1`), 30_000)
    assert.equal(outcomes.find(e => e.requestId === `prompt/run-${a}/laser/1`)?.outcome, Outcome.SKIPPED)
    await until('the laser task is done', async () => (await stateOf(a, 'laser'))?.state === 'TASK_STATE_DONE', 30_000)
    assert.match((await stateOf(a, 'laser'))?.reason ?? '', /no new payload/)
  })
})
