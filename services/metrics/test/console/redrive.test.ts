import { test } from 'node:test'
import assert from 'node:assert/strict'
import { redriveRefusal } from '../../src/console/redrive.ts'

test('who may send a dead letter back from the console: its subsystem\'s control token, "*" for none, never a topic the console does not write', () => {
  const alice = { principal: 'alice', subsystems: ['ECAL'] }
  const root = { principal: 'root', subsystems: ['*'] }
  const table: Array<[string, typeof alice, boolean, string | undefined, RegExp | undefined]> = [
    ['own subsystem', alice, true, 'ECAL', undefined],
    ['another subsystem', alice, true, 'PPS', /alice may act for ECAL, but the message is PPS's/],
    ['no subsystem, scoped token', alice, true, undefined, /needs a "\*" token/],
    ['no subsystem, "*"', root, true, undefined, undefined],
    ['a topic the console does not write, even "*"', root, false, 'ECAL', /sends back only autocal\.runs\.v1, autocal\.jobs\.status\.v1, autocal\.conditions\.v1; ci\.autocal\.jobs\.requests\.v1 needs `autocal dlq redrive`/]
  ]
  for (const [what, actor, allowed, subsystem, reason] of table) {
    const refusal = redriveRefusal(actor, 'ci.autocal.jobs.requests.v1', allowed, subsystem)
    if (reason === undefined) assert.equal(refusal, undefined, what)
    else assert.match(refusal ?? '', reason, what)
  }
})
