// Graceful shutdown. On SIGTERM/SIGINT: /readyz turns 503, the resources on
// the stack close in reverse order of opening (the consumer first: it stops
// between messages and commits what was handled), then the process exits 0.
// A second signal, or the grace deadline, exits 1 at once.
import type { Logger } from './logger.ts'

export const lifecycle = { stopping: false }

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
  const signal = await new Promise<NodeJS.Signals>(resolve => {
    for (const s of signals) process.once(s, () => resolve(s))
  })
  clearInterval(keepAlive)
  lifecycle.stopping = true
  logger.info({ signal, graceMs }, 'shutting down')
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
    logger.info('stopped')
    clearTimeout(deadline)
    process.exitCode = 0
    // a handle some library left open must not keep a stopped service alive
    setTimeout(() => process.exit(0), 500).unref()
  } catch (err) {
    logger.error({ err }, 'error while shutting down')
    process.exit(1)
  }
}
