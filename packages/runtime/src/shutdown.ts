// Graceful shutdown. On SIGTERM/SIGINT: /readyz turns 503, the resources on
// the stack close in reverse order of opening (the consumer first: it stops
// between messages and commits what was handled), then the process exits 0.
// A second signal, or the grace deadline, exits 1 at once. A part that fails
// for good (failProcess, e.g. a consumer kafkajs will not restart) turns
// /healthz 503 and closes the stack the same way, then exits 1.
import type { Logger } from './logger.ts'

export const lifecycle: { stopping: boolean, failed: string | undefined } = { stopping: false, failed: undefined }

const failureListeners = new Set<(reason: string) => void>()

/**
 * Declares the process broken for good (`reason` says what failed): /healthz
 * answers 503 from now on (a supervisor restarts it) and, when the service
 * waits in closeOnSignal, the stack is closed gracefully and the process exits
 * 1. The first reason is kept.
 */
export function failProcess (reason: string): void {
  if (lifecycle.failed !== undefined) return
  lifecycle.failed = reason
  for (const listener of failureListeners) listener(reason)
}

export interface ShutdownOptions {
  logger: Logger
  graceMs: number
  signals?: NodeJS.Signals[]
}

/** Resolves when the stack is closed after a signal; exits the process. */
export async function closeOnSignal (stack: AsyncDisposableStack, options: ShutdownOptions): Promise<void> {
  const { logger, graceMs } = options
  const signals = options.signals ?? ['SIGTERM', 'SIGINT']
  // an open handle keeps the event loop alive while we wait (no socket may be open yet)
  const keepAlive = setInterval(() => {}, 1 << 30)
  const cause = await new Promise<{ signal: NodeJS.Signals } | { failure: string }>(resolve => {
    for (const s of signals) process.once(s, () => resolve({ signal: s }))
    if (lifecycle.failed !== undefined) resolve({ failure: lifecycle.failed })
    failureListeners.add(failure => resolve({ failure }))
  })
  clearInterval(keepAlive)
  lifecycle.stopping = true
  const exitCode = 'failure' in cause ? 1 : 0
  if ('failure' in cause) logger.error({ reason: cause.failure, graceMs }, 'failed for good: shutting down to be restarted')
  else logger.info({ signal: cause.signal, graceMs }, 'shutting down')
  for (const s of signals) {
    process.once(s, () => {
      logger.warn({ signal: s }, 'second signal: exiting now')
      process.exit(1)
    })
  }
  const deadline = setTimeout(() => {
    logger.error({ graceMs }, 'shutdown took longer than the grace period: exiting')
    process.exit(1)
  }, graceMs)
  deadline.unref()
  try {
    await stack.disposeAsync()
    logger.info({ exitCode }, 'stopped')
    clearTimeout(deadline)
    process.exitCode = exitCode
    // a handle some library left open must not keep a stopped service alive
    setTimeout(() => process.exit(exitCode), 500).unref()
  } catch (err) {
    logger.error({ err }, 'error while shutting down')
    process.exit(1)
  }
}
