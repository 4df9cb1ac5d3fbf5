// Sends notifications: drops stale facts, claims the identity once in Redis
// (de-duplication across restarts and replicas), counts the minute's sends
// (rate limit), then posts to Mattermost. Never throws: a notification that
// cannot be sent is logged and counted, and its identity released.
import type { Logger } from '@autocal/runtime'
import { isFresh, mattermostPayload, minuteOf, sendDecision, type Notification } from './domain/notifications.ts'
import type { ReadModelStore } from './adapters/read-model-store.ts'
import type { Mattermost } from './adapters/mattermost.ts'
import type { Instruments } from './instruments.ts'

export interface NotifierOptions {
  store: ReadModelStore
  mattermost: Mattermost | undefined
  instruments: Instruments
  logger: Logger
  perMinute: number
  dedupSeconds: number
  maxAgeMs: number
  username?: string
  channel?: string
  now?: () => number
}

export interface Notifier {
  notify: (n: Notification) => Promise<void>
  /** Facts from before this moment (ms) do not notify: set when the read model is replayed, since its de-duplication keys are gone. */
  suppressBefore: (ms: number) => void
}

export function createNotifier (options: NotifierOptions): Notifier {
  const { store, mattermost, instruments, perMinute, dedupSeconds, maxAgeMs } = options
  const log = options.logger.child({ component: 'notifier' })
  const now = options.now ?? Date.now
  const count = (n: Notification, outcome: string): void => instruments.notifications.inc({ kind: n.kind, outcome })
  const target: { username?: string, channel?: string } = {}
  if (options.username !== undefined) target.username = options.username
  if (options.channel !== undefined) target.channel = options.channel

  let notBefore = 0
  return {
    suppressBefore: ms => { notBefore = ms },
    notify: async n => {
      try {
        const t = now()
        if (!isFresh(n, t, maxAgeMs)) {
          count(n, 'too-old')
          return
        }
        if (n.at < notBefore) {
          count(n, 'replayed')
          return
        }
        const identity = `notified/${n.identity}`
        const firstTime = await store.claimOnce(identity, dedupSeconds)
        const sentThisMinute = firstTime ? await store.countInMinute('notifications', minuteOf(t)) : 0
        const decision = sendDecision({ firstTime, sentThisMinute, perMinute })
        if (decision.kind === 'skip') {
          count(n, decision.reason)
          if (decision.reason === 'rate-limited') log.warn({ notification: n.identity, perMinute }, 'notification dropped by the rate limit')
          return
        }
        if (mattermost === undefined) {
          count(n, 'logged')
          log.info({ notification: n.identity, text: n.text }, 'notification (no webhook configured)')
          return
        }
        try {
          await mattermost.post(mattermostPayload(n, target))
          count(n, 'sent')
          log.info({ notification: n.identity }, 'notification sent')
        } catch (err) {
          count(n, 'failed')
          await store.release(identity)
          log.warn({ err, notification: n.identity }, 'notification not sent')
        }
      } catch (err) {
        count(n, 'failed')
        log.warn({ err, notification: n.identity }, 'notification not handled')
      }
    }
  }
}
