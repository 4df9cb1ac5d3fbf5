// One root pino logger per process, JSON to stdout, secrets redacted.
import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

/** Paths whose values never reach a log line. */
export const redactPaths = [
  'password', 'token', 'secret', 'authorization', 'webhookUrl', 'clientSecret',
  '*.password', '*.token', '*.secret', '*.authorization', '*.Authorization', '*.webhookUrl', '*.clientSecret',
  '*.AUTOCAL_OMS_CLIENT_SECRET', '*.AUTOCAL_MATTERMOST_WEBHOOK_URL', '*.AUTOCAL_CONTROL_TOKENS', '*.AUTOCAL_INJECT_TOKENS',
  '*.AUTOCAL_AGENT_TOKEN', '*.AUTOCAL_DROPBOX_PASSWORD', '*.AUTOCAL_EXECUTOR_AGENT_TOKENS',
  '*.AUTOCAL_KAFKA_PASSWORD', '*.AUTOCAL_REDIS_PASSWORD', '*.sasl.password', 'config.*_PASSWORD',
  'headers.authorization', 'req.headers.authorization', 'config.*_TOKEN', 'config.*_TOKENS', 'config.*_SECRET'
]

export interface LoggerOptions {
  service: string
  level?: string
  /** Where lines go (stdout by default); tests pass an in-memory stream. */
  destination?: DestinationStream
  instance?: string
}

export function createLogger (options: LoggerOptions): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { service: options.service, instance: options.instance ?? `${process.pid}` },
    redact: { paths: redactPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: label => ({ level: label }) }
  }, options.destination)
}
