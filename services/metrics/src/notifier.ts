// Sends notifications: drops stale facts, picks the routes (by kind and
// subsystem), and per route claims the identity once in Redis
// (de-duplication across restarts and replicas), counts the minute's sends
// (rate limit), then posts to the route's Mattermost webhook. What the rate
// limit holds back is kept in Redis and posted as one digest per route every
// `digestMs`, not dropped. Never throws: a notification that cannot be sent
// is logged and counted, and its identity released.
import type { Logger } from '@autocal/runtime'
import { digestText, isFresh, minuteOf, sendDecision, type MattermostPayload, type Notification } from './domain/notifications.ts'
import { defaultRouteName, routesFor, type Route } from './domain/routing.ts'
import type { ReadModelStore } from './adapters/read-model-store.ts'
import type { Mattermost } from './adapters/mattermost.ts'
import type { Instruments } from './instruments.ts'

/** A route with its webhook client (undefined: no webhook anywhere, the notification is only logged). */
export interface Destination {
  route: Route
  mattermost: Mattermost | undefined
}

export interface NotifierOptions {
  store: ReadModelStore
  /** The configured routes, in order; a notification no route takes goes to `fallback`. */
  destinations: Destination[]
  fallback: Destination
  instruments: Instruments
  logger: Logger
  perMinute: number
  dedupSeconds: number
  maxAgeMs: number
  /** How often the digests of rate-limited notifications are posted (ms). */
  digestMs: number
  username?: string
  now?: () => number
}

export interface Notifier extends AsyncDisposable {
  notify: (n: Notification) => Promise<void>
  /** Facts from before this moment (ms) do not notify: set when the read model is replayed, since its de-duplication keys are gone. */
  suppressBefore: (ms: number) => void
  /** Posts each route's digest of held-back notifications now; resolves with the number of digests posted. */
  flushDigests: () => Promise<number>
}

export function createNotifier (options: NotifierOptions): Notifier {
  const { store, instruments, perMinute, dedupSeconds, maxAgeMs, destinations, fallback } = options
  const log = options.logger.child({ component: 'notifier' })
  const now = options.now ?? Date.now
  const count = (kind: string, outcome: string): void => instruments.notifications.inc({ kind, outcome })
  // the default route keeps the keys it had before routes existed (de-duplication survives an upgrade)
  const keyOf = (route: Route, name: string): string => route.name === defaultRouteName ? name : `${name}:${route.name}`
  const payloadFor = (route: Route, text: string): MattermostPayload => {
    const payload: MattermostPayload = { text }
    if (options.username !== undefined) payload.username = options.username
    if (route.channel !== undefined) payload.channel = route.channel
    return payload
  }

  async function deliver (d: Destination, n: Notification, t: number): Promise<void> {
    const route = d.route.name
    const identity = `notified/${d.route.name === defaultRouteName ? '' : `${route}/`}${n.identity}`
    const firstTime = await store.claimOnce(identity, dedupSeconds)
    const sentThisMinute = firstTime ? await store.countInMinute(keyOf(d.route, 'notifications'), minuteOf(t)) : 0
    const decision = sendDecision({ firstTime, sentThisMinute, perMinute })
    if (decision.kind === 'skip') {
      if (decision.reason === 'rate-limited') {
        await store.pushDigest(route, n.text)
        count(n.kind, 'digested')
        log.info({ notification: n.identity, route, perMinute }, 'notification held back for the digest by the rate limit')
        return
      }
      count(n.kind, decision.reason)
      return
    }
    if (d.mattermost === undefined) {
      count(n.kind, 'logged')
      log.info({ notification: n.identity, route, text: n.text }, 'notification (no webhook configured)')
      return
    }
    try {
      await d.mattermost.post(payloadFor(d.route, n.text))
      count(n.kind, 'sent')
      log.info({ notification: n.identity, route }, 'notification sent')
    } catch (err) {
      count(n.kind, 'failed')
      await store.release(identity)
      log.warn({ err, notification: n.identity, route }, 'notification not sent')
    }
  }

  async function flushOne (d: Destination): Promise<boolean> {
    const texts = await store.takeDigest(d.route.name)
    const text = digestText(texts)
    if (text === undefined) return false
    if (d.mattermost === undefined) {
      count('digest', 'logged')
      log.info({ route: d.route.name, text }, 'digest (no webhook configured)')
      return true
    }
    try {
      await d.mattermost.post(payloadFor(d.route, text))
      count('digest', 'sent')
      log.info({ route: d.route.name, notifications: texts.length }, 'digest sent')
      return true
    } catch (err) {
      await store.pushDigest(d.route.name, ...texts) // kept for the next flush
      count('digest', 'failed')
      log.warn({ err, route: d.route.name }, 'digest not sent')
      return false
    }
  }

  let flushing: Promise<number> | undefined
  const flushDigests = async (): Promise<number> => {
    flushing ??= (async () => {
      let posted = 0
      for (const d of [...destinations, fallback, ...campaignDestinations.values()]) if (await flushOne(d).catch(() => false)) posted++
      return posted
    })().finally(() => { flushing = undefined })
    return await flushing
  }
  const timer = setInterval(() => { void flushDigests() }, options.digestMs)
  timer.unref()

  // a campaign's own channel that no configured route names: the default webhook, kept for the digests
  const campaignDestinations = new Map<string, Destination>()
  const destinationOf = (route: Route): Destination => {
    const d = destinations.find(x => x.route === route) ?? (route === fallback.route ? fallback : campaignDestinations.get(route.name))
    if (d !== undefined) return d
    const made = { route, mattermost: fallback.mattermost }
    campaignDestinations.set(route.name, made)
    return made
  }

  let notBefore = 0
  return {
    suppressBefore: ms => { notBefore = ms },
    flushDigests,
    notify: async n => {
      try {
        const t = now()
        if (!isFresh(n, t, maxAgeMs)) {
          count(n.kind, 'too-old')
          return
        }
        if (n.at < notBefore) {
          count(n.kind, 'replayed')
          return
        }
        for (const route of routesFor(n, destinations.map(d => d.route), fallback.route)) await deliver(destinationOf(route), n, t)
      } catch (err) {
        count(n.kind, 'failed')
        log.warn({ err, notification: n.identity }, 'notification not handled')
      }
    },
    [Symbol.asyncDispose]: async () => {
      clearInterval(timer)
      await flushing?.catch(() => {})
    }
  }
}
