// The console's DLQ redrive on the real broker and Redis: dead letters made
// by a real consumer (a handler that refuses until its cause is "fixed") are
// sent back by a control token of the message's subsystem and consumed
// again with their event id; read tokens (bearer or the sign-in cookie), no
// token, another subsystem's token, and a topic the console may not write
// are refused; every attempt is on the audit topic.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { RunEventSchema, topicName, topics, type EventMeta } from '@autocal/contracts'
import { AutocalError, readTopic, startConsumer, startProducer, type Handler } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { jobStart, jobStatus, JobPhase } from './events.ts'
import { cleanUp, getJson, quietLogger, testConfig, until } from './fixtures.ts'

const tokens = { read: 'operator-read-token', ecal: 'alice-ecal-token', pps: 'bob-pps-token', admin: 'root-admin-token' }

async function post (url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number, body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

test('a dead letter is redriven from the console by a control token of its subsystem, consumed again; read tokens and foreign scopes are refused and audited', { timeout: 180_000 }, async t => {
  const config = testConfig({
    AUTOCAL_READ_PUBLIC: 'false',
    AUTOCAL_READ_TOKENS: `operator:${tokens.read}`,
    AUTOCAL_CONTROL_TOKENS: JSON.stringify({
      [tokens.ecal]: { principal: 'alice', subsystems: ['ECAL'] },
      [tokens.pps]: { principal: 'bob', subsystems: ['PPS'] },
      [tokens.admin]: { principal: 'root', subsystems: '*' }
    }),
    AUTOCAL_KAFKA_MAX_ATTEMPTS: '2'
  })
  const logger = quietLogger()
  const service = await startMetricsService(config, logger)
  t.after(async () => {
    await service[Symbol.asyncDispose]()
    await cleanUp(config, logger)
  })

  // a "dispatcher" and an "executor" whose handlers refuse until the cause is fixed: their refusals are the dead letters
  let fixed = false
  const handled: Array<{ topic: string, meta: EventMeta }> = []
  const refuseUntilFixed = (what: string): Handler<any> => async (_m, meta) => {
    if (!fixed) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `${what}: not yet`)
    handled.push({ topic: meta.topic, meta })
  }
  await using producer = await startProducer({ config, logger, service: 'task-dispatcher' })
  await using _dispatcher = await startConsumer({ config, logger, service: 'task-dispatcher', group: 'task-dispatcher', producer, handlers: { jobStatus: refuseUntilFixed('job status'), runs: refuseUntilFixed('run') } })
  await using _executor = await startConsumer({ config, logger, service: 'job-executor', group: 'job-executor', producer, handlers: { jobRequests: refuseUntilFixed('job request') } })

  const statusId = await producer.publish(topics.jobStatus, jobStatus('timing-reco', 357500, JobPhase.RUNNING))
  await producer.publish(topics.runs, create(RunEventSchema, { run: 357501, contentHash: 'h1', source: 'replay' }))
  await producer.publish(topics.jobRequests, jobStart('timing-reco', 357502))

  const health = async (token: string) => (await getJson(`${service.url}/console/api/health`, token)).body
  await until('three dead letters in the console', async () => (await health(tokens.read)).deadLetters.length === 3, 60_000)
  const letters = (await health(tokens.read)).deadLetters as Array<{ id: string, topic: string, subsystem: string | null, mayRedrive: boolean, redriven: unknown }>
  const of = (topic: { name: string }) => letters.find(d => d.topic === topicName(topic as any, config.AUTOCAL_KAFKA_TOPIC_PREFIX)) as typeof letters[number]
  const status = of(topics.jobStatus)
  const run = of(topics.runs)
  const request = of(topics.jobRequests)
  assert.equal(status.subsystem, 'ECAL')
  assert.equal(run.subsystem, null, 'a run is nobody\'s in particular')
  assert.ok(letters.every(d => !d.mayRedrive), 'a read token sees no redrive button')
  const mayOf = async (token: string) => Object.fromEntries(((await health(token)).deadLetters as typeof letters).map(d => [d.topic.slice(config.AUTOCAL_KAFKA_TOPIC_PREFIX.length + 1), d.mayRedrive]))
  assert.deepEqual(await mayOf(tokens.ecal), { 'autocal.jobs.status.v1': true, 'autocal.runs.v1': false, 'autocal.jobs.requests.v1': false })
  assert.deepEqual(await mayOf(tokens.admin), { 'autocal.jobs.status.v1': true, 'autocal.runs.v1': true, 'autocal.jobs.requests.v1': false })
  assert.deepEqual((await getJson(`${service.url}/console/api/me`, tokens.ecal)).body, { principal: 'alice', control: true, subsystems: ['ECAL'] })

  const redrive = (id: string) => `${service.url}/console/api/dlq/${id}/redrive`
  fixed = true
  // refused: a read token (bearer, then the cookie of a read sign-in), no token, another subsystem, a system-wide message for a scoped token, a topic only the dispatcher writes
  const refusals: Array<[string, Record<string, string>, string, number, RegExp]> = [
    ['read token', bearer(tokens.read), status.id, 403, /operator holds a read token/],
    ['read sign-in cookie', { cookie: `autocal_read=${tokens.read}` }, status.id, 403, /operator holds a read token/],
    ['no token', {}, status.id, 401, /no control token/],
    ['no token, a line break in the id', {}, '0%0Aaccepted%20by%20root/1', 401, /no control token/],
    ['another subsystem', bearer(tokens.pps), status.id, 403, /bob may act for PPS, but the message is ECAL's/],
    ['no subsystem, scoped token', bearer(tokens.ecal), run.id, 403, /needs a "\*" token/],
    ['a dispatcher-only topic, admin', bearer(tokens.admin), request.id, 403, /jobs\.requests\.v1 needs `autocal dlq redrive`/],
    ['no reason', bearer(tokens.ecal), status.id, 400, /a reason is needed/],
    ['a reason with an escape sequence', bearer(tokens.ecal), status.id, 400, /reason: contains the control character U\+001B at position 6/],
    ['unknown dead letter', bearer(tokens.admin), '0/999', 404, /no dead letter 0\/999/]
  ]
  for (const [what, headers, id, code, message] of refusals) {
    const answer = await post(redrive(id), headers, what === 'no reason' ? {} : { reason: what.includes('escape') ? 'fixed\u001b[2J by root' : 'fixed' })
    assert.equal(answer.status, code, `${what}: ${JSON.stringify(answer.body)}`)
    assert.match(answer.body.message, message, what)
  }
  assert.equal(handled.length, 0, 'nothing was sent back by a refused call')

  // allowed: alice (ECAL) sends the job status back; the dispatcher consumes it with its original event id
  const ok = await post(redrive(status.id), bearer(tokens.ecal), { reason: 'results grammar fixed in the dispatcher' })
  assert.equal(ok.status, 200, JSON.stringify(ok.body))
  assert.equal(ok.body.topic, topicName(topics.jobStatus, config.AUTOCAL_KAFKA_TOPIC_PREFIX))
  await until('the job status consumed again', () => handled.some(h => h.meta.eventId === statusId))
  const again = await post(redrive(status.id), bearer(tokens.admin), { reason: 'once more' })
  assert.equal(again.status, 409)
  assert.match(again.body.message, /already redriven by alice/)
  // the admin may send back the run (no subsystem)
  assert.equal((await post(redrive(run.id), bearer(tokens.admin), { reason: 'era list updated' })).status, 200)
  await until('the run consumed again', () => handled.some(h => h.topic.endsWith('autocal.runs.v1')))
  const after = ((await health(tokens.ecal)).deadLetters as typeof letters).find(d => d.id === status.id)
  assert.equal((after?.redriven as { principal: string } | null)?.principal, 'alice')
  assert.equal(after?.mayRedrive, false)

  // every attempt is audited: principal, target, accepted, reason
  const dlq = topicName(topics.dlq, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
  const audit: Array<[string, string, boolean, string]> = []
  await readTopic(config, logger, 'metrics-test-audit', topics.audit, async a => { if (a.action === 'dlq.redrive') audit.push([a.principal, a.target, a.accepted, a.reason]) })
  assert.deepEqual(audit.map(([p, target, accepted]) => [p, target, accepted]), [
    ['operator', `${dlq}/${status.id}`, false],
    ['operator', `${dlq}/${status.id}`, false],
    ['anonymous', `${dlq}/${status.id}`, false],
    ['anonymous', `${dlq}/${JSON.stringify('0\naccepted by root/1')}`, false],
    ['bob', `${dlq}/${status.id}`, false],
    ['alice', `${dlq}/${run.id}`, false],
    ['root', `${dlq}/${request.id}`, false],
    ['alice', `${dlq}/${status.id}`, false],
    ['alice', `${dlq}/${status.id}`, false],
    ['root', `${dlq}/0/999`, false],
    ['alice', `${dlq}/${status.id}`, true],
    ['root', `${dlq}/${status.id}`, false],
    ['root', `${dlq}/${run.id}`, true]
  ])
  assert.match(audit[8]?.[3] ?? '', /control character U\+001B/, 'the refused reason is audited by what is wrong with it, not as the escape sequence')
  assert.ok(!(audit[8]?.[3] ?? '').includes('\u001b'), 'no escape sequence in the audit record')
  assert.equal(audit[10]?.[3], 'results grammar fixed in the dispatcher')
  assert.match(audit[0]?.[3] ?? '', /operator holds a read token/)
})
