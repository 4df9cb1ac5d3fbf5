// The HTTP server every service has: /healthz (the process lives and no part
// of it failed for good), /readyz
// (its dependencies answer and it is not shutting down) and /metrics
// (Prometheus). Services register their own routes on the returned app.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'
import { lifecycle } from './shutdown.ts'
import { errorMessage } from './errors.ts'

/** A readiness check: resolves when the dependency is usable, throws with the reason otherwise. */
export interface Check {
  name: string
  check: () => Promise<void>
}

export interface ReadinessReport {
  ready: boolean
  checks: Record<string, { ok: boolean, error?: string, details?: unknown }>
}

export interface HttpOptions {
  logger: Logger
  metrics: Metrics
  /** Checks for /readyz; the array may grow after the server starts (a consumer joins later). */
  checks: Check[]
  /** Extra details per check name, e.g. a source's last success (shown in /readyz). */
  details?: () => Record<string, unknown>
  checkTimeoutMs?: number
}

export async function runChecks (checks: Check[], timeoutMs = 2000): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(async c => {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([c.check(), new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs)
      })])
      return [c.name, { ok: true }] as const
    } catch (err) {
      return [c.name, { ok: false, error: errorMessage(err) }] as const
    } finally {
      clearTimeout(timer)
    }
  }))
  const report: ReadinessReport = { ready: true, checks: {} }
  for (const [name, r] of results) {
    report.checks[name] = r
    if (!r.ok) report.ready = false
  }
  return report
}

export async function buildHttp (options: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true })
  // liveness: 503 once a part of the process failed for good (failProcess)
  app.get('/healthz', async (_req, reply) => {
    if (lifecycle.failed !== undefined) return await reply.code(503).send({ status: 'failed', reason: lifecycle.failed })
    return { status: 'ok' }
  })
  app.get('/readyz', async (_req, reply) => {
    const report = await runChecks(options.checks, options.checkTimeoutMs)
    const details = options.details?.() ?? {}
    for (const [name, d] of Object.entries(details)) {
      report.checks[name] = { ...(report.checks[name] ?? { ok: true }), details: d }
    }
    if (lifecycle.stopping) {
      report.ready = false
      report.checks.shutdown = { ok: false, error: 'shutting down' }
    }
    return await reply.code(report.ready ? 200 : 503).send(report)
  })
  app.get('/metrics', async (_req, reply) => {
    const body = await options.metrics.registry.metrics()
    return await reply.type(options.metrics.registry.contentType).send(body)
  })
  return app
}
