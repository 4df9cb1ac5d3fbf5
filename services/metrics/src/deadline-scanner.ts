// Periodic scan of the prompt-hold deadlines: every task whose deadline falls
// within the warning threshold and that is not done gets one notification
// (deadline-near); every one whose deadline passed within the last hold period
// and that is still not done gets one more (deadline-missed). The counts are the
// gauges autocal_prompt_deadline_at_risk and autocal_prompt_deadline_missed.
import type { Logger } from '@autocal/runtime'
import { deadlineStatus, type DeadlinePolicy } from './domain/deadlines.ts'
import { deadlineMissedNotification, deadlineNotification } from './domain/notifications.ts'
import type { ReadModelStore } from './adapters/read-model-store.ts'
import type { Instruments } from './instruments.ts'
import type { Notifier } from './notifier.ts'

export interface DeadlineScanner extends AsyncDisposable {
  /** One scan now; resolves with the number of tasks at risk (use scanAll for the missed ones too). */
  scan: () => Promise<number>
  /** One scan now; resolves with the numbers of tasks at risk and of tasks that missed their hold. */
  scanAll: () => Promise<{ atRisk: number, missed: number }>
}

export function startDeadlineScanner (options: { store: ReadModelStore, notifier: Notifier, instruments: Instruments, logger: Logger, policy: DeadlinePolicy, everyMs: number, now?: () => number }): DeadlineScanner {
  const { store, notifier, instruments, policy } = options
  const log = options.logger.child({ component: 'deadline-scanner' })
  const now = options.now ?? Date.now
  let running: Promise<{ atRisk: number, missed: number }> | undefined

  async function scanOnce (): Promise<{ atRisk: number, missed: number }> {
    const t = now()
    let atRisk = 0
    let missed = 0
    for (const key of await store.deadlinesBetween(t - policy.holdMs, t + policy.warnMs)) {
      const view = await store.getTask(key)
      if (view === undefined) continue
      const status = deadlineStatus(view, t, policy)
      if (status.kind === 'warn') {
        atRisk++
        await notifier.notify(deadlineNotification(view, status.deadline, status.remainingMs, t))
      } else if (status.kind === 'missed') {
        missed++
        await notifier.notify(deadlineMissedNotification(view, status.deadline, t))
      }
    }
    instruments.deadlineAtRisk.set(atRisk)
    instruments.deadlineMissed.set(missed)
    return { atRisk, missed }
  }

  const scanAll = async (): Promise<{ atRisk: number, missed: number }> => {
    running ??= scanOnce().finally(() => { running = undefined })
    return await running
  }
  const scan = async (): Promise<number> => (await scanAll()).atRisk
  const timer = setInterval(() => {
    scan().catch((err: unknown) => log.warn({ err }, 'deadline scan failed'))
  }, options.everyMs)
  timer.unref()
  return {
    scan,
    scanAll,
    [Symbol.asyncDispose]: async () => {
      clearInterval(timer)
      await running?.catch(() => {})
    }
  }
}
