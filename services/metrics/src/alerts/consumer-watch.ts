// Watches the consumer groups' lag (the same readings as autocal_consumer_lag)
// for stalls: a backlog and no committed progress. Exports the stall as
// autocal_consumer_stalled_seconds{group,topic} (the input of the Prometheus
// rules AutocalNoExecutorConsuming and AutocalConsumerStalled) and, once a
// stall reaches `stallMs`, sends one consumer-stalled notification per
// episode; a lag that grew over `lagWindowMs` to at least `lagMin` sends one
// lag-growing notification per backlog (rule AutocalConsumerLagGrowing).
// Checked every `everyMs` and at every scrape.
import { Gauge } from 'prom-client'
import type { Logger, Metrics } from '@autocal/runtime'
import { lagGrowth, observeConsumer, trimLagSamples, type LagSample, type StallState } from '../domain/consumer-stall.ts'
import { consumerStalledNotification, lagGrowingNotification } from '../domain/notifications.ts'
import type { LagReader } from '../adapters/consumer-lag.ts'
import type { Notifier } from '../notifier.ts'

export interface ConsumerWatch extends AsyncDisposable {
  /** Reads the lag now, updates the stalls and notifies those that reached the threshold; resolves with them. */
  check: () => Promise<Array<{ group: string, topic: string, stalledMs: number }>>
}

export interface ConsumerWatchOptions {
  lag: LagReader
  notifier: Notifier
  metrics: Metrics
  logger: Logger
  /** A stall this long (ms) notifies. */
  stallMs: number
  /** A lag that grew over this window (ms) and is at least `lagMin` notifies lag-growing. */
  lagWindowMs: number
  lagMin: number
  everyMs: number
  now?: () => number
}

export function startConsumerWatch (options: ConsumerWatchOptions): ConsumerWatch {
  const { lag, notifier, stallMs } = options
  const log = options.logger.child({ component: 'consumer-watch' })
  const now = options.now ?? Date.now
  const states = new Map<string, StallState>()
  const stalled = new Map<string, { group: string, topic: string, stalledMs: number }>()
  const history = new Map<string, { samples: LagSample[], backlogSince: number | undefined }>()

  async function checkOnce (): Promise<Array<{ group: string, topic: string, stalledMs: number }>> {
    const t = now()
    const rows = await lag.read()
    const present = new Set<string>()
    const reached: Array<{ group: string, topic: string, stalledMs: number }> = []
    for (const r of rows) {
      const key = `${r.group}\u0000${r.topic}`
      present.add(key)
      const o = observeConsumer(states.get(key), r, t)
      states.set(key, o.state)
      stalled.set(key, { group: r.group, topic: r.topic, stalledMs: o.stalledMs })
      const h = history.get(key) ?? { samples: [], backlogSince: undefined }
      h.samples = trimLagSamples([...h.samples, { at: t, lag: r.lag }], t, options.lagWindowMs)
      h.backlogSince = r.lag > 0 ? (h.backlogSince ?? t) : undefined
      history.set(key, h)
      const growth = lagGrowth(h.samples, options.lagWindowMs, options.lagMin)
      if (growth.growing) {
        await notifier.notify(lagGrowingNotification({ group: r.group, topic: r.topic, from: growth.from, to: growth.to, backlogSince: h.backlogSince ?? t }, t))
      }
      if (o.stalledMs < stallMs) continue
      reached.push({ group: r.group, topic: r.topic, stalledMs: o.stalledMs })
      await notifier.notify(consumerStalledNotification({ group: r.group, topic: r.topic, lag: r.lag, since: o.state.since, stalledMs: o.stalledMs }, t))
    }
    for (const key of [...states.keys()]) {
      if (!present.has(key)) {
        states.delete(key)
        stalled.delete(key)
        history.delete(key)
      }
    }
    return reached
  }

  let running: ReturnType<typeof checkOnce> | undefined
  const check = async (): ReturnType<typeof checkOnce> => {
    running ??= checkOnce().finally(() => { running = undefined })
    return await running
  }

  void new Gauge({
    name: 'autocal_consumer_stalled_seconds',
    help: 'Seconds a consumer group has had a backlog on a topic without committing (0: no backlog or progressing)',
    labelNames: ['group', 'topic'],
    registers: [options.metrics.registry],
    async collect () {
      await check().catch((err: unknown) => log.warn({ err }, 'consumer stall check failed'))
      this.reset()
      for (const s of stalled.values()) this.set({ group: s.group, topic: s.topic }, Math.floor(s.stalledMs / 1000))
    }
  })

  const timer = setInterval(() => {
    check().catch((err: unknown) => log.warn({ err }, 'consumer stall check failed'))
  }, options.everyMs)
  timer.unref()
  return {
    check,
    [Symbol.asyncDispose]: async () => {
      clearInterval(timer)
      await running?.catch(() => {})
    }
  }
}
