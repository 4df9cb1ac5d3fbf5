// HTTP injection: operators add or correct runs by hand.
//   POST /api/v1/runs   Authorization: Bearer <token>
//   body: one run or a list, as OMS attributes (run_number, fill_number,
//   start_time, end_time, recorded_lumi, ...; luminosity in /pb unless
//   "units" says otherwise), optionally {"campaign": "...", "runs": [...]}
// Fields left out of a correction keep their known values. "units" maps a
// luminosity field to its unit, e.g. {"recorded_lumi": "fb^{-1}"}.
import type { FastifyInstance } from 'fastify'
import { omsAttributesOf, runFromOms } from './domain/oms-records.ts'
import type { Emitter } from './emitter.ts'
import type { KnownRuns } from './adapters/known-runs.ts'

export interface InjectRoutesOptions {
  emitter: Emitter
  known: KnownRuns
  /** token → principal */
  tokens: Map<string, string>
}

export async function injectRoutes (app: FastifyInstance, options: InjectRoutesOptions): Promise<void> {
  app.post('/api/v1/runs', async (req, reply) => {
    const header = req.headers.authorization ?? ''
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]
    const actor = token === undefined ? undefined : options.tokens.get(token)
    if (actor === undefined) return await reply.code(401).send({ error: token === undefined ? 'missing bearer token' : 'unknown token' })
    const body = req.body as unknown
    const wrapped = typeof body === 'object' && body !== null && !Array.isArray(body) && 'runs' in body
    const items: unknown[] = wrapped ? (body as { runs: unknown[] }).runs : Array.isArray(body) ? body : [body]
    const campaign = wrapped ? String((body as { campaign?: unknown }).campaign ?? '') : ''
    if (!Array.isArray(items) || items.length === 0) return await reply.code(400).send({ error: 'expected a run, a list of runs, or {"runs": [...]}' })
    const records = []
    for (const [i, item] of items.entries()) {
      if (typeof item !== 'object' || item === null) return await reply.code(400).send({ error: `runs[${i}]: expected an object` })
      const attrs = item as Record<string, unknown>
      const known = typeof attrs.run_number === 'number' ? await options.known.get(attrs.run_number) : undefined
      // a correction of a known run needs only the fields that change
      const base = known === undefined ? {} : omsAttributesOf(known)
      const units = Object.fromEntries(Object.entries((attrs.units ?? {}) as Record<string, string>).filter(([k]) => k in attrs).map(([k, u]) => [k, { units: u }]))
      const parsed = runFromOms({ ...base, ...attrs }, units)
      if (!parsed.ok) return await reply.code(400).send({ error: `runs[${i}].${parsed.error.field}: ${parsed.error.message}` })
      records.push(parsed.run)
    }
    const events = await options.emitter.announce(records.map(record => ({ kind: 'run', record })), { source: 'inject', actor, campaign })
    req.log.info({ actor, runs: records.map(r => r.run), campaign, events }, 'runs injected')
    return await reply.code(202).send({ runs: records.length, events })
  })
}
