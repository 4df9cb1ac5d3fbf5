// The uploader end to end over the real local Kafka and Redis and real
// SQLite files: requests in on autocal.conditions.requests.v1, IOVs in the
// local CondDB (read back by python3's sqlite3, not our code), outcomes out
// on autocal.conditions.v1.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import { ConditionRequestSchema, FcsrPolicy, Outcome, topics } from '@autocal/contracts'
import { openCondDb } from '../../src/adapters/conddb-sqlite.ts'
import { realdataDir, writeHostileFile, writePayloadFile, writeWrongSchemaFile } from '../helpers/conddb-files.ts'
import { readWithPython, until } from '../helpers/fixtures.ts'
import { provenance, startHarness, type Harness } from '../helpers/harness.ts'

let dir: string
let h: Harness

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'uploader-e2e-'))
  h = await startHarness(join(dir, 'data'), { AUTOCAL_DRY_RUN_TAGS: 'Dry_tag', AUTOCAL_FCSR_POLICY_TAGS: 'Strict_prompt=reject' }, 2)
})
after(async () => {
  await h[Symbol.asyncDispose]()
  rmSync(dir, { recursive: true, force: true })
})

const conddb = (): string => join(dir, 'data', 'conddb.sqlite')
let n = 0
function file (spec: Parameters<typeof writePayloadFile>[1] = {}): { path: string, hashes: string[] } {
  const path = join(dir, `payload-${++n}.db`)
  return { path, hashes: writePayloadFile(path, spec) }
}

test('a valid payload becomes an IOV that python reads back, with its outcome published and served over HTTP', async () => {
  const f = file({ iovs: [{ since: 1n, data: 'ecal timing constants for 355100' }] })
  const req = await h.send({
    requestId: 'prompt/run-355100/timing-calib/1',
    payloadFile: f.path,
    destinationTag: 'EcalTimeCalibConstants_prompt',
    record: 'EcalTimeCalibConstantsRcd',
    synchronization: 'prompt',
    since: 355100n,
    userText: 'timing for run 355100',
    logUrl: 'http://logs/timing-calib/1'
  })
  const [event] = await h.outcomeOf(req.requestId)
  assert.ok(event !== undefined)
  assert.equal(event.outcome, Outcome.UPLOADED, event.reason)
  assert.equal(event.tag, 'EcalTimeCalibConstants_prompt')
  assert.equal(event.since, 355100n)
  assert.equal(event.payloadHash, f.hashes[0])
  assert.equal(event.objectType, 'EcalTimeCalibConstants')
  assert.equal(event.target, `sqlite:${conddb()}`)
  assert.equal(event.synchronization, 'prompt')
  assert.equal(event.timeType, 'Run')
  assert.equal(event.record, 'EcalTimeCalibConstantsRcd')
  assert.equal(event.logUrl, 'http://logs/timing-calib/1')
  assert.deepEqual(event.provenance?.inputRuns, provenance.inputRuns)
  assert.equal(event.provenance?.workflowVersion, provenance.workflowVersion)
  assert.equal(h.events.find(e => e.event.requestId === req.requestId)?.meta.eventId, 'conditions/prompt/run-355100/timing-calib/1/UPLOADED')

  const py = readWithPython(conddb())
  const tag = py.tags.find(t => t.NAME === 'EcalTimeCalibConstants_prompt')
  assert.equal(tag?.SYNCHRONIZATION, 'prompt')
  assert.equal(tag?.OBJECT_TYPE, 'EcalTimeCalibConstants')
  assert.deepEqual(py.iovs.filter(i => i.TAG_NAME === 'EcalTimeCalibConstants_prompt').map(i => [i.SINCE, i.PAYLOAD_HASH]), [['355100', f.hashes[0]]])
  const payload = py.payloads.find(p => p.HASH === f.hashes[0])
  assert.equal(payload?.SHA1, f.hashes[0], 'python recomputes the same SHA-1(object type + data)')
  assert.ok(py.tagLog.some(l => l.TAG_NAME === 'EcalTimeCalibConstants_prompt' && l.ACTION === '1 iov(s) inserted.' && l.USER_TEXT === 'timing for run 355100'))

  const tags = await h.get('/api/v1/tags')
  assert.ok(tags.body.tags.some((t: any) => t.name === 'EcalTimeCalibConstants_prompt' && t.lastSince === '355100' && t.endOfValidity === '18446744073709551615'))
  const iovs = await h.get('/api/v1/tags/EcalTimeCalibConstants_prompt/iovs')
  assert.deepEqual(iovs.body.iovs.map((i: any) => [i.since, i.payloadHash]), [['355100', f.hashes[0]]])
  const meta = await h.get(`/api/v1/payloads/${f.hashes[0]}`)
  assert.equal(meta.body.objectType, 'EcalTimeCalibConstants')
  assert.equal(meta.body.sizeBytes, 'ecal timing constants for 355100'.length)
  const uploads = await h.get(`/api/v1/uploads?request=${encodeURIComponent(req.requestId)}`)
  assert.equal(uploads.body.uploads[0].outcome, 'UPLOADED')
  assert.ok(uploads.body.uploads[0].steps.some((s: any) => s.step === 'sqlite'))
  assert.equal((await h.get('/api/v1/tags/Nope/iovs')).status, 404)
  assert.equal((await h.get('/api/v1/payloads/zz')).status, 400)
})

test('each rejection reason comes from a real bad file', async () => {
  // the destination tag of the wrong-object-type case exists with EcalPedestals
  const ped = await h.send({ requestId: 'r/ped/1', payloadFile: file({ objectType: 'EcalPedestals' }).path, destinationTag: 'EcalPedestals_pcl', synchronization: 'pcl', since: 355100n })
  assert.equal((await h.outcomeOf(ped.requestId))[0]?.outcome, Outcome.UPLOADED)
  await h.sendFcsr(355400)

  const text = join(dir, 'text.db')
  writeFileSync(text, 'not sqlite at all\n'.repeat(100))
  const wrong = join(dir, 'wrong-schema.db')
  writeWrongSchemaFile(wrong)
  const bomb = join(dir, 'bomb.db')
  writeHostileFile(bomb, 'bomb', 400_000_000)
  const cases = [
    { id: 'r/bad/bomb', path: bomb, tag: 'T_bomb', check: 'hostile-file', reason: /bomb\.db is refused unread: table TAG has generated or hidden column\(s\) NOTE/ },
    { id: 'r/bad/empty-iov', path: file({ iovs: [] }).path, tag: 'T_empty', check: 'empty-iov', reason: /has no IOV/ },
    { id: 'r/bad/schema', path: wrong, tag: 'T_schema', check: 'schema', reason: /table TAG is missing; .*table PAYLOAD is missing/ },
    { id: 'r/bad/unreadable', path: text, tag: 'T_text', check: 'unreadable', reason: /not readable as SQLite/ },
    { id: 'r/bad/object-type', path: file({ objectType: 'EcalTimeCalibConstants' }).path, tag: 'EcalPedestals_pcl', check: 'object-type', reason: /destination tag 'EcalPedestals_pcl' holds 'EcalPedestals'/ },
    { id: 'r/bad/hash', path: file({ iovs: [{ since: 1n, data: 'x', hash: 'f'.repeat(40) }] }).path, tag: 'T_hash', check: 'payload-hash', reason: /does not match SHA-1\(object type \+ data\)/ },
    { id: 'r/bad/fcsr', path: file().path, tag: 'Strict_prompt', sync: 'prompt', check: 'fcsr', reason: /since 355100 of prompt tag 'Strict_prompt' is before the first condition-safe run 355400 \(FCSR policy reject\)/ },
    { id: 'r/bad/fcsr-request', path: file().path, tag: 'Other_prompt', sync: 'prompt', policy: FcsrPolicy.REJECT, check: 'fcsr', reason: /before the first condition-safe run 355400/ }
  ]
  for (const c of cases) {
    await h.send({ requestId: c.id, payloadFile: c.path, destinationTag: c.tag, synchronization: c.sync ?? 'any', since: 355100n, ...(c.policy === undefined ? {} : { fcsrPolicy: c.policy }) })
  }
  for (const c of cases) {
    const [event] = await h.outcomeOf(c.id)
    assert.equal(event?.outcome, Outcome.REJECTED, `${c.id}: ${event?.reason}`)
    assert.ok(event.reason.startsWith(`${c.check}: `), `${c.id}: ${event.reason}`)
    assert.match(event.reason, c.reason, c.id)
  }
  const py = readWithPython(conddb())
  for (const c of cases.filter(x => x.tag !== 'EcalPedestals_pcl')) assert.ok(!py.tags.some(t => t.NAME === c.tag), `${c.tag} not created`)
  assert.equal(py.iovs.filter(i => i.TAG_NAME === 'EcalPedestals_pcl').length, 1)
})

test('a since before the FCSR on a prompt tag under policy move is moved forward and the decision recorded', async () => {
  await h.sendFcsr(355400)
  const req = await h.send({ requestId: 'r/move/1', payloadFile: file({ iovs: [{ since: 1n, data: 'moved' }] }).path, destinationTag: 'Moved_prompt', synchronization: 'prompt', since: 355100n })
  const [event] = await h.outcomeOf(req.requestId)
  assert.equal(event?.outcome, Outcome.UPLOADED, event?.reason)
  assert.equal(event.since, 355400n)
  assert.equal(event.requestedSince, 355100n)
  assert.match(event.reason, /since 355100 moved forward to the first condition-safe run 355400/)
  assert.deepEqual(readWithPython(conddb()).iovs.filter(i => i.TAG_NAME === 'Moved_prompt').map(i => i.SINCE), ['355400'])
  const uploads = await h.get('/api/v1/uploads?tag=Moved_prompt')
  assert.equal(uploads.body.uploads[0].requestedSince, '355100')
  assert.ok(uploads.body.uploads[0].decisions.some((d: string) => /moved forward/.test(d)))
})

test('the same request delivered three times gives one IOV and one outcome event id', async () => {
  const f = file({ iovs: [{ since: 1n, data: 'triple' }] })
  const init = { requestId: 'r/triple/1', payloadFile: f.path, destinationTag: 'Triple_tag', synchronization: 'offline', since: 360000n }
  await h.send(init)
  await h.send(init)
  await h.send(init)
  const events = await h.outcomeOf('r/triple/1', 3)
  assert.deepEqual(events.map(e => e.outcome), [Outcome.UPLOADED, Outcome.UPLOADED, Outcome.UPLOADED])
  const ids = new Set(h.events.filter(e => e.event.requestId === 'r/triple/1').map(e => e.meta.eventId))
  assert.deepEqual([...ids], ['conditions/r/triple/1/UPLOADED'])
  assert.equal(readWithPython(conddb()).iovs.filter(i => i.TAG_NAME === 'Triple_tag').length, 1)
  // another request with the same (tag, since, payload): an offline tag only takes appends (CMS refuses it)
  await h.send({ ...init, requestId: 'r/triple/2' })
  const [other] = await h.outcomeOf('r/triple/2')
  assert.equal(other?.outcome, Outcome.REJECTED)
  assert.match(other.reason, /^append-only: since 360000 of offline tag 'Triple_tag' is not after its last since 360000/)
  // on an any tag (insertions allowed) the same IOV again appends nothing either
  const anyInit = { ...init, requestId: 'r/triple/3', destinationTag: 'Triple_any', synchronization: 'any' }
  await h.send(anyInit)
  assert.equal((await h.outcomeOf('r/triple/3'))[0]?.outcome, Outcome.UPLOADED)
  await h.send({ ...anyInit, requestId: 'r/triple/4' })
  const [again] = await h.outcomeOf('r/triple/4')
  assert.equal(again?.outcome, Outcome.SKIPPED)
  assert.match(again.reason, /already present/)
  const py = readWithPython(conddb())
  assert.equal(py.iovs.filter(i => i.TAG_NAME === 'Triple_tag').length, 1)
  assert.equal(py.iovs.filter(i => i.TAG_NAME === 'Triple_any').length, 1)
})

test('a request that wrote its IOV before a crash (outcome not recorded) is UPLOADED on redelivery, not refused by append-only or write-once', async () => {
  for (const sync of ['offline', 'mc']) {
    const f = file({ iovs: [{ since: 1n, data: `crash ${sync}` }] })
    const requestId = `r/crash/${sync}`
    // what the crashed attempt left behind: the IOV in the CondDB, nothing in the history
    const db = openCondDb(conddb())
    const hash = f.hashes[0]!
    const done = db.upload({
      tag: { name: `Crash_${sync}`, timeType: 'Run', objectType: 'EcalTimeCalibConstants', synchronization: sync, description: '', exists: false },
      iovs: [{ since: 361000n, payloadHash: hash }],
      payloads: [{ hash, objectType: 'EcalTimeCalibConstants', data: Buffer.from(`crash ${sync}`), streamerInfo: Buffer.from('{}'), version: '3.2', insertionTime: '2022-07-10 10:00:00.000000' }],
      requestId,
      userText: ''
    })
    db.close()
    assert.equal(done.kind, 'done')
    await h.send({ requestId, payloadFile: f.path, destinationTag: `Crash_${sync}`, synchronization: sync, since: 361000n })
    const [event] = await h.outcomeOf(requestId)
    assert.equal(event?.outcome, Outcome.UPLOADED, `${sync}: ${event?.reason}`)
    assert.equal(readWithPython(conddb()).iovs.filter(i => i.TAG_NAME === `Crash_${sync}`).length, 1)
  }
})

test('concurrent requests for one tag, handled by two replicas, land in run order', async () => {
  const runs = realCollisionRuns(10, 357000) // after the FCSR of the tests above
  assert.equal(runs.length, 10)
  const files = runs.map(run => file({ iovs: [{ since: 1n, data: `constants for ${run}` }] }))
  // all published at once, in run order (the dispatcher's order), keyed by the tag
  await h.producer.publishMany(topics.conditionRequests, runs.map((run, i) => ({
    message: create(ConditionRequestSchema, {
      requestId: `r/order/${run}`,
      payloadFile: files[i]!.path,
      destinationTag: 'Ordered_pcl',
      synchronization: 'pcl',
      since: BigInt(run),
      provenance: { ...provenance, blockId: `run-${run}`, inputRuns: [run] }
    }),
    options: { eventId: `conditions.requests/r/order/${run}` }
  })))
  for (const run of runs) {
    const [event] = await h.outcomeOf(`r/order/${run}`)
    assert.equal(event?.outcome, Outcome.UPLOADED, event?.reason)
  }
  const iovs = readWithPython(conddb()).iovs.filter(i => i.TAG_NAME === 'Ordered_pcl') // ordered by insertion time
  assert.deepEqual(iovs.map(i => Number(i.SINCE)), runs)
  assert.equal(new Set(iovs.map(i => i.INSERTION_TIME)).size, runs.length)
})

test('a dry run validates and writes nothing, by request flag or by tag configuration', async () => {
  const a = await h.send({ requestId: 'r/dry/1', payloadFile: file().path, destinationTag: 'Wet_tag', synchronization: 'any', since: 5n, dryRun: true })
  const b = await h.send({ requestId: 'r/dry/2', payloadFile: file().path, destinationTag: 'Dry_tag', synchronization: 'any', since: 5n })
  const c = await h.send({ requestId: 'r/dry/3', payloadFile: file({ iovs: [] }).path, destinationTag: 'Dry_tag', synchronization: 'any', since: 5n })
  const [ea] = await h.outcomeOf(a.requestId)
  const [eb] = await h.outcomeOf(b.requestId)
  const [ec] = await h.outcomeOf(c.requestId)
  assert.equal(ea?.outcome, Outcome.SKIPPED)
  assert.equal(ea.target, 'dry-run')
  assert.match(ea.reason, /request asks for a dry run/)
  assert.equal(eb?.outcome, Outcome.SKIPPED)
  assert.match(eb.reason, /AUTOCAL_DRY_RUN_TAGS/)
  assert.equal(ec?.outcome, Outcome.REJECTED, 'a dry run still validates fully')
  const py = readWithPython(conddb())
  assert.ok(!py.tags.some(t => t.NAME === 'Wet_tag' || t.NAME === 'Dry_tag'))
})

test('an optional condition with no file, or a file with the tag and no IOV, is SKIPPED "no new payload"; a required one is REJECTED', async () => {
  const empty = file({ iovs: [] })
  await h.send({ requestId: 'r/opt/none', payloadFile: join(dir, 'never-written.db'), destinationTag: 'Opt_pcl', synchronization: 'pcl', optionalPayload: true })
  await h.send({ requestId: 'r/opt/empty', payloadFile: empty.path, destinationTag: 'Opt_pcl', synchronization: 'pcl', optionalPayload: true })
  await h.send({ requestId: 'r/opt/required', payloadFile: join(dir, 'never-written.db'), destinationTag: 'Opt_pcl', synchronization: 'pcl' })
  // what the dispatcher sends when the job listed no payload: no file at all, optional_payload set
  await h.send({ requestId: 'r/opt/no-file', payloadFile: '', outputDir: dir, destinationTag: 'Opt_pcl', synchronization: 'pcl', optionalPayload: true })
  const [none] = await h.outcomeOf('r/opt/none')
  assert.equal(none?.outcome, Outcome.SKIPPED)
  assert.equal(none.reason, `no new payload: the job wrote no file ${join(dir, 'never-written.db')}`)
  const [noFile] = await h.outcomeOf('r/opt/no-file')
  assert.deepEqual({ outcome: noFile?.outcome, reason: noFile?.reason }, { outcome: Outcome.SKIPPED, reason: 'no new payload: the job wrote no payload file' })
  const [noIov] = await h.outcomeOf('r/opt/empty')
  assert.equal(noIov?.outcome, Outcome.SKIPPED)
  assert.match(noIov.reason, /^no new payload: payload file .*, tag 'EcalTimeCalibConstants_test' has no IOV/)
  const [required] = await h.outcomeOf('r/opt/required')
  assert.equal(required?.outcome, Outcome.REJECTED)
  assert.match(required.reason, /^unreadable: payload file .*never-written\.db does not exist/)
  assert.ok(!readWithPython(conddb()).tags.some(t => t.NAME === 'Opt_pcl'))
})

test('an expected payload hash refuses any other payload and lets the expected one through', async () => {
  const f = file({ iovs: [{ since: 1n, data: 'validated on prep' }] })
  const other = file({ iovs: [{ since: 1n, data: 'something else' }] })
  await h.send({ requestId: 'r/hash/other', payloadFile: other.path, destinationTag: 'Promoted_any', synchronization: 'any', since: 370000n, expectedPayloadHash: f.hashes[0]! })
  const [refused] = await h.outcomeOf('r/hash/other')
  assert.equal(refused?.outcome, Outcome.REJECTED)
  assert.match(refused.reason, new RegExp(`^expected-hash: .*payload hash ${other.hashes[0]} \\(IOV since 370000\\) is not the expected payload hash ${f.hashes[0]}`))
  await h.send({ requestId: 'r/hash/same', payloadFile: f.path, destinationTag: 'Promoted_any', synchronization: 'any', since: 370000n, expectedPayloadHash: f.hashes[0]! })
  const [uploaded] = await h.outcomeOf('r/hash/same')
  assert.equal(uploaded?.outcome, Outcome.UPLOADED, uploaded?.reason)
  assert.deepEqual(readWithPython(conddb()).iovs.filter(i => i.TAG_NAME === 'Promoted_any').map(i => i.PAYLOAD_HASH), [f.hashes[0]])
})

test('a payload file outside the job output directory or the output root is REJECTED, also through a symlink', async () => {
  const jobA = join(dir, 'jobs', 'a')
  const jobB = join(dir, 'jobs', 'b')
  mkdirSync(jobA, { recursive: true })
  mkdirSync(jobB, { recursive: true })
  writePayloadFile(join(jobB, 'theirs.db'), { iovs: [{ since: 1n, data: 'job b' }] })
  symlinkSync(join(jobB, 'theirs.db'), join(jobA, 'mine.db'))
  const outside = mkdtempSync(join(tmpdir(), 'uploader-outside-'))
  writePayloadFile(join(outside, 'x.db'), { iovs: [{ since: 1n, data: 'outside' }] })
  symlinkSync(join(outside, 'x.db'), join(jobA, 'escape.db'))
  try {
    await h.send({ requestId: 'r/out/other-job', payloadFile: join(jobB, 'theirs.db'), outputDir: jobA, destinationTag: 'Confined_any', synchronization: 'any' })
    await h.send({ requestId: 'r/out/symlink', payloadFile: join(jobA, 'mine.db'), outputDir: jobA, destinationTag: 'Confined_any', synchronization: 'any' })
    await h.send({ requestId: 'r/out/root', payloadFile: join(jobA, 'escape.db'), destinationTag: 'Confined_any', synchronization: 'any' })
    await h.send({ requestId: 'r/out/dotdot', payloadFile: join(jobA, '..', 'b', 'theirs.db'), outputDir: jobA, destinationTag: 'Confined_any', synchronization: 'any' })
    for (const id of ['r/out/other-job', 'r/out/symlink', 'r/out/root', 'r/out/dotdot']) {
      const [event] = await h.outcomeOf(id)
      assert.equal(event?.outcome, Outcome.REJECTED, `${id}: ${event?.reason}`)
      assert.match(event.reason, /^output-dir: payload file .* is outside the job's output directory/, id)
    }
    assert.match((await h.outcomeOf('r/out/symlink'))[0]!.reason, /mine\.db \(resolves to .*jobs\/b\/theirs\.db\) is outside the job's output directory .*jobs\/a/)
    assert.match((await h.outcomeOf('r/out/root'))[0]!.reason, /not under the output root/)
    await h.send({ requestId: 'r/out/own', payloadFile: join(jobB, 'theirs.db'), outputDir: jobB, destinationTag: 'Confined_any', synchronization: 'any' })
    assert.equal((await h.outcomeOf('r/out/own'))[0]?.outcome, Outcome.UPLOADED)
  } finally {
    rmSync(outside, { recursive: true, force: true })
  }
})

test('a request without a destination tag, or a required one without a payload file, goes to the dead-letter topic', async () => {
  await h.send({ requestId: 'r/dlq/1', payloadFile: '/x.db', destinationTag: '' })
  await h.send({ requestId: 'r/dlq/no-file', payloadFile: '', destinationTag: 'Nofile_any', synchronization: 'any' })
  await h.send({ requestId: 'r/dlq/after', payloadFile: file().path, destinationTag: 'After_dlq', synchronization: 'any' })
  const [event] = await h.outcomeOf('r/dlq/after')
  assert.equal(event?.outcome, Outcome.UPLOADED, 'the consumer moved on')
  assert.equal(h.events.filter(e => e.event.requestId === 'r/dlq/1' || e.event.requestId === 'r/dlq/no-file').length, 0)
  // an empty destination tag breaks the name grammar at the consumer's entry; a missing payload file is the handler's refusal
  await until('dead letters', () => h.deadLetters.some(d => /destination_tag: tag "" is not a valid name/.test(d.reason)) &&
    h.deadLetters.some(d => /lacks request_id, destination_tag or payload_file/.test(d.reason)))
  assert.ok(h.deadLetters.every(d => d.code === 'AUTOCAL_VALIDATION_FAILED'))
})

// last in the file: it moves the FCSR past every since the tests above use
test('a request redelivered after a crash between its CondDB write and its outcome record writes no second IOV when the FCSR moved meanwhile, and reports the IOV it wrote', async () => {
  const since = 362300n
  const files = new Map<string, string>()
  for (const sync of ['prompt', 'pcl']) {
    const tagName = `Redelivered_${sync}`
    const requestId = `r/redelivered/${sync}`
    const f = file({ iovs: [{ since: 1n, data: `redelivered ${sync}` }] })
    const hash = f.hashes[0]!
    files.set(sync, f.path)
    // what the crashed attempt left: its IOV committed in the CondDB (by the same write path), no outcome in the history
    const db = openCondDb(conddb())
    const done = db.upload({
      tag: { name: tagName, timeType: 'Run', objectType: 'EcalTimeCalibConstants', synchronization: sync, description: '', exists: false },
      iovs: [{ since, payloadHash: hash }],
      payloads: [{ hash, objectType: 'EcalTimeCalibConstants', data: Buffer.from(`redelivered ${sync}`), streamerInfo: Buffer.from('{}'), version: '3.2', insertionTime: '2022-07-10 10:00:00.000000' }],
      requestId,
      userText: ''
    })
    db.close()
    assert.equal(done.kind, 'done')
  }
  // the FCSR moves past the since before the request comes again (a prompt since would be moved to it, a pcl one refused)
  await h.sendFcsr(Number(since) + 100)
  for (const sync of ['prompt', 'pcl']) {
    const tagName = `Redelivered_${sync}`
    const requestId = `r/redelivered/${sync}`
    await h.send({ requestId, payloadFile: files.get(sync)!, destinationTag: tagName, synchronization: sync, since })
    const [event] = await h.outcomeOf(requestId)
    assert.deepEqual(readWithPython(conddb()).iovs.filter(i => i.TAG_NAME === tagName).map(i => i.SINCE), [String(since)], `${sync}: one IOV`)
    assert.equal(event?.outcome, Outcome.UPLOADED, `${sync}: ${event?.reason}`)
    assert.equal(event.since, since, `${sync}: the outcome names the IOV the first delivery wrote`)
    assert.match(event.reason, /already written by this request/, sync)
  }
})

/** Real 2022 collision runs (the CMS OMS export in /work/shared/realdata), ascending, from `from` on. */
function realCollisionRuns (count: number, from: number): number[] {
  const rows = readFileSync(`${realdataDir}/runs2022_oms_enriched.csv`, 'utf8').split('\n').slice(1)
  return rows.map(r => r.split(',')).filter(c => c[5] === 'collisions2022' && Number(c[0]) >= from).map(c => Number(c[0])).slice(0, count)
}
