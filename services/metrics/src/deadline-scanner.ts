// Periodic scan of the prompt-hold deadlines: every task whose deadline falls
// within the warning threshold and that is not done gets one notification.
import type { Logger } from '@autocal/runtime'
import { deadlineStatus, type DeadlinePolicy } from './domain/deadlines.ts'
import { deadlineNotification } from './domain/notifications.ts'
import type { ReadModelStore } from './adapters/read-model-store.ts'
import type { Instruments } from './instruments.ts'
import type { Notifier } from './notifier.ts'

export interface DeadlineScanner extends AsyncDisposable {
  /** One scan now; resolves with the number of tasks at risk. */
  scan: () => Promise<number>
}

export function startDeadlineScanner (options: { store: ReadModelStore, notifier: Notifier, instruments: Instruments, logger: Logger, policy: DeadlinePolicy, everyMs: number, now?: () => number }): DeadlineScanner {
  const { store, notifier, instruments, policy } = options
  const log = options.logger.child({ component: 'deadline-scanner' })
  const now = options.now ?? Date.now
  let running: Promise<number> | undefined

  async function scanOnce (): Promise<number> {
    const t = now()
    let atRisk = 0
    for (const key of await store.deadlinesBetween(t, t + policy.warnMs)) {
      const view = await store.getTask(key)
      if (view === undefined) continue
      const status = deadlineStatus(view, t, policy)
      if (status.kind !== 'warn') continue
      atRisk++
      await notifier.notify(deadlineNotification(view, status.deadline, status.remainingMs, t))
    }
    instruments.deadlineAtRisk.set(atRisk)
    return atRisk
  }

  const scan = async (): Promise<number> => {
    running ??= scanOnce().finally(() => { running = undefined })
    return await running
  }
  const timer = setInterval(() => {
    scan().catch((err: unknown) => log.warn({ err }, 'deadline scan failed'))
  }, options.everyMs)
  timer.unref()
  return {
    scan,
    [Symbol.asyncDispose]: async () => {
      clearInterval(timer)
      await running?.catch(() => {})
    }
  }
}
