// HTTP injection: operators add or correct run facts by hand.
//   POST /api/v1/runs   Authorization: Bearer <token>
//   body: one run or a list, as OMS attributes (run_number, fill_number,
//   start_time, end_time, recorded_lumi, ...; luminosity in /pb unless
//   "units" says otherwise), or {"runs": [...]}
// Fields left out of a correction keep their known values. "units" maps a
// luminosity field to its unit, e.g. {"recorded_lumi": "fb^{-1}"}.
// Tokens are scoped like the control API's (domain/inject-tokens.ts): run
// facts are every subsystem's, so only a token for "*" may inject them.
// Injecting runs into a reprocessing campaign is a control command
// (`autocal runs inject --campaign`), refused here. Every request — accepted,
// or refused with 400, 401 or 403 — is logged with its peer and written as an
// AuditRecord to autocal.audit.v1.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { AuditRecordSchema } from '@autocal/contracts'
import { auditPeer, bearerOfHeader, type AuditWriter, type TokenIndex, type TokenPrincipal } from '@autocal/runtime'
import { omsAttributesOf, runFromOms } from './domain/oms-records.ts'
import { mayInjectRunFacts } from './domain/inject-tokens.ts'
import type { RunRecord } from './domain/run-record.ts'
import type { Emitter } from './emitter.ts'
import type { KnownRuns } from './adapters/known-runs.ts'

export interface InjectRoutesOptions {
  emitter: Emitter
  known: KnownRuns
  /** Injection tokens (digests, principals, scopes); none = injection refused. */
  tokens: TokenIndex<TokenPrincipal>
  /** Writes the audit records (anonymous refusals throttled per peer: runtime audit-throttle.ts). */
  auditor: AuditWriter
  /** e.g. "autocal/run-watcher". */
  service: string
}

/** The peer as the audit record spells it: ipv4:127.0.0.1:50312, ipv6:[::1]:50312. */
export function peerOf (req: FastifyRequest): string {
  return auditPeer(req.socket.remoteAddress, req.socket.remotePort ?? 0)
}

interface Outcome {
  principal: string
  accepted: boolean
  reason: string
  target: string
  details?: Record<string, string>
}

export async function injectRoutes (app: FastifyInstance, options: InjectRoutesOptions): Promise<void> {
  async function audit (req: FastifyRequest, o: Outcome): Promise<void> {
    const record = create(AuditRecordSchema, {
      id: randomUUID(),
      at: timestampFromDate(new Date()),
      principal: o.principal,
      peer: peerOf(req),
      service: options.service,
      action: 'runs.inject',
      subsystem: '',
      target: o.target,
      accepted: o.accepted,
      reason: o.reason,
      commandId: String(req.id),
      details: o.details ?? {}
    })
    try {
      await options.auditor.write(record)
    } catch (err) {
      req.log.error({ err, principal: o.principal, accepted: o.accepted }, 'audit record not written')
    }
  }

  const refusal = (req: FastifyRequest, reply: FastifyReply) => async (status: 400 | 401 | 403, principal: string, reason: string, target = 'runs'): Promise<unknown> => {
    req.log.warn({ status, principal, peer: peerOf(req), reason }, 'run injection refused')
    await audit(req, { principal, accepted: false, reason, target })
    return await reply.code(status).send({ error: reason })
  }
  // who injects, found from the token before the body is even parsed (an unauthenticated caller learns nothing of the API: 401, audited)
  const injectors = new WeakMap<FastifyRequest, TokenPrincipal>()
  const authenticate = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const refuse = refusal(req, reply)
    const token = bearerOfHeader(req.headers.authorization)
    if (token === undefined) { await refuse(401, 'anonymous', 'missing bearer token'); return }
    const who = options.tokens.lookup(token)
    if (who === undefined) { await refuse(401, 'anonymous', 'unknown token'); return }
    const scope = mayInjectRunFacts(who)
    if (!scope.ok) { await refuse(scope.status, who.principal, scope.reason); return }
    injectors.set(req, who)
  }

  app.post('/api/v1/runs', { onRequest: authenticate }, async (req, reply) => {
    const peer = peerOf(req)
    const refuse = refusal(req, reply)
    const who = injectors.get(req)
    if (who === undefined) return await refuse(401, 'anonymous', 'missing bearer token') // not reached: onRequest answered

    const body = req.body as unknown
    const wrapped = typeof body === 'object' && body !== null && !Array.isArray(body) && 'runs' in body
    if (wrapped && 'campaign' in body && (body as { campaign?: unknown }).campaign !== undefined && (body as { campaign?: unknown }).campaign !== '') {
      return await refuse(400, who.principal, 'the run-watcher takes run facts only: inject runs into a campaign through the control API (autocal runs inject --campaign C --runs … --reason …)')
    }
    const items: unknown = wrapped ? (body as { runs: unknown }).runs : Array.isArray(body) ? body : [body]
    if (!Array.isArray(items) || items.length === 0) return await refuse(400, who.principal, 'expected a run, a list of runs, or {"runs": [...]}')
    const records: RunRecord[] = []
    for (const [i, item] of items.entries()) {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) return await refuse(400, who.principal, `runs[${i}]: expected an object`)
      const attrs = item as Record<string, unknown>
      const unitsGiven = attrs.units ?? {}
      if (typeof unitsGiven !== 'object' || unitsGiven === null || Array.isArray(unitsGiven)) return await refuse(400, who.principal, `runs[${i}].units: expected {"<field>": "<unit>"}`)
      const run = attrs.run_number
      const knownRun = typeof run === 'number' && Number.isInteger(run) && run >= 1 && run < 2 ** 32 ? await options.known.get(run) : undefined
      // a correction of a known run needs only the fields that change
      const base = knownRun === undefined ? {} : omsAttributesOf(knownRun)
      const units = Object.fromEntries(Object.entries(unitsGiven as Record<string, unknown>).filter(([k]) => Object.hasOwn(attrs, k)).map(([k, u]) => [k, { units: typeof u === 'string' ? u : String(u) }]))
      const parsed = runFromOms({ ...base, ...attrs }, units)
      if (!parsed.ok) return await refuse(400, who.principal, `runs[${i}].${parsed.error.field}: ${parsed.error.message} (source: inject)`, typeof run === 'number' ? `run ${run}` : 'runs')
      records.push(parsed.run)
    }
    const events = await options.emitter.announce(records.map(record => ({ kind: 'run', record })), { source: 'inject', actor: who.principal })
    const runs = records.map(r => r.run)
    req.log.info({ actor: who.principal, peer, runs, events }, 'runs injected')
    await audit(req, { principal: who.principal, accepted: true, reason: '', target: `runs ${runs.slice(0, 20).join(',')}${runs.length > 20 ? ` and ${runs.length - 20} more` : ''}`, details: { runs: String(runs.length), events: String(events) } })
    return await reply.code(202).send({ runs: records.length, events })
  })
}
