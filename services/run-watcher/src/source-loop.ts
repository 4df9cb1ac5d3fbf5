// Each source runs in its own loop: work, wait, repeat; on an error, retry
// with exponential backoff. A failing source never stops the others; its
// state shows in /readyz details and in the metrics.
import { setTimeout as delay } from 'node:timers/promises'
import { Counter, Gauge, type Registry } from 'prom-client'
import { errorMessage, policies, retryDelay, type Logger } from '@autocal/runtime'

export interface SourceStatus {
  ok: boolean
  lastSuccess?: string
  lastError?: string
  errors: number
  /** Anything the source wants to show, e.g. its watermark. */
  info?: Record<string, unknown>
}

export interface SourceLoop {
  status: () => SourceStatus
  stop: () => Promise<void>
}

export interface SourceMetrics {
  errors: Counter<'source'>
  markSuccess: (source: string) => void
}

export function createSourceMetrics (registry: Registry): SourceMetrics {
  const lastSuccessMs = new Map<string, number>()
  // holds the success time; turned into an age when Prometheus scrapes
  const age = new Gauge({
    name: 'autocal_source_last_success_age_seconds',
    help: 'Seconds since the source last succeeded',
    labelNames: ['source'],
    registers: [registry],
    collect () {
      for (const [source, ms] of lastSuccessMs) this.set({ source }, (Date.now() - ms) / 1000)
    }
  })
  void age
  const at = new Gauge({ name: 'autocal_source_last_success_seconds', help: 'Unix time (s) of the last success of the source', labelNames: ['source'], registers: [registry] })
  return {
    errors: new Counter({ name: 'autocal_source_errors_total', help: 'Failed polls or reads, by source', labelNames: ['source'], registers: [registry] }),
    markSuccess: source => {
      const now = Date.now()
      lastSuccessMs.set(source, now)
      at.set({ source }, now / 1000)
    }
  }
}

export interface LoopOptions {
  name: string
  logger: Logger
  metrics: SourceMetrics
  /** Pause after a successful round; `done` from work ends the loop. */
  intervalMs: number
  backoffBaseMs?: number
  backoffMaxMs?: number
  /** One round of work; resolves `'done'` when the source has nothing more to do (a finished replay). */
  work: (signal: AbortSignal) => Promise<'again' | 'done'>
  info?: () => Record<string, unknown>
}

export function startSourceLoop (options: LoopOptions): SourceLoop {
  const { name, logger, metrics } = options
  const log = logger.child({ component: 'source', source: name })
  const abort = new AbortController()
  const status: SourceStatus = { ok: true, errors: 0 }
  let failures = 0
  metrics.errors.inc({ source: name }, 0) // shown at 0 before the first failure
  // a wait ends at once when the loop stops (the watcher's close)
  const sleep = async (ms: number): Promise<void> => { await delay(ms, undefined, { signal: abort.signal }).catch(() => {}) }
  const running = (async () => {
    while (!abort.signal.aborted) {
      try {
        const result = await options.work(abort.signal)
        failures = 0
        status.ok = true
        status.lastSuccess = new Date().toISOString()
        metrics.markSuccess(name)
        if (result === 'done') { log.info('source finished'); return }
        await sleep(options.intervalMs)
      } catch (err) {
        if (abort.signal.aborted) return
        failures++
        status.ok = false
        status.errors++
        status.lastError = errorMessage(err)
        metrics.errors.inc({ source: name })
        const backoff = { ...policies.sourceBackoff, minDelayMs: options.backoffBaseMs ?? policies.sourceBackoff.minDelayMs, maxDelayMs: options.backoffMaxMs ?? policies.sourceBackoff.maxDelayMs }
        const wait = retryDelay(backoff, failures) ?? backoff.maxDelayMs
        log.warn({ err, failures, retryInMs: wait }, 'source failed; retrying')
        await sleep(wait)
      }
    }
  })()
  return {
    status: () => ({ ...status, ...(options.info === undefined ? {} : { info: options.info() }) }),
    stop: async () => { abort.abort(); await running }
  }
}
