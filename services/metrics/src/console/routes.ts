// The web console: static pages (Preact + htm, Chart.js, served from
// node_modules, no build step) and the read-only API they use.
//   GET /console/                          the single page (hash routes: overview, run, conditions, health)
//   GET /console/static/:file              its scripts and style
//   GET /console/vendor/:lib               preact+htm (ESM) and Chart.js (UMD) from node_modules
//   GET /console/api/overview?campaign=&subsystem=&task=&state=&before=&limit=   a page of runs × tasks, newest run first
//   GET /console/api/tasks/history?key=    transitions of one task (who, when, why)
//   GET /console/api/jobs/:id/log?task=&try=&tail=&follow=   the job's log (task = its task key), through the executor's log route
//   GET /console/api/files?job=&try=&path=  a plot output of a job (PNG/SVG), see fileAccess
//   GET /console/api/tags, /console/api/tags/:tag      IOV timelines, rejected uploads
//   GET /console/api/health                executors, consumer lag, dead letters (with redriven, mayRedrive), deadline risks
//   GET /console/api/me, POST /console/api/dlq/:partition/:offset/redrive   see redrive.ts
import { readFileSync } from 'node:fs'
import { realpath, readFile } from 'node:fs/promises'
import { dirname, extname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Readable } from 'node:stream'
import { readCookie, type ReadAccess, type buildHttp } from '@autocal/runtime'
import { parseOverviewFilter, summariseCampaigns } from '../domain/overview.ts'
import { deadlineStatus, type DeadlinePolicy } from '../domain/deadlines.ts'
import { executorHealth, overviewRows, tagTimeline, taskColumns } from '../domain/console-views.ts'
import { jobEntryId } from '../domain/job-view.ts'
import type { ReadModelStore } from '../adapters/read-model-store.ts'
import type { ConsoleStore, DeadLetterView } from '../adapters/console-store.ts'
import type { LagReader } from '../adapters/consumer-lag.ts'
import type { RedrivePolicy } from './redrive.ts'

type App = Awaited<ReturnType<typeof buildHttp>>

export interface ConsoleDeps {
  store: ReadModelStore
  console: ConsoleStore
  lag: LagReader
  policy: DeadlinePolicy
  now: () => number
  /** Plot files are served only from below this directory (the executors' shared data directory). */
  filesRoot: string
  /** Read token for the executors' log route (their AUTOCAL_READ_TOKENS); undefined when their logs are public. */
  executorReadToken?: string | undefined
  /** Who may read: checks the sign-in's token. */
  access: ReadAccess
  /** Whether the caller may send a dead letter back (console/redrive.ts): the health page's redrive buttons. */
  redrive: RedrivePolicy
}

const here = dirname(fileURLToPath(import.meta.url))
const staticFiles: Record<string, { type: string, path: string }> = {
  'app.js': { type: 'text/javascript; charset=utf-8', path: join(here, 'static', 'app.js') },
  'style.css': { type: 'text/css; charset=utf-8', path: join(here, 'static', 'style.css') }
}
const vendorFiles: Record<string, { type: string, path: string }> = {
  // preact + hooks + htm in one ES module (the export's import condition: standalone.mjs)
  'preact-htm.js': { type: 'text/javascript; charset=utf-8', path: fileURLToPath(import.meta.resolve('htm/preact/standalone')) },
  // Chart.js' UMD build (sets window.Chart); the package's exports name only its ESM entry, the UMD file is beside it
  'chart.umd.min.js': { type: 'text/javascript; charset=utf-8', path: join(dirname(fileURLToPath(import.meta.resolve('chart.js'))), 'chart.umd.min.js') }
}
const indexHtml = readFileSync(join(here, 'static', 'index.html'), 'utf8')
const security = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff'
}
/** The sign-in page: one password field posted to /console/login (no script: the CSP allows none inline). */
function loginHtml (failed: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autocal console: sign in</title><link rel="stylesheet" href="/console/static/style.css"></head>
<body><main><h1>autocal console</h1>
<form method="post" action="/console/login">
<p>This console needs a read token (one of the metrics service's AUTOCAL_READ_TOKENS), or a control token (AUTOCAL_CONTROL_TOKENS) to also send dead letters back.</p>
${failed ? '<p class="error" role="alert">That token was not accepted.</p>\n' : ''}<label>token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">sign in</button>
</form></main></body></html>
`
}

const plotTypes: Record<string, string> = { '.png': 'image/png', '.svg': 'image/svg+xml' }

function positiveInt (v: string | undefined, fallback: number, max: number): number | undefined {
  if (v === undefined || v === '') return fallback
  if (!/^\d+$/.test(v)) return undefined
  const n = Number(v)
  return n >= 1 && n <= max ? n : undefined
}

const bad = (message: string) => ({ error: 'AUTOCAL_VALIDATION_FAILED', message })
const notFound = (message: string) => ({ error: 'AUTOCAL_NOT_FOUND', message })

export type FileAccess = { ok: true, path: string, type: string } | { ok: false, status: 403 | 404, reason: string }

/**
 * Whether `path` may be served as a plot of a job: it must be one of the
 * outputs the job's status reported with label "plot", end in .png or .svg,
 * and resolve (symlinks followed) to a file below `root`.
 */
export async function fileAccess (outputs: Array<{ path: string, label: string }>, path: string, root: string): Promise<FileAccess> {
  const output = outputs.find(o => o.path === path)
  if (output === undefined) return { ok: false, status: 404, reason: `'${path}' is not an output of this job` }
  if (output.label !== 'plot') return { ok: false, status: 403, reason: `'${path}' is labelled '${output.label}', not 'plot'` }
  const type = plotTypes[extname(path).toLowerCase()]
  if (type === undefined) return { ok: false, status: 403, reason: `'${path}' is not a PNG or SVG file` }
  let real: string, realRoot: string
  try {
    [real, realRoot] = await Promise.all([realpath(path), realpath(root)])
  } catch {
    return { ok: false, status: 404, reason: `'${path}' does not exist (any more)` }
  }
  if (!real.startsWith(realRoot + sep)) return { ok: false, status: 403, reason: `'${path}' is outside the data directory` }
  return { ok: true, path: real, type }
}

export function registerConsole (app: App, deps: ConsoleDeps): void {
  const { store, console: views, policy, now } = deps

  app.get('/console', async (_req, reply) => await reply.redirect('/console/'))
  // Sign-in: the read token given once in a form, kept by the browser in an HttpOnly, SameSite=Strict
  // cookie (Secure behind https) that the read check accepts like a bearer header; fetch, EventSource and
  // images then carry it by themselves. No token is ever put in a URL or in page script.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => { done(null, Object.fromEntries(new URLSearchParams(body as string))) })
  app.get<{ Querystring: { failed?: string } }>('/console/login', async (req, reply) => await reply.headers(security).type('text/html; charset=utf-8').send(loginHtml(req.query.failed !== undefined)))
  app.post<{ Body: { token?: string } | undefined }>('/console/login', async (req, reply) => {
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : ''
    const who = deps.access.public ? { principal: 'anonymous' } : deps.access.tokens.lookup(token === '' ? undefined : token)
    if (who === undefined) {
      req.log.warn({ peer: req.ip, reason: token === '' ? 'missing read token' : 'unknown token' }, 'console sign-in refused')
      return await reply.code(303).header('location', '/console/login?failed=1').send()
    }
    const secure = req.protocol === 'https' ? '; Secure' : ''
    return await reply.code(303).header('set-cookie', `${readCookie}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure}`).header('location', '/console/').send()
  })
  app.get('/console/', async (_req, reply) => await reply.headers(security).type('text/html; charset=utf-8').send(indexHtml))
  app.get<{ Params: { file: string } }>('/console/static/:file', async (req, reply) => {
    const f = staticFiles[req.params.file]
    if (f === undefined) return await reply.code(404).send(notFound(`no file '${req.params.file}'`))
    return await reply.headers(security).type(f.type).send(await readFile(f.path))
  })
  app.get<{ Params: { lib: string } }>('/console/vendor/:lib', async (req, reply) => {
    const f = vendorFiles[req.params.lib]
    if (f === undefined) return await reply.code(404).send(notFound(`no library '${req.params.lib}'`))
    return await reply.header('cache-control', 'public, max-age=86400').type(f.type).send(await readFile(f.path))
  })

  app.get<{ Querystring: Record<string, string | string[] | undefined> }>('/console/api/overview', async (req, reply) => {
    const q = req.query
    const one = (name: string): string | undefined => { const v = q[name]; return Array.isArray(v) ? v[0] : v }
    const filter = parseOverviewFilter(q)
    if (filter.kind === 'invalid') return await reply.code(400).send(bad(filter.reason))
    const limit = positiveInt(one('limit'), 50, 500)
    if (limit === undefined) return await reply.code(400).send(bad(`limit must be a number from 1 to 500, got '${one('limit') ?? ''}'`))
    const beforeText = one('before')
    if (beforeText !== undefined && beforeText !== '' && !/^\d+$/.test(beforeText)) return await reply.code(400).send(bad(`before must be a run number, got '${beforeText}'`))
    let before = beforeText === undefined || beforeText === '' ? undefined : Number(beforeText)
    const summaries = summariseCampaigns(await store.taskCounts())
    const campaign = one('campaign') ?? (summaries.some(s => s.campaign === 'prompt') ? 'prompt' : summaries[0]?.campaign ?? 'prompt')
    const summary = summaries.find(s => s.campaign === campaign)
    const base = { campaign, campaigns: summaries.map(s => s.campaign), summary: summary ?? null, holdHours: policy.holdMs / 3_600_000, now: new Date(now()).toISOString() }
    if (summary === undefined) return { ...base, tasks: [], subsystems: [], rows: [], next: null, totalRuns: 0 }
    // Unfiltered, pages go down the campaign's run index and read only the page's tasks. A filter on
    // task, state or subsystem reads the campaign's slim task views (one hash) and pages the matching runs.
    const f = filter.filter
    const below = before
    const inRange = (r: number): boolean => (below === undefined || r < below) && (f.fromRun === undefined || r >= f.fromRun) && (f.toRun === undefined || r <= f.toRun)
    const rows = []
    let columns: ReturnType<typeof taskColumns> = []
    if (f.tasks.length > 0 || f.states.length > 0 || f.subsystems.length > 0) {
      const tasks = await store.tasksOf(campaign)
      const runs = [...new Set(tasks.flatMap(v => v.runs))].filter(inRange).sort((a, b) => b - a)
      columns = taskColumns(tasks)
      rows.push(...overviewRows(runs, tasks, f, now(), policy).slice(0, limit + 1))
    } else {
      const chunk = Math.max(limit, 100)
      for (;;) {
        const chunkRuns = await views.runsPage(campaign, before, chunk)
        if (chunkRuns.length === 0) break
        before = chunkRuns.at(-1)
        const runs = chunkRuns.filter(inRange)
        const keys = [...new Set((await Promise.all(runs.map(async r => await store.taskKeysOfRun(r)))).flat())].filter(key => key.startsWith(`${campaign}/`))
        const tasks = (await Promise.all(keys.map(async key => await store.getTask(key)))).filter(v => v !== undefined)
        columns = [...columns, ...taskColumns(tasks)]
        rows.push(...overviewRows(runs, tasks, f, now(), policy))
        if (rows.length > limit || chunkRuns.length < chunk || (f.fromRun !== undefined && before !== undefined && before <= f.fromRun)) break
      }
    }
    const page = rows.slice(0, limit)
    const shown = new Set(page.flatMap(r => r.cells.map(c => c.task)))
    const allColumns = taskColumns(columns)
    return {
      ...base,
      subsystems: summary.subsystems,
      tasks: allColumns.filter(c => shown.has(c.task)),
      rows: page.map(r => ({ ...r, cells: r.cells.map(c => ({ ...c, key: `${campaign}/${c.blockId}/${c.task}` })) })),
      next: rows.length > limit ? page.at(-1)?.run ?? null : null,
      totalRuns: await views.runCount(campaign)
    }
  })

  app.get<{ Querystring: { key?: string } }>('/console/api/tasks/history', async (req, reply) => {
    const key = req.query.key ?? ''
    if (key.split('/').length < 3) return await reply.code(400).send(bad(`key must be '<campaign>/<block id>/<task>', got '${key}'`))
    return { key, transitions: await views.history(key) }
  })

  /** A job's status by its task (the task key the page got with the job: never parsed out of the job id), job id and try. */
  async function jobStatusOf (taskKey: string, jobId: string, tryText: string | undefined) {
    const attempt = positiveInt(tryText, 1, 1000)
    if (attempt === undefined) return { error: bad(`try must be a positive integer, got '${tryText ?? ''}'`), status: 400 as const }
    if (taskKey.split('/').length !== 3) return { error: bad(`task must be '<campaign>/<block id>/<task>', got ${JSON.stringify(taskKey)}`), status: 400 as const }
    const status = await store.getJobStatus(taskKey, jobEntryId(jobId, attempt))
    if (status === undefined) return { error: notFound(`job ${jobId} try ${attempt} is not known`), status: 404 as const }
    return { status: 200 as const, job: status }
  }

  app.get<{ Params: { id: string }, Querystring: { task?: string, try?: string, tail?: string, follow?: string } }>('/console/api/jobs/:id/log', async (req, reply) => {
    const found = await jobStatusOf(req.query.task ?? '', req.params.id, req.query.try)
    if (found.status !== 200) return await reply.code(found.status).send(found.error)
    if (!/^https?:\/\//.test(found.job.logUrl)) return await reply.code(404).send(notFound(`job ${req.params.id} has no log URL`))
    const url = new URL(found.job.logUrl)
    if (req.query.tail !== undefined) url.searchParams.set('tail', req.query.tail)
    if (req.query.follow !== undefined) url.searchParams.set('follow', req.query.follow)
    const abort = new AbortController()
    req.raw.on('close', () => { abort.abort() })
    let res: Response
    try {
      // the executor serves logs to read-token holders: the console is one (AUTOCAL_EXECUTOR_READ_TOKEN)
      const headers: Record<string, string> = deps.executorReadToken === undefined ? {} : { authorization: `Bearer ${deps.executorReadToken}` }
      res = await fetch(url, { signal: abort.signal, headers })
    } catch (err) {
      return await reply.code(502).send({ error: 'AUTOCAL_UPSTREAM_FAILED', message: `the executor's log route ${url.origin} did not answer: ${(err as Error).message}` })
    }
    if (!res.ok || res.body === null) return await reply.code(res.status === 404 ? 404 : 502).send({ error: 'AUTOCAL_UPSTREAM_FAILED', message: `the executor answered ${res.status}: ${await res.text()}` })
    return await reply.type('text/plain; charset=utf-8').header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff')
      .send(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]))
  })

  app.get<{ Querystring: { task?: string, job?: string, try?: string, path?: string } }>('/console/api/files', async (req, reply) => {
    const found = await jobStatusOf(req.query.task ?? '', req.query.job ?? '', req.query.try)
    if (found.status !== 200) return await reply.code(found.status).send(found.error)
    const access = await fileAccess(found.job.outputs, req.query.path ?? '', deps.filesRoot)
    if (!access.ok) return await reply.code(access.status).send({ error: access.status === 404 ? 'AUTOCAL_NOT_FOUND' : 'AUTOCAL_FORBIDDEN', message: access.reason })
    // an SVG opened on its own runs no script: sandboxed, no sources
    return await reply.headers({ 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox", 'x-content-type-options': 'nosniff' })
      .type(access.type).send(await readFile(access.path))
  })

  app.get('/console/api/tags', async () => {
    const tags = await views.tags()
    return { tags: await Promise.all(tags.map(async tag => { const t = tagTimeline(tag, await views.uploadsOf(tag)); return { tag, iovs: t.iovs.length, rejected: t.rejected.length, failed: t.failed.length, moved: t.iovs.filter(i => i.moved).length } })) }
  })
  app.get<{ Params: { tag: string } }>('/console/api/tags/:tag', async (req, reply) => {
    const uploads = await views.uploadsOf(req.params.tag)
    if (uploads.length === 0) return await reply.code(404).send(notFound(`no uploads to tag '${req.params.tag}'`))
    return { ...tagTimeline(req.params.tag, uploads), fcsr: (await store.getFcsr()) ?? null }
  })

  /** Dead letters with who sent them back (null: not yet) and whether this caller may (the page's button). */
  async function withRedrives (req: Parameters<RedrivePolicy['mayRedrive']>[0], letters: DeadLetterView[]) {
    const redrives = await views.redrivesOf(letters.flatMap(d => typeof d.id === 'string' ? [d.id] : []))
    return letters.map(d => {
      const redriven = typeof d.id === 'string' ? redrives.get(d.id) ?? null : null
      return { ...d, redriven, mayRedrive: deps.redrive.mayRedrive(req, d, redriven !== null) }
    })
  }

  app.get('/console/api/health', async req => {
    const t = now()
    const [seen, running, lag, deadLetters, counters, risky] = await Promise.all([
      views.executors(), views.running(), deps.lag.read().catch((err: unknown) => ({ error: (err as Error).message })), views.deadLetters(100), store.counters(),
      views.deadlineKeysUpTo(t + policy.warnMs)
    ])
    const risks = []
    for (const key of risky) {
      const v = await store.getTask(key)
      if (v === undefined) continue
      const s = deadlineStatus(v, t, policy)
      if (s.kind === 'warn' || s.kind === 'missed') risks.push({ key, subsystem: v.subsystem, campaign: v.campaign, task: v.task, runs: v.runs, state: v.state, tag: v.conditionTag, deadline: new Date(s.deadline).toISOString(), remainingMs: s.deadline - t, kind: s.kind })
    }
    return {
      now: new Date(t).toISOString(),
      executors: executorHealth(seen, running, t),
      lag,
      deadLetters: await withRedrives(req, deadLetters),
      deadLetterCounts: counters.filter(c => c.name === 'dlq').map(c => ({ topic: c.label, count: c.count })),
      deadlineRisks: risks.sort((a, b) => a.remainingMs - b.remainingMs)
    }
  })
}
