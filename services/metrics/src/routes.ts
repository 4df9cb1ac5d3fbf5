// The status API and the dashboard:
//   GET /                                   the dashboard (plain HTML + fetch + EventSource)
//   GET /api/v1/campaigns                   campaigns with task counts per state
//   GET /api/v1/campaigns/:campaign/overview?task=&state=&subsystem=&fromRun=&toRun=   runs × tasks matrix
//   GET /api/v1/runs/:run                   one run: record, blocks, tasks, jobs, outputs, log links, conditions
//   GET /api/v1/events                      server-sent events of task and condition changes
import { readFileSync } from 'node:fs'
import type { buildHttp } from '@autocal/runtime'
import { buildOverview, parseOverviewFilter, summariseCampaigns } from './domain/overview.ts'
import type { ReadModelStore } from './adapters/read-model-store.ts'
import type { ChangeFeed } from './change-feed.ts'

type App = Awaited<ReturnType<typeof buildHttp>>

const dashboard = readFileSync(new URL('./dashboard.html', import.meta.url), 'utf8')

export interface RouteDeps {
  store: ReadModelStore
  feed: ChangeFeed
  /** Keep-alive comment interval of the event stream. */
  keepAliveMs?: number
}

export function registerRoutes (app: App, deps: RouteDeps): void {
  const { store, feed } = deps

  app.get('/', async (_req, reply) => await reply.type('text/html; charset=utf-8').send(dashboard))

  app.get('/api/v1/campaigns', async () => {
    const [counts, fcsr] = await Promise.all([store.taskCounts(), store.getFcsr()])
    return { campaigns: summariseCampaigns(counts), fcsr: fcsr ?? null }
  })

  app.get<{ Params: { campaign: string }, Querystring: Record<string, string | string[] | undefined> }>(
    '/api/v1/campaigns/:campaign/overview', async (req, reply) => {
      const filter = parseOverviewFilter(req.query)
      if (filter.kind === 'invalid') return await reply.code(400).send({ error: 'AUTOCAL_VALIDATION_FAILED', message: filter.reason })
      const views = await store.tasksOf(req.params.campaign)
      if (views.length === 0) return await reply.code(404).send({ error: 'AUTOCAL_NOT_FOUND', message: `no tasks in campaign '${req.params.campaign}'` })
      return buildOverview(req.params.campaign, views, filter.filter)
    })

  app.get<{ Params: { run: string } }>('/api/v1/runs/:run', async (req, reply) => {
    if (!/^\d+$/.test(req.params.run)) return await reply.code(400).send({ error: 'AUTOCAL_VALIDATION_FAILED', message: `run must be a run number, got '${req.params.run}'` })
    const run = Number(req.params.run)
    const [record, keys] = await Promise.all([store.getRun(run), store.taskKeysOfRun(run)])
    if (record === undefined && keys.length === 0) return await reply.code(404).send({ error: 'AUTOCAL_NOT_FOUND', message: `run ${run} is not known` })
    const tasks = []
    const blocks = new Map<string, { campaign: string, blockId: string, blockKind: string, runs: number[] }>()
    for (const key of keys) {
      const view = await store.getTask(key)
      if (view === undefined) continue
      blocks.set(`${view.campaign}/${view.blockId}`, { campaign: view.campaign, blockId: view.blockId, blockKind: view.blockKind, runs: view.runs })
      const [jobs, conditions] = await Promise.all([store.jobsOf(key), store.conditionsOf(key)])
      const byEntry = new Map<string, { jobId: string, try: number, index: number, request?: unknown, status?: unknown }>()
      for (const r of jobs.requests) byEntry.set(`${r.jobId}#${r.try}`, { jobId: r.jobId, try: r.try, index: r.index, request: r })
      for (const s of jobs.statuses) {
        const e = byEntry.get(`${s.jobId}#${s.try}`) ?? { jobId: s.jobId, try: s.try, index: s.index }
        byEntry.set(`${s.jobId}#${s.try}`, { ...e, status: s })
      }
      const jobList = [...byEntry.values()].sort((a, b) => a.jobId.localeCompare(b.jobId) || a.try - b.try)
      const logLinks = [...new Set([...view.jobs.map(j => j.logUrl), ...jobs.statuses.map(s => s.logUrl), ...conditions.outcomes.map(o => o.logUrl)].filter(u => u !== ''))]
      tasks.push({ ...view, jobRecords: jobList, logLinks, conditions })
    }
    const { hashes: _hashes, ...runRecord } = record ?? { hashes: [] }
    return { run, record: record === undefined ? null : runRecord, blocks: [...blocks.values()], tasks }
  })

  app.get('/api/v1/events', (req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    res.write(': autocal metrics change feed\n\n')
    const unsubscribe = feed.subscribe(change => {
      res.write(`event: ${change.type}\ndata: ${JSON.stringify(change.type === 'task' ? change.task : change.condition)}\n\n`)
    })
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), deps.keepAliveMs ?? 15_000)
    req.raw.on('close', () => {
      clearInterval(keepAlive)
      unsubscribe()
    })
  })
}
